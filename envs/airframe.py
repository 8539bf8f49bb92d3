"""Quadrotor airframe: parameters from ``conf/drone/`` and its PyBullet body.

Forces are applied per motor (thrust ``kf * rpm^2`` at each motor position, reaction
torque ``km * rpm^2`` about body z), behind a first-order motor lag, with linear drag
against the air (optionally moving: wind gusts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from envs.config import asset, dataclass_from_config, load
from envs.quiet_import import import_pybullet

p = import_pybullet()  # PyBullet without its banner on stderr

GRAVITY = 9.81  # m/s^2


@dataclass(frozen=True)
class AirframeParams:
    """Physical figures of a quadrotor (SI units, RPM for motor speeds)."""

    name: str
    urdf: str
    mass: float
    arm: float
    inertia: tuple[float, float, float]
    kf: float
    km: float
    thrust_to_weight: float
    min_rpm: float
    motor_time_constant: float
    motor_angles_deg: tuple[float, ...]
    motor_spin: tuple[int, ...]
    drag: tuple[float, float, float]
    collision_radius: float
    physics_hz: int

    @classmethod
    def from_config(cls, cfg: Mapping) -> "AirframeParams":
        """Build from a ``conf/drone/<name>.yaml`` mapping (extra keys are ignored)."""
        return dataclass_from_config(cls, cfg, f"drone config '{cfg.get('name', '?')}'")

    @classmethod
    def load(cls, spec: str | Mapping = "cf2x") -> "AirframeParams":
        """Load a named airframe from ``conf/drone/`` (or a mapping)."""
        return cls.from_config(load("drone", spec))

    @property
    def weight(self) -> float:
        """Weight in newtons."""
        return self.mass * GRAVITY

    @property
    def max_rpm(self) -> float:
        """Motor speed at which the four motors give ``thrust_to_weight`` times the weight."""
        return math.sqrt(self.thrust_to_weight * self.weight / (4.0 * self.kf))

    @property
    def hover_rpm(self) -> float:
        """Motor speed at which the four motors carry the weight."""
        return math.sqrt(self.weight / (4.0 * self.kf))

    @property
    def motor_positions_body(self) -> np.ndarray:
        """Motor positions in the body frame, shape (4, 3), metres."""
        angles = np.radians(self.motor_angles_deg)
        return np.stack([self.arm * np.cos(angles), self.arm * np.sin(angles), np.zeros_like(angles)], axis=1)


@dataclass
class QuadState:
    """Kinematic state of the drone; ``rot`` maps body to world vectors."""

    pos_world: np.ndarray
    quat: np.ndarray  # x, y, z, w
    rot: np.ndarray  # (3, 3)
    vel_world: np.ndarray
    ang_vel_body: np.ndarray
    rpm: np.ndarray = field(default_factory=lambda: np.zeros(4))

    @property
    def vel_body(self) -> np.ndarray:
        """Velocity in the body frame."""
        return self.rot.T @ self.vel_world

    @property
    def yaw(self) -> float:
        """Heading (rad), angle of body x in the world xy-plane."""
        return math.atan2(self.rot[1, 0], self.rot[0, 0])

    @property
    def rpy(self) -> np.ndarray:
        """Roll, pitch, yaw (rad)."""
        return np.array(p.getEulerFromQuaternion(self.quat))


class Wind:
    """Ornstein-Uhlenbeck wind gusts around a mean wind (world frame, m/s)."""

    def __init__(self, cfg: Mapping, rng: np.random.Generator):
        self.enabled = bool(cfg.get("enabled", False))
        self.mean = np.asarray(cfg.get("mean_world", (0.0, 0.0, 0.0)), dtype=float)
        self.std = float(cfg.get("gust_std", 0.0))
        self.tau = float(cfg.get("gust_time_constant", 1.0))
        self.rng = rng
        self.vel_world = self.mean.copy() if self.enabled else np.zeros(3)

    def reset(self, rng: np.random.Generator) -> None:
        """Start from a stationary draw around the mean."""
        self.rng = rng
        if self.enabled:
            self.vel_world = self.mean + self.std * rng.standard_normal(3)

    def step(self, dt: float) -> np.ndarray:
        """Advance by ``dt`` seconds and return the wind velocity."""
        if self.enabled:
            decay = math.exp(-dt / self.tau)
            noise = self.std * math.sqrt(1.0 - decay * decay) * self.rng.standard_normal(3)
            self.vel_world = self.mean + decay * (self.vel_world - self.mean) + noise
        return self.vel_world


class Quadrotor:
    """A quadrotor body in one PyBullet client, driven by per-motor speed commands."""

    def __init__(self, client: int, params: AirframeParams):
        self.client = client
        self.params = params
        self.body = p.loadURDF(str(asset(params.urdf)), physicsClientId=client)
        p.changeDynamics(
            self.body, -1, mass=params.mass, localInertiaDiagonal=list(params.inertia),
            linearDamping=0.0, angularDamping=0.0, physicsClientId=client,
        )
        self._motor_pos = [tuple(m) for m in params.motor_positions_body]
        self._spin_km = tuple(float(s) * params.km for s in params.motor_spin)
        self._drag = tuple(map(float, params.drag))
        self._alpha_dt, self._alpha = 0.0, 0.0
        self.rpm = [params.hover_rpm] * 4

    def reset(self, pos_world: np.ndarray, yaw: float) -> None:
        """Place the drone level at ``pos_world`` heading ``yaw``, at rest, motors at hover."""
        quat = p.getQuaternionFromEuler((0.0, 0.0, float(yaw)))
        p.resetBasePositionAndOrientation(self.body, list(map(float, pos_world)), quat, physicsClientId=self.client)
        p.resetBaseVelocity(self.body, (0, 0, 0), (0, 0, 0), physicsClientId=self.client)
        self.rpm = [self.params.hover_rpm] * 4

    def read(self) -> tuple[tuple, tuple, tuple, tuple, tuple]:
        """Raw state as tuples: pos_world, quat, rot (row-major 9), vel_world, ang_vel_body."""
        cid = self.client
        pos, quat = p.getBasePositionAndOrientation(self.body, physicsClientId=cid)
        vel, w = p.getBaseVelocity(self.body, physicsClientId=cid)
        r = p.getMatrixFromQuaternion(quat)
        ang_vel_body = (
            r[0] * w[0] + r[3] * w[1] + r[6] * w[2],
            r[1] * w[0] + r[4] * w[1] + r[7] * w[2],
            r[2] * w[0] + r[5] * w[1] + r[8] * w[2],
        )
        return pos, quat, r, vel, ang_vel_body

    def state(self) -> QuadState:
        """The current state as numpy arrays."""
        pos, quat, r, vel, w_body = self.read()
        return QuadState(np.array(pos), np.array(quat), np.array(r).reshape(3, 3), np.array(vel),
                         np.array(w_body), np.array(self.rpm))

    def apply(self, rpm_cmd, rot: tuple, vel_world: tuple, dt: float, wind_world: tuple | None = None) -> None:
        """Advance the motors by ``dt`` toward ``rpm_cmd`` and apply forces for the next physics step.

        ``rot`` is the body-to-world rotation, row-major (9 floats).
        """
        prm = self.params
        cid, body = self.client, self.body
        lo, hi = prm.min_rpm, prm.max_rpm
        yaw_torque = 0.0
        rpm = self.rpm
        for i in range(4):
            target = min(hi, max(lo, rpm_cmd[i]))
            rpm[i] += self._lag_alpha(dt) * (target - rpm[i])
            sq = rpm[i] * rpm[i]
            p.applyExternalForce(body, -1, (0.0, 0.0, prm.kf * sq), self._motor_pos[i], p.LINK_FRAME, physicsClientId=cid)
            yaw_torque += self._spin_km[i] * sq
        r00, r01, r02, r10, r11, r12, r20, r21, r22 = rot
        p.applyExternalTorque(body, -1, (r02 * yaw_torque, r12 * yaw_torque, r22 * yaw_torque), p.WORLD_FRAME,
                              physicsClientId=cid)
        # linear drag against the air, in the body frame
        ux, uy, uz = vel_world
        if wind_world is not None:
            ux, uy, uz = ux - wind_world[0], uy - wind_world[1], uz - wind_world[2]
        dx, dy, dz = self._drag
        bx = -dx * (r00 * ux + r10 * uy + r20 * uz)
        by = -dy * (r01 * ux + r11 * uy + r21 * uz)
        bz = -dz * (r02 * ux + r12 * uy + r22 * uz)
        p.applyExternalForce(body, -1, (bx, by, bz), (0.0, 0.0, 0.0), p.LINK_FRAME, physicsClientId=cid)

    def _lag_alpha(self, dt: float) -> float:
        """Fraction of the gap to the commanded speed closed in ``dt`` (first-order lag)."""
        if dt != self._alpha_dt:
            self._alpha_dt = dt
            self._alpha = 1.0 - math.exp(-dt / self.params.motor_time_constant)
        return self._alpha
