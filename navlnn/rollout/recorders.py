"""Recorders keep what a command needs of an episode: dataset rows, a flight, frames, a summary.

The loop calls ``start(env, seed, obs, info)`` after the reset, ``step(obs, info, decision)`` before
each ``env.step`` (row ``t``: the state the decision was taken in), ``after(obs, reward, info)``
after it, and ``finish(env, info, outcome)`` once the episode has ended; ``name`` is the key of
the recorder's result in what :func:`navlnn.rollout.rollout` returns.

Recorders defined above the rollout layer (attention, registered by :mod:`navlnn.evaluation`)
are registered by name with :func:`register_recorder`; a job asks for them by name
(:attr:`navlnn.rollout.specs.FlyOptions.recorders`) and :func:`make_recorder` builds them. A
worker process started by ``spawn`` has not run the registering module yet: the pool hands its
workers the modules that registered the recorders a run needs (:func:`recorder_providers`), and
each worker imports them before it flies. The rollout layer never names them itself.
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Optional

import numpy as np

from navlnn.rollout.actors import Decision
from navlnn.rollout.flight import Flight


class Recorder:
    """The recorder interface (every method does nothing)."""

    name = "recorder"

    def start(self, env: Any, seed: int, obs: Any, info: Mapping) -> None:
        """The episode started (``info``: the first state)."""

    def step(self, obs: Any, info: Mapping, decision: Decision) -> None:
        """A decision was taken in the state ``info``."""

    def after(self, obs: Any, reward: float, info: Mapping) -> None:
        """The env stepped to the state ``info``."""

    def finish(self, env: Any, info: Mapping, outcome: str) -> Any:
        """The episode ended with ``outcome``; returns the recording."""


class OutcomeRecorder(Recorder):
    """How the episode went: outcome, flight time, path length, closest obstacle, targets reached."""

    name = "summary"

    def start(self, env: Any, seed: int, obs: Any, info: Mapping) -> None:
        self.path_m, self.min_clearance_m, self.steps = 0.0, math.inf, 0
        self._prev = info["drone"]["pos_world"]

    def after(self, obs: Any, reward: float, info: Mapping) -> None:
        pos = info["drone"]["pos_world"]
        self.path_m += float(np.linalg.norm(pos - self._prev))
        self._prev = pos
        self.min_clearance_m = min(self.min_clearance_m, float(info["nearest_obstacle_distance"]))
        self.steps += 1

    def finish(self, env: Any, info: Mapping, outcome: str) -> dict:
        return {"steps": self.steps, "outcome": outcome, "success": bool(info["is_success"]),
                "time_s": float(info["time_s"]), "path_length_m": self.path_m, "min_clearance_m": self.min_clearance_m,
                "final_distance_to_approach_m": float(info["distance_to_approach"]),
                "targets_reached": int(info["target"]["index"]) + int(bool(info["is_success"])),
                "targets": int(info["target"]["count"])}


_DRONE_KEYS = ("pos_world", "vel_world", "vel_body", "rpy", "ang_vel_body")  # recorded as drone_<key>
_TARGET_KEYS = ("pos_world", "yaw", "approach_world", "index")  # recorded as target_<key>
DATASET_ROW_KEYS = ("image", "label", "action", "noise_on", "dt", "time", "reward",
                    *(f"drone_{k}" for k in _DRONE_KEYS), *(f"target_{k}" for k in _TARGET_KEYS),
                    "bearing_to_target", "distance_to_approach", "nearest_obstacle_distance")


class DatasetRecorder(Recorder):
    """The per-step fields of a dataset episode (see :data:`navlnn.data.format.FIELDS`) and its summary.

    Row ``t`` describes the frame before action ``t`` (the raw onboard image and the expert's
    label); the final frame, after the last action, has no label and is not recorded. Its result
    is ``(arrays, summary)``.
    """

    name = "dataset"

    def __init__(self) -> None:
        self.outcome = OutcomeRecorder()

    def start(self, env: Any, seed: int, obs: Any, info: Mapping) -> None:
        self.dt = float(env.unwrapped.dt)
        self.rows: dict[str, list] = {k: [] for k in DATASET_ROW_KEYS}
        self.outcome.start(env, seed, obs, info)

    def step(self, obs: Any, info: Mapping, decision: Decision) -> None:
        rows = self.rows
        for key, value in (("image", obs["image"] if isinstance(obs, Mapping) else obs), ("label", decision.label),
                           ("action", decision.action), ("noise_on", decision.off_label), ("dt", self.dt),
                           ("time", info["time_s"]), ("bearing_to_target", info["bearing_to_target"]),
                           ("distance_to_approach", info["distance_to_approach"]),
                           ("nearest_obstacle_distance", min(float(info["nearest_obstacle_distance"]), 1e6))):
            rows[key].append(value)
        for key in _DRONE_KEYS:
            rows[f"drone_{key}"].append(info["drone"][key])
        for key in _TARGET_KEYS:
            rows[f"target_{key}"].append(info["target"][key])

    def after(self, obs: Any, reward: float, info: Mapping) -> None:
        self.rows["reward"].append(reward)
        self.outcome.after(obs, reward, info)

    def finish(self, env: Any, info: Mapping, outcome: str) -> tuple[dict[str, np.ndarray], dict]:
        arrays = {k: np.asarray(v) for k, v in self.rows.items()}
        o = self.outcome.finish(env, info, outcome)
        summary = {
            "steps": len(arrays["label"]),
            "outcome": outcome,
            "success": o["success"],
            "metrics": {
                "time_s": round(o["time_s"], 6),
                "path_length_m": round(o["path_length_m"], 4),
                "min_clearance_m": round(o["min_clearance_m"], 4),
                "final_distance_to_approach_m": round(o["final_distance_to_approach_m"], 4),
                "targets_reached": o["targets_reached"],
                "targets": o["targets"],
                "noise_steps": int(arrays["noise_on"].sum()),
                "mean_abs_label_minus_action": round(float(np.abs(arrays["label"] - arrays["action"]).mean()), 6),
            },
        }
        return arrays, summary


_STATE_KEYS = ("time_s", "pos_world", "yaw", "vel_world", "distance_to_approach", "clearance", "target_pos_world",
               "target_yaw", "approach_world")


class FlightRecorder(Recorder):
    """The trajectory, commands and outcome that evaluation and video need: a :class:`Flight`."""

    name = "flight"

    def __init__(self, tags: Optional[Mapping] = None) -> None:
        self.tags = dict(tags or {})

    def start(self, env: Any, seed: int, obs: Any, info: Mapping) -> None:
        self.seed = int(seed)
        self.states: dict[str, list] = {k: [] for k in _STATE_KEYS}
        self.acts: dict[str, list] = {k: [] for k in ("action", "policy_action", "dt", "frame_used", "expert_label",
                                                       "expert_executed")}
        self._keep(info)

    def _keep(self, info: Mapping) -> None:
        s = self.states
        s["time_s"].append(float(info["time_s"]))
        s["pos_world"].append(np.asarray(info["drone"]["pos_world"], float))
        s["yaw"].append(float(info["drone"]["rpy"][2]))
        s["vel_world"].append(np.asarray(info["drone"]["vel_world"], float))
        s["distance_to_approach"].append(float(info["distance_to_approach"]))
        s["clearance"].append(float(info["nearest_obstacle_distance"]))
        s["target_pos_world"].append(np.asarray(info["target"]["pos_world"], float))
        s["target_yaw"].append(float(info["target"]["yaw"]))
        s["approach_world"].append(np.asarray(info["target"]["approach_world"], float))

    def step(self, obs: Any, info: Mapping, decision: Decision) -> None:
        a = self.acts
        a["action"].append(decision.action)
        a["policy_action"].append(np.array(decision.policy_action, np.float32))
        a["dt"].append(decision.told_dt)
        a["frame_used"].append(decision.frame_used)
        if decision.label is not None:
            a["expert_label"].append(np.asarray(decision.label, np.float32))
            a["expert_executed"].append(decision.expert_flew)

    def after(self, obs: Any, reward: float, info: Mapping) -> None:
        self._keep(info)

    def finish(self, env: Any, info: Mapping, outcome: str) -> Flight:
        base = env.unwrapped
        a = self.acts
        labelled = bool(a["expert_label"])
        return Flight(
            seed=self.seed,
            scene=str(base.scene_cfg["full_name"]), task=str(base.task.name), outcome=outcome,
            env_dt=float(base.dt), **{k: np.asarray(v) for k, v in self.states.items()},
            action=np.asarray(a["action"], np.float32).reshape(-1, 4),
            policy_action=np.asarray(a["policy_action"], np.float32).reshape(-1, 4),
            dt=np.asarray(a["dt"], np.float64), frame_used=np.asarray(a["frame_used"], bool),
            expert_label=np.asarray(a["expert_label"], np.float32).reshape(-1, 4) if labelled else None,
            expert_executed=np.asarray(a["expert_executed"], bool) if labelled else None,
            obstacles=base.scene.obstacles.footprints().astype(np.float32),
            obstacle_boxes=np.asarray(base.scene.obstacles.boxes, float).reshape(-1, 7)[:, [0, 1, 3, 4, 6]]
            .astype(np.float32),
            targets_reached=int(info["target"]["index"]) + int(bool(info["is_success"])),
            targets=int(info["target"]["count"]),
            tags=dict(self.tags),
        )


class FrameRecorder(Recorder):
    """Images: the frames the policy saw, the chase camera (the env needs ``render_mode="rgb_array"``),
    the policy's state after each step (neuron traces) and the target's pixel mask in each frame.
    Its result maps ``images``, ``chase``, ``policy_state`` and ``target_mask`` to arrays (or None
    where not asked for or not available)."""

    name = "frames"

    def __init__(self, images: bool = True, chase: bool = False, policy_state: bool = False,
                 target_mask: bool = False) -> None:
        self.want = {"images": images, "chase": chase, "policy_state": policy_state, "target_mask": target_mask}

    def start(self, env: Any, seed: int, obs: Any, info: Mapping) -> None:
        self.env = env
        self.kept: dict[str, list] = {k: [] for k in self.want}
        if self.want["target_mask"]:
            env.unwrapped.track_target_mask = True  # each frame's mask from its own render
        self._render()

    def _render(self) -> None:
        if self.want["chase"]:
            self.kept["chase"].append(self.env.render())

    def step(self, obs: Any, info: Mapping, decision: Decision) -> None:
        if self.want["images"]:
            self.kept["images"].append(np.asarray(decision.frame, np.uint8))
        if self.want["policy_state"] and decision.policy_state is not None:
            self.kept["policy_state"].append(decision.policy_state[0].float().cpu().numpy().copy())
        if self.want["target_mask"]:
            self.kept["target_mask"].append(self.env.unwrapped.target_mask())

    def after(self, obs: Any, reward: float, info: Mapping) -> None:
        self._render()

    def finish(self, env: Any, info: Mapping, outcome: str) -> dict[str, Optional[np.ndarray]]:
        if self.want["target_mask"]:
            env.unwrapped.track_target_mask = False
        self.env = None
        k = self.kept
        return {"images": np.stack(k["images"]) if k["images"] else None,
                "chase": np.stack(k["chase"]) if k["chase"] and k["chase"][0] is not None else None,
                "policy_state": np.stack(k["policy_state"]) if k["policy_state"] else None,
                "target_mask": np.stack(k["target_mask"]) if k["target_mask"] else None}


RecorderFactory = Callable[[Any, Any], Optional[Recorder]]  # (policy or None, FlyOptions) -> recorder, or None
_REGISTRY: dict[str, RecorderFactory] = {}


def register_recorder(name: str, factory: RecorderFactory) -> None:
    """Make the recorder ``name`` available to jobs: ``factory(policy, options)`` builds it for one
    flight (None where it does not apply, e.g. no policy). Registering a name again replaces it."""
    _REGISTRY[str(name)] = factory


def make_recorder(name: str, policy: Any, options: Any) -> Optional[Recorder]:
    """The registered recorder ``name`` for one flight (None where it does not apply)."""
    return _REGISTRY[_registered(name)](policy, options)


def recorder_providers(names: Iterable[str]) -> tuple[str, ...]:
    """The modules whose import registers the recorders ``names`` (those of their factories), so that
    a freshly spawned worker can import them before it flies."""
    return tuple(sorted({_REGISTRY[_registered(name)].__module__ for name in names}))


def _registered(name: str) -> str:
    if name not in _REGISTRY:
        raise LookupError(f"recorder '{name}' is not registered (known: {', '.join(sorted(_REGISTRY)) or 'none'}); "
                          "import the module that calls register_recorder for it (navlnn.evaluation registers "
                          "'attention') before flying")
    return name


_MOVED = {"AttentionRecorder": "navlnn.evaluation.attention", "ATTENTION_STREAM": "navlnn.rollout.seeds"}


def __getattr__(name: str) -> Any:
    """Names that moved out of this module, for one more release (with a ``DeprecationWarning``)."""
    if name in _MOVED:
        warnings.warn(f"navlnn.rollout.recorders.{name} is deprecated and will be removed in the next release; "
                      f"import it from {_MOVED[name]}", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
