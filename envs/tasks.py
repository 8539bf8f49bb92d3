"""Tasks: where the drone starts, where the targets stand (and move), and the keep-outs.

Each task is a small class with ``sample(rng, area_half_size) -> Episode`` and
``target_pose(episode, index, time_s) -> TargetPose``; its figures come from
``conf/task/<name>.yaml``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from envs.config import load
from envs.props import Prop, draw_kind, draw_size
from envs.scene import Keepouts
from envs.target import TargetPose

MAX_TRIES = 100


@dataclass
class Episode:
    """One drawn episode: the start, the targets (in the order to reach them) and the props
    the task stands in the scene (occluders, decoys; none for most tasks)."""

    start_pos: np.ndarray
    start_yaw: float
    targets: list[TargetPose]
    keepouts: Keepouts = field(default_factory=Keepouts)
    phase: float = 0.0  # rad, where a moving target starts on its path
    props: list[Prop] = field(default_factory=list)


def _u(rng: np.random.Generator, value) -> float:
    """A draw from ``[lo, hi]``, or the value itself when it is a number."""
    if isinstance(value, (list, tuple)):
        return float(rng.uniform(value[0], value[1]))
    return float(value)


class Task:
    """Base: one target in front of the start (``fly_to_target``)."""

    def __init__(self, cfg: Mapping, target_height: float):
        self.cfg = dict(cfg)
        self.name = self.cfg["name"]
        self.time_limit_s = float(self.cfg["time_limit_s"])
        self.target_height = target_height
        ap = self.cfg["approach"]
        self.approach_distance = float(ap["distance"])
        self.approach_radius = float(ap["radius"])
        self.approach_half_height = float(ap["half_height"])
        self.reward = dict(self.cfg["reward"])

    def _max_distance(self) -> float:
        d = self.cfg["distance"]
        return float(max(d) if isinstance(d, (list, tuple)) else d)

    def _first(self, rng: np.random.Generator, half: float) -> Episode:
        """Target anywhere it fits; drone in front of it, looking at it with an offset."""
        c = self.cfg
        target = self._target_in_area(rng, half)
        center = target.pos_world
        dist = _u(rng, c["distance"])
        lateral = _u(rng, c["lateral_offset"])
        facing = target.facing
        side = np.array([-facing[1], facing[0], 0.0])
        start = center + facing * dist + side * lateral
        start[2] = _u(rng, c["altitude"])
        look = math.atan2(center[1] - start[1], center[0] - start[0])
        start_yaw = look + math.radians(_u(rng, c["heading_offset_deg"]))
        episode = Episode(start, start_yaw, [target])
        self._keep(episode, start, target)
        return episode

    def _target_in_area(self, rng: np.random.Generator, half: float) -> TargetPose:
        """A target anywhere in the area, far enough from its edge for a start at the task's distance."""
        margin = self._max_distance() + float(self.cfg["clearance"]["start"]) + 1.0
        if margin >= half:
            raise ValueError(f"task '{self.name}': distance {self._max_distance()} m does not fit in the "
                             f"{2 * half:.0f} m area; use a shorter distance.")
        yaw = float(rng.uniform(-math.pi, math.pi))
        center = np.array([*rng.uniform(-(half - margin), half - margin, size=2), self.target_height])
        return TargetPose(center, yaw)

    def _keep(self, episode: Episode, frm: np.ndarray, target: TargetPose) -> None:
        """Keep the start, the target and the straight way between them free."""
        clear = self.cfg["clearance"]
        app = target.approach_point(self.approach_distance)
        episode.keepouts.circles.append((float(frm[0]), float(frm[1]), float(clear["start"])))
        episode.keepouts.circles.append((float(target.pos_world[0]), float(target.pos_world[1]), float(clear["target"])))
        episode.keepouts.corridors.append((float(frm[0]), float(frm[1]), float(app[0]), float(app[1]),
                                           float(clear["corridor_half_width"])))

    def sample(self, rng: np.random.Generator, area_half_size: float) -> Episode:
        """Draw an episode."""
        return self._first(rng, area_half_size)

    def target_pose(self, episode: Episode, index: int, time_s: float) -> TargetPose:
        """Pose of target ``index`` at ``time_s`` (static by default)."""
        return episode.targets[index]

    def in_zone(self, pos_world: np.ndarray, target: TargetPose) -> bool:
        """True when ``pos_world`` is inside the approach zone of ``target``."""
        app = target.approach_point(self.approach_distance)
        horiz = math.hypot(pos_world[0] - app[0], pos_world[1] - app[1])
        return horiz <= self.approach_radius and abs(pos_world[2] - app[2]) <= self.approach_half_height


class FlyToTarget(Task):
    """The target in view at the start, 4 to 12 m away, with lateral and heading offsets."""


class Range(Task):
    """As :class:`FlyToTarget` from a fixed start distance (``distance``)."""


