"""The expert's injected noise (DART): what the executed action adds to the expert's label.

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

SCHEDULES = ("constant", "bursts", "ramp")


def known_keys(section: str, cfg: Mapping[str, Any] | None, valid: Iterable[str]) -> dict[str, Any]:
    """``cfg`` as a dict, or a ``ValueError`` naming ``section``'s unknown keys and the valid ones.

    The one check of a settings section's keys (noise, stress, video layout), so that a typo
    stops with the same message everywhere."""
    cfg = dict(cfg or {})
    names = set(valid)
    unknown = sorted(set(cfg) - names)
    if unknown:
        raise ValueError(f"{section}: unknown keys {', '.join(unknown)} (valid: {', '.join(sorted(names))})")
    return cfg


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
