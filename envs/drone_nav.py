"""The ``DroneNav`` Gymnasium environment: fly a quadrotor to a target by camera."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.airframe import GRAVITY, AirframeParams, Quadrotor, Wind
from envs.camera import Camera, CameraParams, ImageEffects, chase_pose, onboard_pose
from envs.config import asset, deep_update, load
from envs.controller import ControlParams, VelocityController
from envs.meshes import Palette
from envs.props import props_mesh, props_obstacles
from envs.quiet_import import import_pybullet
from envs.scene import Scene, SceneBuilder, resolve_scene
from envs.target import Target, TargetPose
from envs.tasks import Episode, make_task

p = import_pybullet()  # PyBullet without its banner on stderr

NEAREST_OBSTACLES = 8  # rows of info["obstacles"]
OBSTACLE_PAD = (math.inf, math.inf, 0.0, math.inf)  # an unused row of info["obstacles"]: x, y, reach, distance
NEAR_RADIUS = 6.0  # m, horizontal radius of the obstacles reported in info
STATE_SIZE = 10
PARKED = (0.0, 0.0, -100.0)  # where the drone's visual waits, out of sight, between chase frames


class DroneNavEnv(gym.Env):
    """Fly a small quadrotor through a procedural scene to a target, seeing only a camera.

    ## Description
    A Crazyflie-class quadrotor (PyBullet, 240 Hz, per-motor thrust and yaw torque, motor
    lag, drag, optional wind gusts) carries a forward camera. A cascaded controller turns
    body-velocity commands into motor speeds. The scene (a forest in ``summer``, ``fall``,
    ``winter``, ``spring``, or an ``urban`` street; modifiers ``dusk``, ``fog``,
    ``camera_noise``) is drawn per seed, and so is the task: reach the approach zone in
    front of a red sign (``fly_to_target``, ``range``, ``chain``, ``moving_target``,
    ``rotation``, ``occlusion``, ``hike``, ``loop``); some tasks stand occluders or decoys in
    the scene, solid like the trees.

    ## Action Space
    ``Box(-1, 1, (4,), float32)``: ``[vx, vy, vz, yaw_rate]`` in the heading frame of the
    drone (x forward, z up), scaled by ``control.max_speed_xy``, ``max_speed_z`` and
    ``max_yaw_rate`` of the drone config (2 m/s, 1 m/s, 1.5 rad/s by default). Actions
    outside the box are clipped; NaN or wrongly shaped actions raise ``ValueError``.

    ## Observation Space
    The onboard camera image, ``Box(0, 255, (H, W, 3), uint8)`` RGB: W x H = 128 x 72 by default
    (16:9, vertical field of view 50 degrees, forward-looking), rendered at the policy rate.
    With ``observation="image+state"`` a ``Dict`` with ``image`` and ``state`` (float32:
    body velocity, roll, pitch, yaw, body rates, height); policies need only the image.
    ``env.unwrapped.target_mask()`` gives the pixels of the current frame where the target is
    seen (for attention metrics; privileged, like ``info``).

    ## Rewards
    Progress toward the approach point (metres gained times ``reward.progress``), a
    per-step ``reward.time``, ``reward.waypoint`` for each intermediate target of a chain,
    ``reward.success`` on arrival, ``reward.collision`` or ``reward.out_of_bounds`` on failure.

    ## Starting State
    Hovering at rest, level, at the task's start (for ``fly_to_target``: 4 to 12 m in front
    of the target, with lateral and heading offsets, the target in view).

    ## Episode End
    Terminated on arrival in the last target's approach zone (``info["is_success"]`` is
    True), on a collision with anything (ground included) or on leaving the flight area.
    Truncated after the task's ``time_limit_s``.

    ## Arguments
    - ``scene``: scene name, optionally with modifiers (``"winter+fog"``), a mapping (a packaged
      scene's name with overrides, or a whole scene with a name of its own), or the path of a
      scene YAML of one's own (``"my_conf/scene/desert.yaml"``, a ``str`` or ``os.PathLike``).
    - ``task``: task name or mapping (``{"name": "range", "distance": 20}``).
    - ``drone``: airframe name in ``conf/drone/`` or mapping (``{"name": "cf2x", ...}``).
    - ``modifiers``: extra modifier names (``["dusk"]``).
    - ``camera``: overrides of the onboard camera (``{"width": 64, "height": 48}``).
    - ``policy_hz``: camera frames and actions per simulated second (default 15).
    - ``wind``: overrides of the wind gusts (``{"enabled": True}``).
    - ``observation``: ``"image"`` (default) or ``"image+state"``.
    - ``render_mode``: ``None`` or ``"rgb_array"`` (the chase camera).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(
        self,
        scene: str | Mapping | os.PathLike = "summer",
        task: str | Mapping = "fly_to_target",
        drone: str | Mapping = "cf2x",
        modifiers: Sequence[str] | str | None = None,
        camera: Mapping | None = None,
        policy_hz: float | None = None,
        wind: Mapping | None = None,
        observation: str = "image",
        render_mode: str | None = None,
    ):
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of {self.metadata['render_modes']}, got {render_mode!r}")
        if observation not in ("image", "image+state"):
            raise ValueError(f"observation must be 'image' or 'image+state', got {observation!r}")
        self.render_mode = render_mode
        self.observation_kind = observation
        cfg = load("drone", drone)
        overrides = {k: v for k, v in (("camera", camera), ("wind", wind)) if v}
        if policy_hz is not None:
            overrides["policy_hz"] = policy_hz
        self.drone_cfg = deep_update(cfg, overrides)
        self.scene_cfg = resolve_scene(scene, modifiers)
        self.airframe = AirframeParams.from_config(self.drone_cfg)
        self.control = ControlParams.from_config(self.drone_cfg["control"])
        physics_hz = int(self.airframe.physics_hz)
        rate = float(self.drone_cfg["policy_hz"])
        if not 0 < rate <= physics_hz:
            raise ValueError(f"policy_hz must be in (0, {physics_hz}], got {rate}")
        self.substeps = max(1, round(physics_hz / rate))
        self.physics_dt = 1.0 / physics_hz
        self.dt = self.substeps * self.physics_dt
        self.metadata = {**self.metadata, "render_fps": 1.0 / self.dt}
        self._check_every = max(1, round(physics_hz / float(self.drone_cfg["collision_check_hz"])))
        self.target = Target(load("task/target", (load("task", task))["target"]))
        self.task = make_task(task, self.target.center_height)
        self.camera = Camera(CameraParams.from_config(self.drone_cfg["camera"]))
        chase = self.drone_cfg["chase_camera"]
        self.chase_camera = Camera(CameraParams(int(chase["width"]), int(chase["height"]), float(chase["vfov_deg"]),
                                                0.05, self.camera.params.far))
        self.effects = ImageEffects(self.scene_cfg)
        self.light = self.scene_cfg["light"]

        h, w = self.camera.params.height, self.camera.params.width
        image_space = spaces.Box(0, 255, (h, w, 3), np.uint8)
        if observation == "image":
            self.observation_space = image_space
        else:
            self.observation_space = spaces.Dict({
                "image": image_space,
                "state": spaces.Box(-np.inf, np.inf, (STATE_SIZE,), np.float32),
            })
        self.action_space = spaces.Box(-1.0, 1.0, (4,), np.float32)

        # physics (drone and ground plane) and rendering (scene visuals) live in two DIRECT
        # clients, so that the many visual bodies cost the physics step nothing
        self.client = p.connect(p.DIRECT)
        self.render_client = p.connect(p.DIRECT)
        self._builder = SceneBuilder(self.scene_cfg)
        self.scene: Scene | None = None
        self._scene_seed: int | None = None  # the reset seed that built ``scene`` (None: unseeded)
        self._after_build: dict | None = None  # the random generator's state right after that build
        self.quad: Quadrotor | None = None
        self.controller = VelocityController(self.airframe, self.control)
        self.wind = Wind(self.drone_cfg["wind"], np.random.default_rng(0))
        self.episode: Episode | None = None
        # True: each onboard render also keeps the target's pixel mask (same render, same image;
        # see target_mask). Off by default; metrics that need the mask switch it on.
        self.track_target_mask = False
        self._target_mask: np.ndarray | None = None  # of the current onboard frame, None until known

    # ------------------------------------------------------------------ gymnasium API

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Draw a new layout and episode; returns the first image and the info.

        A reset with the same ``seed`` as the one that built the current scene keeps the scene's
        bodies (only the drone, target and state are reset) and gives the same episode as a
        fresh build, much faster: evaluations fly every policy on a layout before the next.
        """
        super().reset(seed=seed)
        cid, rid = self.client, self.render_client
        reuse = seed is not None and self.scene is not None and self._scene_seed == int(seed)
        p.resetSimulation(physicsClientId=cid)
        if not reuse:
            p.resetSimulation(physicsClientId=rid)
        p.setGravity(0, 0, -GRAVITY, physicsClientId=cid)
        p.setTimeStep(self.physics_dt, physicsClientId=cid)
        p.createMultiBody(0, p.createCollisionShape(p.GEOM_PLANE, physicsClientId=cid), physicsClientId=cid)
        rng = self.np_random
        self.episode = self.task.sample(rng, float(self.scene_cfg["layout"]["area_half_size"]))
        if reuse:  # the random numbers as the build left them
            rng.bit_generator.state = self._after_build
        else:
            palette = Palette()
            extra = {"target": self.target.mesh(palette)}
            if self.episode.props:  # the task's occluders and decoys: one body, solids among the obstacles
                extra["props"] = props_mesh(self.episode.props, palette)
            self.scene = self._builder.build(rid, rng, self.episode.keepouts, palette, extra=extra)
            if self.episode.props:
                self.scene.obstacles = self.scene.obstacles + props_obstacles(self.episode.props)
            self._drone_visual = p.loadURDF(str(asset(self.airframe.urdf)), PARKED, physicsClientId=rid)
            self._scene_seed = None if seed is None else int(seed)
            self._after_build = rng.bit_generator.state
        self.quad = Quadrotor(cid, self.airframe)
        self.quad.reset(self.episode.start_pos, self.episode.start_yaw)
        self.controller.reset(self.episode.start_yaw)
        self.wind.reset(rng)
        self.time_s = 0.0
        self.target_index = 0
        self.collided = False
        self.left_area = False
        self.succeeded = False
        self._place_target()
        self._near = None
        self._prev_distance = self._approach_distance(self.quad.state().pos_world)
        return self._observation(), self._info()

    def step(self, action):
        """Fly one policy period (``dt`` seconds) with ``action``."""
        if self.quad is None:
            raise RuntimeError("call reset() before step()")
        act = np.asarray(action, dtype=np.float64)
        if act.shape != (4,):
            raise ValueError(f"action must have shape (4,) [vx, vy, vz, yaw_rate], got shape {act.shape}")
        if not np.all(np.isfinite(act)):
            raise ValueError(f"action must be finite, got {act.tolist()}")
        act = np.clip(act, -1.0, 1.0)
        vel_cmd, yaw_rate = self.control.scale_action(act)
        vel_cmd = tuple(vel_cmd.tolist())
        quad, ctl, cid, dtp = self.quad, self.controller, self.client, self.physics_dt
        pos = quad.read()[0]
        # the obstacles the drone can reach in this step (and those reported in info after it)
        reach = (self.control.max_speed_xy + 2.0) * self.dt + self.airframe.collision_radius
        self._near = self.scene.obstacles.near(pos, NEAR_RADIUS + reach)
        near = self._near.near(pos, reach)
        target = self._current_target().pos_world
        if math.hypot(pos[0] - target[0], pos[1] - target[1]) < reach + self.target.radius + 1.0:
            near = near + self._target_obstacles
        check_near = len(near) > 0
        radius = self.airframe.collision_radius
        wind = None
        for k in range(self.substeps):
            pos, _, rot, vel, w_body = quad.read()
            rpm = ctl.step(rot, vel, w_body, vel_cmd, yaw_rate, dtp)
            if self.wind.enabled:
                wind = tuple(self.wind.step(dtp))
            quad.apply(rpm, rot, vel, dtp, wind)
            p.stepSimulation(physicsClientId=cid)
            if (k + 1) % self._check_every == 0 or k == self.substeps - 1:
                pos = quad.read()[0]
                if pos[2] <= radius or (check_near and near.distance(pos) <= radius):
                    self.collided = True
                    break
        self.time_s += self.dt
        self._place_target()
        state = quad.state()
        self.left_area = self.scene.out_of_bounds(state.pos_world)
        rw = self.task.reward
        reward = float(rw["time"])
        distance = self._approach_distance(state.pos_world)
        reward += float(rw["progress"]) * (self._prev_distance - distance)
        self._prev_distance = distance
        terminated = False
        if self.collided:
            reward += float(rw["collision"])
            terminated = True
        elif self.left_area:
            reward += float(rw["out_of_bounds"])
            terminated = True
        elif self.task.in_zone(state.pos_world, self._current_target()):
            if self.target_index + 1 < len(self.episode.targets):
                reward += float(rw["waypoint"])
                self.target_index += 1
                self._place_target()
                self._prev_distance = self._approach_distance(state.pos_world)
            else:
                reward += float(rw["success"])
                self.succeeded = True
                terminated = True
        truncated = not terminated and self.time_s >= self.task.time_limit_s - 1e-9
        return self._observation(state), reward, terminated, truncated, self._info(state)

    def render(self):
        """The chase camera image (``render_mode="rgb_array"``), else ``None``."""
        if self.render_mode != "rgb_array" or self.quad is None:
            return None
        state = self.quad.state()
        eye, forward, up = chase_pose(self.drone_cfg["chase_camera"], state.pos_world, state.yaw)
        rid = self.render_client
        p.resetBasePositionAndOrientation(self._drone_visual, state.pos_world.tolist(), state.quat.tolist(), physicsClientId=rid)
        image = self._render(self.chase_camera, eye, forward, up, rng=None)
        p.resetBasePositionAndOrientation(self._drone_visual, PARKED, (0, 0, 0, 1), physicsClientId=rid)
        return image

    def close(self):
        """Disconnect the PyBullet client and remove generated textures."""
        for name in ("client", "render_client"):
            cid = getattr(self, name, None)
            if cid is not None and p.isConnected(cid):
                p.resetSimulation(physicsClientId=cid)  # empty the worlds before letting go of them
                p.disconnect(cid)
            setattr(self, name, None)
        self.quad = None
        self.scene = None
        if getattr(self, "_builder", None) is not None:
            self._builder.close()
        super().close()

    def target_mask(self) -> np.ndarray:
        """The pixels of the current onboard frame where the target is seen (bool, H x W).

        From the renderer's segmentation (the target's body, occlusions included; fog and haze
        ignored); all False when the target is out of view or hidden. Kept from the frame's own
        render when ``track_target_mask`` is on, else rendered once more from the same pose.
        The onboard images are the same either way.
        """
        if self.quad is None:
            raise RuntimeError("call reset() before target_mask()")
        if self._target_mask is None:
            state = self.quad.state()
            eye, forward, up = onboard_pose(self.camera.params, state.pos_world, state.rot)
            prm = self.camera.params
            self.scene.cull(eye, forward, prm.half_fov_diag, prm.far)
            seg = self.camera.render_segmented(self.render_client, eye, forward, up, self.light)[2]
            self._target_mask = seg == self.scene.extra_bodies["target"]
        return self._target_mask.copy()

    # ------------------------------------------------------------------ helpers

    def _current_target(self) -> TargetPose:
        return self.task.target_pose(self.episode, self.target_index, self.time_s)

    def _place_target(self) -> None:
        pose = self._current_target()
        self._target_obstacles = self.target.obstacles(pose)
        pos, quat = self.target.body_pose(pose)
        p.resetBasePositionAndOrientation(self.scene.extra_bodies["target"], pos, quat, physicsClientId=self.render_client)

    def _target_distance(self, pos) -> float:
        return self._target_obstacles.distance(pos)

    def _approach_distance(self, pos) -> float:
        app = self._current_target().approach_point(self.task.approach_distance)
        return float(np.linalg.norm(np.asarray(pos) - app))

    def _render(self, camera: Camera, eye, forward, up, rng, keep_mask: bool = False) -> np.ndarray:
        prm = camera.params
        self.scene.cull(eye, forward, prm.half_fov_diag, prm.far)
        if keep_mask:
            rgb, depth, seg = camera.render_segmented(self.render_client, eye, forward, up, self.light)
            self._target_mask = seg == self.scene.extra_bodies["target"]
        else:
            rgb, depth = camera.render(self.render_client, eye, forward, up, self.light)
        self.scene.ground.set_pixel_angle(camera.pixel_angle)
        return self.effects.apply(rgb, depth, camera, eye, forward, up, self.light, self.scene.ground, rng)

    def _observation(self, state=None):
        state = self.quad.state() if state is None else state
        eye, forward, up = onboard_pose(self.camera.params, state.pos_world, state.rot)
        self._target_mask = None
        image = self._render(self.camera, eye, forward, up, self.np_random if self.effects.random else None,
                             keep_mask=self.track_target_mask)
        if self.observation_kind == "image":
            return image
        vec = np.concatenate([state.vel_body, state.rpy, state.ang_vel_body, [state.pos_world[2]]]).astype(np.float32)
        return {"image": image, "state": vec}

    def _info(self, state=None) -> dict:
        """Privileged truth for experts and metrics (fixed keys and shapes every step, no NaN)."""
        state = self.quad.state() if state is None else state
        pose = self._current_target()
        app = pose.approach_point(self.task.approach_distance)
        rel = pose.pos_world - state.pos_world
        bearing = (math.atan2(rel[1], rel[0]) - state.yaw + math.pi) % (2 * math.pi) - math.pi
        # nearest obstacles (from those found around the drone at the start of this step)
        near = self._near if self._near is not None else self.scene.obstacles.near(state.pos_world, NEAR_RADIUS)
        table = np.tile(OBSTACLE_PAD, (NEAREST_OBSTACLES, 1))  # rows past the count: far away, no reach
        count = 0
        nearest = math.inf
        if len(near):
            dist = near.distances(state.pos_world)
            foot = near.footprints()
            order = np.argsort(dist)[:NEAREST_OBSTACLES]
            order = order[np.hypot(*(foot[order, :2] - state.pos_world[:2]).T) - foot[order, 2] <= NEAR_RADIUS]
            count = len(order)
            table[:count, :3] = foot[order]
            table[:count, 3] = dist[order]
            nearest = float(dist.min())
        return {
            "is_success": bool(self.succeeded),
            "collision": bool(self.collided),
            "out_of_bounds": bool(self.left_area),
            "time_s": float(self.time_s),
            "drone": {
                "pos_world": state.pos_world.copy(),
                "vel_world": state.vel_world.copy(),
                "vel_body": state.vel_body,
                "rpy": state.rpy,
                "quat": state.quat.copy(),
                "ang_vel_body": state.ang_vel_body.copy(),
                "rpm": np.asarray(state.rpm, dtype=float),
            },
            "target": {
                "pos_world": pose.pos_world.copy(),
                "yaw": float(pose.yaw),
                "approach_world": app,
                "index": int(self.target_index),
                "count": len(self.episode.targets),
            },
            "distance_to_target": float(np.linalg.norm(rel)),
            "distance_to_approach": float(np.linalg.norm(app - state.pos_world)),
            "bearing_to_target": float(bearing),
            "nearest_obstacle_distance": min(nearest, self._target_distance(state.pos_world)),
            "obstacles": table,
            "obstacles_count": count,
        }