class Chain(Task):
    """Several targets in turn; the next stands beside the one just reached."""

    def sample(self, rng: np.random.Generator, area_half_size: float) -> Episode:
        c = self.cfg
        half = area_half_size - float(c["clearance"]["target"]) - 1.0
        for _ in range(MAX_TRIES):
            episode = self._first(rng, area_half_size)
            ok = True
            for _k in range(int(c["targets"]) - 1):
                last = episode.targets[-1]
                app = last.approach_point(self.approach_distance)
                turn = math.radians(_u(rng, c["turn_deg"])) * (1.0 if rng.random() < 0.5 else -1.0)
                bearing = last.yaw + math.pi + turn  # seen from the approach point, beside the sign
                spacing = _u(rng, c["spacing"])
                pos = app + spacing * np.array([math.cos(bearing), math.sin(bearing), 0.0])
                pos[2] = self.target_height
                if max(abs(pos[0]), abs(pos[1])) > half:
                    ok = False
                    break
                nxt = TargetPose(pos, bearing + math.pi)  # facing back to where the drone is
                self._keep(episode, app, nxt)
                episode.targets.append(nxt)
            if ok:
                return episode
        raise RuntimeError(f"task '{self.name}': no chain fits in the area after {MAX_TRIES} tries")


class MovingTarget(Task):
    """The target slides to and fro across its own axis (sinusoid of given peak speed)."""

    def sample(self, rng: np.random.Generator, area_half_size: float) -> Episode:
        episode = self._first(rng, area_half_size)
        target = episode.targets[0]
        amp = float(self.cfg["path"]["amplitude"])
        side = np.array([-target.facing[1], target.facing[0], 0.0])
        a, b = target.pos_world - side * amp, target.pos_world + side * amp
        clear = self.cfg["clearance"]
        episode.keepouts.corridors.append((float(a[0]), float(a[1]), float(b[0]), float(b[1]), float(clear["target"])))
        for end in (a, b):
            app = end + target.facing * self.approach_distance
            episode.keepouts.corridors.append((float(episode.start_pos[0]), float(episode.start_pos[1]),
                                               float(app[0]), float(app[1]), float(clear["corridor_half_width"])))
        episode.phase = float(rng.uniform(0, 2 * math.pi))
        return episode

    def target_pose(self, episode: Episode, index: int, time_s: float) -> TargetPose:
        base = episode.targets[index]
        amp, speed = float(self.cfg["path"]["amplitude"]), float(self.cfg["path"]["speed"])
        side = np.array([-base.facing[1], base.facing[0], 0.0])
        phase = episode.phase
        offset = amp * (math.sin(speed / amp * time_s + phase) - math.sin(phase))
        return TargetPose(base.pos_world + side * offset, base.yaw)


def _dir(yaw: float) -> np.ndarray:
    """Unit horizontal vector (world) at ``yaw``."""
    return np.array([math.cos(yaw), math.sin(yaw), 0.0])


def _yaw_of(vec: np.ndarray) -> float:
    """Yaw (rad) of a world vector's horizontal part."""
    return math.atan2(float(vec[1]), float(vec[0]))


class Rotation(Task):
    """The sign faces away from the start by up to ``rotation_deg``; the approach point stays in
    front of the sign, so the drone swings round on the way to face it."""

    def sample(self, rng: np.random.Generator, area_half_size: float) -> Episode:
        c = self.cfg
        target = self._target_in_area(rng, area_half_size)
        center, yaw = target.pos_world, target.yaw
        rotation = math.radians(_u(rng, c["rotation_deg"]))
        start = center + _dir(yaw - rotation) * _u(rng, c["distance"])  # the sign faces `rotation` away from it
        start[2] = _u(rng, c["altitude"])
        start_yaw = _yaw_of(center - start) + math.radians(_u(rng, c["heading_offset_deg"]))
        episode = Episode(start, start_yaw, [target])
        self._keep(episode, start, target)
        return episode


class Occlusion(Task):
    """As :class:`FlyToTarget`, with an occluder (``occluder.kinds``: a trunk, a board) standing on
    the line of sight from the start to the sign: the sign is hidden, wholly or in part, until the
    drone has flown round it."""

    def sample(self, rng: np.random.Generator, area_half_size: float) -> Episode:
        episode = self._first(rng, area_half_size)
        target = episode.targets[0]
        occ = self.cfg["occluder"]
        kind = draw_kind(rng, occ["kinds"])
        spec = occ["kinds"][kind]
        size = draw_size(rng, spec)
        eye = episode.start_pos
        sight = (target.pos_world - eye) * np.array([1.0, 1.0, 0.0])
        length = float(np.linalg.norm(sight))
        ahead = sight / length
        across = np.array([-ahead[1], ahead[0], 0.0])
        prop = Prop(str(spec["shape"]), 0.0, 0.0, _yaw_of(-ahead), "occluder", size, {"face": list(spec["color"])})
        half_width = prop.reach
        spot = eye + ahead * (_u(rng, occ["at"]) * length) + across * (_u(rng, occ["cover"]) * half_width)
        prop.x, prop.y = float(spot[0]), float(spot[1])
        episode.props.append(prop)
        return episode


