"""Expert rollouts with injected noise: one recorded episode from a seed.

Recovery is taught as in DART: the executed action is the expert's action plus a perturbation,
while the recorded label is the clean expert action in the state the perturbation led to. The
perturbation is Ornstein-Uhlenbeck noise (correlated over ``time_constant`` seconds, so that it
actually displaces the drone) with a per-axis standard deviation, a per-episode magnitude and a
schedule within the episode:

- ``constant``: on for the whole episode;
- ``bursts``: alternating noisy and clean stretches (durations drawn from ``burst_on_s`` and
  ``burst_off_s``), so that the clean stretches record recoveries;
- ``ramp``: full at the start, fading linearly to zero at ``ramp_s`` seconds.

Nothing here imports torch: the collector's worker processes start quickly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from navlnn.settings import known_keys

SCHEDULES = ("constant", "bursts", "ramp")


@dataclass(frozen=True)
class NoiseParams:
    """Injected-noise settings (``noise:`` in ``conf/collect.yaml``)."""

    episode_fraction: float
    std: tuple[float, float, float, float]
    magnitude: tuple[float, float]
    time_constant: float
    schedule: str
    burst_on_s: tuple[float, float]
    burst_off_s: tuple[float, float]
    ramp_s: float

    @classmethod
    def from_config(cls, cfg: Mapping) -> "NoiseParams":
        """Build and check; errors name the key and the valid values."""
        names = set(cls.__dataclass_fields__)
        cfg = known_keys("noise", cfg, names)
        missing = sorted(names - set(cfg))
        if missing:
            raise ValueError(f"noise: missing keys {', '.join(missing)}")
        std = tuple(float(v) for v in cfg["std"])
        if len(std) != 4 or min(std) < 0:
            raise ValueError(f"noise.std must be 4 non-negative numbers (vx, vy, vz, yaw_rate), got {list(std)}")
        if cfg["schedule"] not in SCHEDULES:
            raise ValueError(f"noise.schedule must be one of {', '.join(SCHEDULES)}, got {cfg['schedule']!r}")
        if not 0.0 <= float(cfg["episode_fraction"]) <= 1.0:
            raise ValueError(f"noise.episode_fraction must be in [0, 1], got {cfg['episode_fraction']}")
        pair = {k: _pair(f"noise.{k}", cfg[k]) for k in ("magnitude", "burst_on_s", "burst_off_s")}
        if float(cfg["time_constant"]) < 0:
            raise ValueError(f"noise.time_constant must be >= 0 s, got {cfg['time_constant']}")
        return cls(float(cfg["episode_fraction"]), std, pair["magnitude"], float(cfg["time_constant"]),
                   str(cfg["schedule"]), pair["burst_on_s"], pair["burst_off_s"], float(cfg["ramp_s"]))


def _pair(name: str, value) -> tuple[float, float]:
    if isinstance(value, (int, float)):
        return (float(value), float(value))
    lo, hi = (float(v) for v in value)
    if lo > hi or lo < 0:
        raise ValueError(f"{name} must be a number or [low, high] with 0 <= low <= high, got {list(value)}")
    return (lo, hi)


class InjectedNoise:
    """The perturbation of one episode: call once per step for ``(noise, on)``."""

    def __init__(self, params: NoiseParams, rng: np.random.Generator, dt: float, magnitude: float):
        self.params = params
        self.rng = rng
        self.dt = dt
        self.magnitude = magnitude
        self.std = np.asarray(params.std) * magnitude
        self.decay = math.exp(-dt / params.time_constant) if params.time_constant > 0 else 0.0
        self.state = self.std * rng.standard_normal(4)
        self.time = 0.0
        self.on = params.schedule != "bursts" or bool(rng.random() < 0.5)
        self.switch_at = self._stretch() if params.schedule == "bursts" else math.inf

    def _stretch(self) -> float:
        lo, hi = self.params.burst_on_s if self.on else self.params.burst_off_s
        return self.time + float(self.rng.uniform(lo, hi))

    def __call__(self) -> tuple[np.ndarray, bool]:
        """The noise to add to this step's action (normalised units) and whether it is on."""
        prm = self.params
        self.state = self.decay * self.state + math.sqrt(1.0 - self.decay**2) * self.std * self.rng.standard_normal(4)
        if prm.schedule == "bursts" and self.time >= self.switch_at:
            self.on = not self.on
            self.switch_at = self._stretch()
        gain = 1.0
        if prm.schedule == "ramp":
            gain = max(0.0, 1.0 - self.time / prm.ramp_s) if prm.ramp_s > 0 else 0.0
        self.time += self.dt
        on = self.on and gain > 0.0
        return (self.state * gain if on else np.zeros(4)), on


def episode_outcome(info: Mapping) -> str:
    """How an episode ended, from its last ``info``: success, collision, out_of_bounds or timeout."""
    if info["is_success"]:
        return "success"
    if info["collision"]:
        return "collision"
    if info["out_of_bounds"]:
        return "out_of_bounds"
    return "timeout"


