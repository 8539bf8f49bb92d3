"""Cascaded low-level controller: body velocity and yaw rate -> motor speeds.

velocity (PI, heading frame) -> thrust vector and attitude -> body rates (P on the
attitude error on SO(3)) -> angular acceleration (P on the rate error) -> per-motor
thrusts through the mixer -> motor speeds. It runs at the physics rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from envs.airframe import GRAVITY, AirframeParams, QuadState
from envs.config import dataclass_from_config


@dataclass(frozen=True)
class ControlParams:
    """Gains and limits of the cascade (``control:`` in ``conf/drone/<name>.yaml``)."""

    max_speed_xy: float
    max_speed_z: float
    max_yaw_rate: float
    max_tilt_deg: float
    vel_kp: tuple[float, float, float]
    vel_ki: tuple[float, float, float]
    vel_i_limit: float
    att_kp: tuple[float, float, float]
    rate_kp: tuple[float, float, float]
    max_rate: tuple[float, float, float]
    max_yaw_lead: float

    @classmethod
    def from_config(cls, cfg: Mapping) -> "ControlParams":
        """Build from the ``control:`` mapping."""
        return dataclass_from_config(cls, cfg, "drone control config")

    def scale_action(self, action: np.ndarray) -> tuple[np.ndarray, float]:
        """Map a normalised action in [-1, 1]^4 to (vel_body m/s, yaw_rate rad/s)."""
        vel_body = np.array([action[0] * self.max_speed_xy, action[1] * self.max_speed_xy, action[2] * self.max_speed_z])
        return vel_body, float(action[3]) * self.max_yaw_rate


class VelocityController:
    """Tracks ``[vx, vy, vz]`` in the heading frame (x forward, z up) and a yaw rate."""

    def __init__(self, airframe: AirframeParams, params: ControlParams):
        self.airframe = airframe
        self.params = params
        self._kp = tuple(map(float, params.vel_kp))
        self._ki = tuple(map(float, params.vel_ki))
        self._att_kp = tuple(map(float, params.att_kp))
        self._rate_kp = tuple(map(float, params.rate_kp))
        self._max_rate = tuple(map(float, params.max_rate))
        self._inertia = tuple(map(float, airframe.inertia))
        self._drag_over_mass = tuple(float(d) / airframe.mass for d in airframe.drag)
        self._max_tilt_tan = math.tan(math.radians(params.max_tilt_deg))
        self._max_yaw_lead = float(params.max_yaw_lead)
        pos = airframe.motor_positions_body
        mix = np.stack([np.ones(4), pos[:, 1], -pos[:, 0], np.asarray(airframe.motor_spin) * airframe.km / airframe.kf])
        # [thrust, tau_x, tau_y, tau_z] -> per-motor thrust
        self._unmix_rows = tuple(tuple(map(float, row)) for row in np.linalg.inv(mix))
        self._max_motor_thrust = airframe.kf * airframe.max_rpm**2
        self.reset(0.0)

    def reset(self, yaw: float) -> None:
        """Clear the integrators and hold heading ``yaw``."""
        self._integral = [0.0, 0.0, 0.0]
        self.yaw_des = float(yaw)

    def __call__(self, state: QuadState, vel_cmd_body: np.ndarray, yaw_rate_cmd: float, dt: float) -> np.ndarray:
        """Motor speed commands (RPM, shape (4,)) for one control period ``dt``."""
        rot = tuple(state.rot.ravel())
        return np.array(self.step(rot, tuple(state.vel_world), tuple(state.ang_vel_body),
                                  tuple(vel_cmd_body), float(yaw_rate_cmd), dt))

    def step(self, rot: tuple, vel_world: tuple, ang_vel_body: tuple, vel_cmd_body: tuple,
             yaw_rate_cmd: float, dt: float) -> list[float]:
        """Scalar core of the cascade (the physics loop calls it 240 times a second).

        ``rot`` is the body-to-world rotation, row-major (9 floats). Returns 4 RPMs.
        """
        prm, af = self.params, self.airframe
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = rot
        # velocity loop in the heading frame (yaw only): vz is vertical
        yaw = math.atan2(r10, r00)
        cy, sy = math.cos(yaw), math.sin(yaw)
        vx, vy, vz = vel_cmd_body
        cmd = (cy * vx - sy * vy, sy * vx + cy * vy, vz)
        acc = [0.0, 0.0, 0.0]
        lim = prm.vel_i_limit
        for i in range(3):
            err = cmd[i] - vel_world[i]
            self._integral[i] = min(lim, max(-lim, self._integral[i] + self._ki[i] * err * dt))
            # PI plus feed-forward of the drag at the commanded speed
            acc[i] = self._kp[i] * err + self._integral[i] + self._drag_over_mass[i] * cmd[i]
        ax, ay, az = acc[0], acc[1], max(acc[2] + GRAVITY, 0.2 * GRAVITY)
        # tilt limit: shrink the horizontal part
        horiz = math.hypot(ax, ay)
        max_horiz = az * self._max_tilt_tan
        if horiz > max_horiz:
            ax, ay = ax * max_horiz / horiz, ay * max_horiz / horiz
        norm = math.sqrt(ax * ax + ay * ay + az * az)
        zx, zy, zz = ax / norm, ay / norm, az / norm
        # desired heading: integrate the yaw-rate command, kept near the actual yaw
        yaw_err = (self.yaw_des + yaw_rate_cmd * dt - yaw + math.pi) % (2.0 * math.pi) - math.pi
        yaw_err = min(self._max_yaw_lead, max(-self._max_yaw_lead, yaw_err))
        self.yaw_des = yaw + yaw_err
        cd, sd = math.cos(self.yaw_des), math.sin(self.yaw_des)
        # y_des = z_des x (cos, sin, 0), normalised; x_des = y_des x z_des
        yx, yy, yz = -zz * sd, zz * cd, zx * sd - zy * cd
        n = math.sqrt(yx * yx + yy * yy + yz * yz)
        yx, yy, yz = yx / n, yy / n, yz / n
        xx, xy, xz = yy * zz - yz * zy, yz * zx - yx * zz, yx * zy - yy * zx
        # E = R_d^T R; attitude error vee(E - E^T) / 2
        e01 = xx * r01 + xy * r11 + xz * r21
        e02 = xx * r02 + xy * r12 + xz * r22
        e10 = yx * r00 + yy * r10 + yz * r20
        e12 = yx * r02 + yy * r12 + yz * r22
        e20 = zx * r00 + zy * r10 + zz * r20
        e21 = zx * r01 + zy * r11 + zz * r21
        e_rot = (0.5 * (e21 - e12), 0.5 * (e02 - e20), 0.5 * (e10 - e01))
        # feed-forward of the yaw rate: R^T z_des * yaw_rate
        ff = (yaw_rate_cmd * e20, yaw_rate_cmd * e21, yaw_rate_cmd * (zx * r02 + zy * r12 + zz * r22))
        jx, jy, jz = self._inertia
        wx, wy, wz = ang_vel_body
        omega = (wx, wy, wz)
        torque = [0.0, 0.0, 0.0]
        for i in range(3):
            rate_des = min(self._max_rate[i], max(-self._max_rate[i], -self._att_kp[i] * e_rot[i] + ff[i]))
            torque[i] = self._inertia[i] * self._rate_kp[i] * (rate_des - omega[i])
        # gyroscopic term omega x (J omega)
        torque[0] += wy * jz * wz - wz * jy * wy
        torque[1] += wz * jx * wx - wx * jz * wz
        torque[2] += wx * jy * wy - wy * jx * wx
        thrust = af.mass * (ax * r02 + ay * r12 + az * r22)
        wrench = (thrust, torque[0], torque[1], torque[2])
        rpm = []
        for row in self._unmix_rows:
            f = row[0] * wrench[0] + row[1] * wrench[1] + row[2] * wrench[2] + row[3] * wrench[3]
            f = min(self._max_motor_thrust, max(0.0, f))
            rpm.append(math.sqrt(f / af.kf))
        return rpm