class Hike(Chain):
    """A chain of targets through the forest with decoys beside the way: red balls, red boards,
    red signs of other shapes (``decoys.kinds``), to be passed by, not approached."""

    def sample(self, rng: np.random.Generator, area_half_size: float) -> Episode:
        episode = super().sample(rng, area_half_size)
        dc = self.cfg["decoys"]
        limit = area_half_size - 1.0
        stops = [episode.start_pos] + [t.approach_point(self.approach_distance) for t in episode.targets]
        lo, hi = (int(v) for v in dc["per_leg"])
        for a, b in zip(stops[:-1], stops[1:]):
            way = (b - a) * np.array([1.0, 1.0, 0.0])
            across = np.array([-way[1], way[0], 0.0]) / max(float(np.linalg.norm(way)), 1e-9)
            for _ in range(int(rng.integers(lo, hi + 1))):
                for _try in range(MAX_TRIES):
                    name = draw_kind(rng, dc["kinds"])
                    spec = dc["kinds"][name]
                    side = _u(rng, dc["side"]) * (1.0 if rng.random() < 0.5 else -1.0)
                    spot = a + way * _u(rng, dc["along"]) + across * side
                    prop = Prop(str(spec["shape"]), float(spot[0]), float(spot[1]), _yaw_of(a - spot), "decoy",
                                draw_size(rng, spec), {k: list(v) for k, v in spec["colors"].items()})
                    room = prop.reach + float(dc["clearance"])
                    if max(abs(prop.x), abs(prop.y)) + room < limit and not episode.keepouts.blocked(prop.x, prop.y, room):
                        episode.props.append(prop)
                        episode.keepouts.circles.append((prop.x, prop.y, room))
                        break
        return episode


class Loop(Task):
    """Three targets at the corners of an equilateral triangle, flown round ``laps`` times; the
    drone starts on the side that leads to the first corner, and each sign faces the corner the
    drone comes from. As in a chain, the next sign appears once one is reached."""

    def sample(self, rng: np.random.Generator, area_half_size: float) -> Episode:
        c = self.cfg
        clear = c["clearance"]
        limit = area_half_size - float(clear["target"]) - 1.0
        corner = math.radians(float(c["corner_deg"]))
        for _ in range(MAX_TRIES):
            side = _u(rng, c["side"])
            yaw = float(rng.uniform(-math.pi, math.pi))  # the first sign faces the third corner
            turn = corner * (1.0 if rng.random() < 0.5 else -1.0)
            v1 = np.array([*rng.uniform(-limit, limit, size=2), self.target_height])
            v2 = v1 + side * _dir(yaw + turn)
            v3 = v1 + side * _dir(yaw)
            start = v1 + _dir(yaw) * _u(rng, c["distance"]) + _dir(yaw + math.pi / 2) * _u(rng, c["lateral_offset"])
            start[2] = _u(rng, c["altitude"])
            start_yaw = _yaw_of(v1 - start) + math.radians(_u(rng, c["heading_offset_deg"]))
            if max(float(np.abs(v[:2]).max()) for v in (v2, v3, start)) > limit:
                continue
            corners = [TargetPose(v1, yaw), TargetPose(v2, _yaw_of(v1 - v2)), TargetPose(v3, _yaw_of(v2 - v3))]
            episode = Episode(start, start_yaw, corners * int(c["laps"]))
            self._keep(episode, start, corners[0])
            for k in range(3):
                self._keep(episode, corners[k].approach_point(self.approach_distance), corners[(k + 1) % 3])
            return episode
        raise RuntimeError(f"task '{self.name}': no triangle fits in the area after {MAX_TRIES} tries")


TASKS: dict[str, type[Task]] = {
    "fly_to_target": FlyToTarget,
    "range": Range,
    "chain": Chain,
    "moving_target": MovingTarget,
    "rotation": Rotation,
    "occlusion": Occlusion,
    "hike": Hike,
    "loop": Loop,
}


def task_names() -> list[str]:
    """Valid task names."""
    return sorted(TASKS)


def make_task(spec: str | Mapping, target_height: float) -> Task:
    """Build a task from a name in ``conf/task/`` or a mapping (with ``name``)."""
    name = spec if isinstance(spec, str) else spec.get("name")
    if name not in TASKS:
        raise ValueError(f"unknown task '{name}'. Valid tasks: {', '.join(task_names())}.")
    cfg = load("task", spec)
    return TASKS[name](cfg, target_height)