class PolicyPilot:
    """DAgger's pilot: at each step the expert's label with probability ``beta``, else the policy's action.

    The policy sees every frame (its state is carried whoever flies); the label recorded is always
    the expert's, so the data teach the expert's response in the states the policy visits.
    """

    def __init__(self, policy, beta: float, rng: np.random.Generator):
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {beta}")
        self.policy, self.beta, self.rng = policy, float(beta), rng

    def reset(self) -> None:
        self.policy.reset()

    def __call__(self, image: np.ndarray, label: np.ndarray, dt: float) -> tuple[np.ndarray, bool]:
        """The executed action and whether it is the policy's (not the label)."""
        action = np.asarray(self.policy.act(image, dt), dtype=np.float32)
        if self.rng.random() < self.beta:
            return label, False
        return action, True


def record_episode(env, expert, seed: int, noise: InjectedNoise | None,
                   pilot: PolicyPilot | None = None) -> tuple[dict[str, np.ndarray], dict]:
    """Fly one episode with ``expert`` (perturbed by ``noise``, or sharing control with a
    ``pilot``); the per-step arrays and a summary.

    Row ``t`` of every array describes the frame before action ``t``; the final frame (after the
    last action) has no label and is not recorded.
    """
    obs, info = env.reset(seed=seed)
    expert.reset()
    if pilot is not None:
        pilot.reset()
    rows: dict[str, list] = {k: [] for k in _ROW_KEYS}
    dt = float(env.unwrapped.dt)
    terminated = truncated = False
    path = 0.0
    min_clear = math.inf
    while not (terminated or truncated):
        label = expert.act(info)
        image = obs["image"] if isinstance(obs, Mapping) else obs
        if pilot is not None:
            action, on = pilot(image, label, dt)
        elif noise is not None:
            delta, on = noise()
            action = np.clip(label + delta, -1.0, 1.0).astype(np.float32)
        else:
            action, on = label, False
        _append(rows, image, label, action, on, dt, info)
        prev = info["drone"]["pos_world"]
        obs, reward, terminated, truncated, info = env.step(action)
        rows["reward"].append(reward)
        path += float(np.linalg.norm(info["drone"]["pos_world"] - prev))
        min_clear = min(min_clear, float(info["nearest_obstacle_distance"]))
    arrays = {k: np.asarray(v) for k, v in rows.items()}
    outcome = episode_outcome(info)
    steps = len(arrays["label"])
    summary = {
        "steps": steps,
        "outcome": outcome,
        "success": bool(info["is_success"]),
        "metrics": {
            "time_s": round(float(info["time_s"]), 6),
            "path_length_m": round(path, 4),
            "min_clearance_m": round(min_clear, 4),
            "final_distance_to_approach_m": round(float(info["distance_to_approach"]), 4),
            "targets_reached": int(info["target"]["index"]) + int(bool(info["is_success"])),
            "targets": int(info["target"]["count"]),
            "noise_steps": int(arrays["noise_on"].sum()),
            "mean_abs_label_minus_action": round(float(np.abs(arrays["label"] - arrays["action"]).mean()), 6),
        },
    }
    return arrays, summary


_DRONE_KEYS = ("pos_world", "vel_world", "vel_body", "rpy", "ang_vel_body")  # recorded as drone_<key>
_TARGET_KEYS = ("pos_world", "yaw", "approach_world", "index")  # recorded as target_<key>
_ROW_KEYS = ("image", "label", "action", "noise_on", "dt", "time", "reward", *(f"drone_{k}" for k in _DRONE_KEYS),
             *(f"target_{k}" for k in _TARGET_KEYS), "bearing_to_target", "distance_to_approach",
             "nearest_obstacle_distance")


def _append(rows: dict[str, list], image, label, action, on: bool, dt: float, info: Mapping) -> None:
    for key, value in (("image", image), ("label", label), ("action", action), ("noise_on", on), ("dt", dt),
                       ("time", info["time_s"]), ("bearing_to_target", info["bearing_to_target"]),
                       ("distance_to_approach", info["distance_to_approach"]),
                       ("nearest_obstacle_distance", min(float(info["nearest_obstacle_distance"]), 1e6))):
        rows[key].append(value)
    for key in _DRONE_KEYS:
        rows[f"drone_{key}"].append(info["drone"][key])
    for key in _TARGET_KEYS:
        rows[f"target_{key}"].append(info["target"][key])


def widened(task: Mapping, start: Mapping) -> dict:
    """``task`` with the start offsets of ``start`` (off-centre and off-heading starts)."""
    out = dict(task)
    for key in ("lateral_offset", "heading_offset_deg"):
        if start.get(key) is not None:
            out[key] = list(start[key]) if isinstance(start[key], Sequence) else start[key]
    return out
