"""The privileged expert: the demonstrator that behaviour cloning copies.

It reads the privileged truth (the ``info`` of :class:`envs.drone_nav.DroneNavEnv`: drone
state, target pose) and the scene's analytic obstacle geometry, never the image, so it flies
the same way in every season. Each step it

1. aims at the approach point of the current target (leading a moving target by its
   estimated velocity), with a speed profile that cruises far away and brakes to a stop at the
   approach point (``min(cruise, sqrt(2 a d), k d)``);
2. when a task's prop (an occluder, a decoy) stands on the straight way, aims beside it, on the
   side it chose when it first met it, so that a wide flat board is passed round rather than
   slid along to and fro (tasks without props are flown exactly as before);
3. deflects that velocity around nearby surfaces (obstacles, the target's sign and post): the
   part of the velocity toward a surface is limited in proportion to the clearance and turned
   into a slide along it, so it goes around rather than stops;
4. turns to keep the target at the image centre (yaw rate proportional to its bearing);
5. limits how fast the command changes (bounded acceleration) and bounds it, then scales it
   into the env's action ``[vx, vy, vz, yaw_rate]`` (heading frame, ``[-1, 1]``).

Usage::

    env = DroneNavEnv(scene="summer", task="fly_to_target")
    expert = Expert(env)
    obs, info = env.reset(seed=0)
    expert.reset()
    while True:
        obs, reward, terminated, truncated, info = env.step(expert.act(info))
        if terminated or truncated:
            break
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np

from envs.config import load
from envs.obstacles import Obstacles
from envs.target import TargetPose

_FD_STEP = 0.02  # m, finite-difference step of the clearance gradient
_LOOKAHEAD_SAMPLES = 4  # points checked along the path ahead


@dataclass(frozen=True)
class ExpertParams:
    """How the expert flies (``conf/expert/<name>.yaml``; SI units)."""

    cruise_speed: float
    brake_accel: float
    response_time: float
    goal_gain: float
    lead_time: float
    target_velocity_smoothing: float
    climb_gain: float
    max_climb_speed: float
    yaw_gain: float
    max_yaw_rate: float
    avoid_distance: float
    stop_distance: float
    push_speed: float
    lookahead: float
    ground_clearance: float
    detour_margin: float
    max_accel_xy: float
    max_accel_z: float
    max_yaw_accel: float

    @classmethod
    def from_config(cls, cfg: Mapping) -> "ExpertParams":
        """Build from the nested mapping of ``conf/expert/<name>.yaml``."""
        flat = {k: v for k, v in cfg.items() if k not in ("name", "avoid", "smoothing")}
        avoid, smooth = dict(cfg.get("avoid") or {}), dict(cfg.get("smoothing") or {})
        flat.update({"avoid_distance": avoid.get("distance"), "stop_distance": avoid.get("stop_distance"),
                     "push_speed": avoid.get("push_speed"), "lookahead": avoid.get("lookahead"),
                     "ground_clearance": avoid.get("ground_clearance"), "detour_margin": avoid.get("detour_margin")})
        flat.update(smooth)
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(flat) - names)
        if unknown:
            raise ValueError(f"expert config: unknown keys {', '.join(unknown)}")
        missing = sorted(n for n in names if flat.get(n) is None)
        if missing:
            raise ValueError(f"expert config lacks keys: {', '.join(missing)}")
        params = cls(**{k: float(v) for k, v in flat.items()})
        if params.stop_distance >= params.avoid_distance:
            raise ValueError(f"expert config: avoid.stop_distance ({params.stop_distance}) must be less than "
                             f"avoid.distance ({params.avoid_distance})")
        for name in ("cruise_speed", "brake_accel", "goal_gain", "max_yaw_rate", "max_accel_xy", "max_accel_z",
                     "max_yaw_accel", "target_velocity_smoothing"):
            if getattr(params, name) <= 0:
                raise ValueError(f"expert config: {name} must be positive, got {getattr(params, name)}")
        return params


class Expert:
    """Privileged, season-blind demonstrator for :class:`envs.drone_nav.DroneNavEnv`.

    ``Expert(env, params="default")``: ``params`` is a name in ``conf/expert/``, a mapping
    (merged over the named file when it has a ``name``) or an :class:`ExpertParams`.
    Call :meth:`reset` after each ``env.reset`` and :meth:`act` with each step's ``info``.
    """

    def __init__(self, env, params: str | Mapping | ExpertParams | None = "default"):
        self.env = env.unwrapped
        if isinstance(params, ExpertParams):
            self.params = params
        else:
            self.params = ExpertParams.from_config(load("expert", params, default="default"))
        ctl = self.env.control
        self._scale = np.array([ctl.max_speed_xy, ctl.max_speed_xy, ctl.max_speed_z, ctl.max_yaw_rate])
        self._body_radius = float(self.env.airframe.collision_radius)
        self.reset()

    def reset(self) -> None:
        """Forget the previous episode: the command starts from hover."""
        self._vel_cmd = np.zeros(3)  # world frame, m/s
        self._yaw_rate = 0.0  # rad/s
        self._last_target: tuple[int, float, np.ndarray] | None = None  # (index, time, position)
        self._target_vel = np.zeros(3)
        self._target_obstacles: tuple[tuple, Obstacles] | None = None
        self._detour_sides: dict[int, float] = {}  # prop index -> the side it passes it on (+1 left, -1 right)

    # ------------------------------------------------------------------ the policy

    def act(self, info: Mapping) -> np.ndarray:
        """The action for the state described by ``info`` (float32, shape (4,), in [-1, 1])."""
        prm, dt = self.params, float(self.env.dt)
        pos = np.asarray(info["drone"]["pos_world"], dtype=float)
        yaw = float(info["drone"]["rpy"][2])
        target = info["target"]
        self._track_target(target, float(info["time_s"]))

        vel_now = np.asarray(info["drone"]["vel_world"], dtype=float)
        vel = self._goal_velocity(pos, vel_now, np.asarray(target["approach_world"], dtype=float))
        vel = self._detour(pos, vel)
        vel = self._avoid(pos, vel, target)
        yaw_rate = float(np.clip(prm.yaw_gain * float(info["bearing_to_target"]), -prm.max_yaw_rate, prm.max_yaw_rate))

        # bounded rate of change: smooth labels the camera can explain
        dv = vel - self._vel_cmd
        step_xy = prm.max_accel_xy * dt
        norm_xy = math.hypot(dv[0], dv[1])
        if norm_xy > step_xy:
            dv[:2] *= step_xy / norm_xy
        dv[2] = float(np.clip(dv[2], -prm.max_accel_z * dt, prm.max_accel_z * dt))
        self._vel_cmd = self._vel_cmd + dv
        step_yaw = prm.max_yaw_accel * dt
        self._yaw_rate += float(np.clip(yaw_rate - self._yaw_rate, -step_yaw, step_yaw))

        c, s = math.cos(yaw), math.sin(yaw)
        vx, vy, vz = self._vel_cmd
        heading = np.array([c * vx + s * vy, -s * vx + c * vy, vz, self._yaw_rate])
        return np.clip(heading / self._scale, -1.0, 1.0).astype(np.float32)

    # ------------------------------------------------------------------ parts

    def _track_target(self, target: Mapping, time_s: float) -> None:
        """Low-pass estimate of the current target's velocity (world frame, m/s)."""
        index, pos = int(target["index"]), np.asarray(target["pos_world"], dtype=float)
        last = self._last_target
        if last is not None and last[0] == index and time_s > last[1]:
            raw = (pos - last[2]) / (time_s - last[1])
            alpha = 1.0 - math.exp(-(time_s - last[1]) / self.params.target_velocity_smoothing)
            self._target_vel = self._target_vel + alpha * (raw - self._target_vel)
        elif last is None or last[0] != index:
            self._target_vel = np.zeros(3)
        self._last_target = (index, time_s, pos)

    def _goal_velocity(self, pos: np.ndarray, vel_now: np.ndarray, approach: np.ndarray) -> np.ndarray:
        """Velocity toward the (led) approach point: cruise, then brake to a stop on it."""
        prm = self.params
        goal = approach + self._target_vel * prm.lead_time
        d = goal - pos
        dist = math.hypot(d[0], d[1])
        # brake for where the drone will be once the velocity loop has followed the command
        closing = max(0.0, float((vel_now[:2] - self._target_vel[:2]) @ d[:2]) / max(dist, 1e-9))
        margin = max(0.0, dist - closing * prm.response_time)
        speed = min(prm.cruise_speed, math.sqrt(2.0 * prm.brake_accel * margin), prm.goal_gain * dist)
        vel = np.zeros(3)
        if dist > 1e-9:
            vel[:2] = d[:2] / dist * speed
        vel[:2] += self._target_vel[:2]
        height = max(goal[2], prm.ground_clearance)
        vel[2] = float(np.clip(prm.climb_gain * (height - pos[2]), -prm.max_climb_speed, prm.max_climb_speed))
        return vel

    def _detour(self, pos: np.ndarray, vel: np.ndarray) -> np.ndarray:
        """Turn the horizontal velocity toward a point beside the nearest prop on the way, if any."""
        episode = getattr(self.env, "episode", None)
        props = getattr(episode, "props", None)
        speed = math.hypot(vel[0], vel[1])
        if not props or speed < 1e-9:
            return vel
        ahead = vel[:2] / speed
        left = np.array([-ahead[1], ahead[0]])
        best: tuple[float, int, float, float] | None = None  # (distance along, index, lateral, room)
        for k, prop in enumerate(props):
            rel = np.array([prop.x - pos[0], prop.y - pos[1]])
            along, lateral = float(rel @ ahead), float(rel @ left)
            room = prop.reach + self._body_radius + self.params.detour_margin
            if along > 0.0 and abs(lateral) < room and math.hypot(along, lateral) > room * 0.5:
                if best is None or along < best[0]:
                    best = (along, k, lateral, room)
        if best is None:
            return vel
        along, k, lateral, room = best
        side = self._detour_sides.setdefault(k, -1.0 if lateral > 0 else 1.0)  # the nearer way round
        aim = np.array([props[k].x - pos[0], props[k].y - pos[1]]) + side * left * room
        out = vel.copy()
        out[:2] = aim / (float(np.linalg.norm(aim)) + 1e-9) * speed
        return out

    def _obstacles_near(self, pos: np.ndarray, radius: float, target: Mapping) -> Obstacles:
        """Scene obstacles within ``radius`` (horizontal) plus the current target's solids."""
        key = (int(target["index"]), tuple(np.round(np.asarray(target["pos_world"], dtype=float), 6)))
        if self._target_obstacles is None or self._target_obstacles[0] != key:
            pose = TargetPose(np.asarray(target["pos_world"], dtype=float), float(target["yaw"]))
            self._target_obstacles = (key, self.env.target.obstacles(pose))
        return self.env.scene.obstacles.near(pos, radius) + self._target_obstacles[1]

    def _clearance(self, obstacles: Obstacles, point: np.ndarray) -> tuple[float, np.ndarray]:
        """Distance from the drone's body to the nearest surface at ``point`` and its gradient."""
        if len(obstacles) == 0:
            return math.inf, np.zeros(3)
        pts = point + np.concatenate([np.zeros((1, 3)), _FD_STEP * np.eye(3), -_FD_STEP * np.eye(3)])
        d = np.array([obstacles.distance(q) for q in pts]) - self._body_radius
        grad = (d[1:4] - d[4:7]) / (2 * _FD_STEP)
        norm = float(np.linalg.norm(grad))
        return float(d[0]), (grad / norm if norm > 1e-9 else np.zeros(3))

    def _avoid(self, pos: np.ndarray, vel: np.ndarray, target: Mapping) -> np.ndarray:
        """Deflect ``vel`` around the surfaces near the drone and along its path."""
        prm = self.params
        reach = prm.avoid_distance + prm.cruise_speed * prm.lookahead + 1.0
        obstacles = self._obstacles_near(pos, reach, target)
        if len(obstacles) == 0:
            return vel
        vel = vel.copy()
        # the nearest surface around the drone, then the nearest one along the path ahead
        checks = [self._clearance(obstacles, pos)]
        for k in range(1, _LOOKAHEAD_SAMPLES + 1):
            ahead = pos + vel * (prm.lookahead * k / _LOOKAHEAD_SAMPLES)
            clear, normal = self._clearance(obstacles, ahead)
            # a surface met later along the path allows more speed toward it now
            checks.append((clear + float(np.linalg.norm(ahead - pos)), normal))
        span = prm.avoid_distance - prm.stop_distance
        goal_dir = vel[:2] / (np.linalg.norm(vel[:2]) + 1e-9)
        for clear, normal in checks:
            if clear >= prm.avoid_distance or not normal.any():
                continue
            share = float(np.clip((clear - prm.stop_distance) / span, 0.0, 1.0))
            toward = -float(vel @ normal)  # speed toward the surface
            allowed = prm.cruise_speed * share
            if toward > allowed:
                excess = toward - allowed
                vel += excess * normal
                # slide along the surface, on the side the goal lies, instead of stopping
                side = np.array([-normal[1], normal[0], 0.0])
                side_norm = float(np.linalg.norm(side))
                if side_norm > 1e-9:
                    side /= side_norm
                    sign = 1.0 if float(side[:2] @ goal_dir) >= 0.0 else -1.0
                    vel += sign * excess * side
            if clear < prm.stop_distance + 0.5 * span:
                vel += prm.push_speed * (1.0 - clear / (prm.stop_distance + 0.5 * span)) * normal
        return vel
