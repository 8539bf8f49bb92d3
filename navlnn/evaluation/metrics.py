"""Closed-loop metrics: per episode, and aggregated with 95% confidence intervals.

Per episode (:func:`episode_metrics`): the outcome flags, time to target, path length (also
relative to the expert's path on the same seed), final distance to the approach point, minimum
obstacle clearance and command roughness (mean squared rate of change of the executed command,
in normalised action units per second, squared: lower is smoother).

With attention measured (``navlnn eval eval.attention=true``), also ``target_attention`` and
``saliency_ssim`` (:func:`attention_metrics`): the means over an episode's frames of the per-frame
figures of :mod:`navlnn.evaluation.saliency`, with ``target_attention_frames``, the frames the
target was seen in (``target_attention`` is NaN, an empty cell, where there were none).

Aggregates (:func:`aggregate`): rates with Wilson score intervals, means with percentile
bootstrap intervals (seeded, so the same episodes give the same intervals); scipy does the
arithmetic (``scipy.stats.binomtest``, ``scipy.stats.bootstrap``). These intervals take every
episode as independent; ``navlnn.analysis`` gives the intervals of a study (training seeds and layouts).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

import numpy as np
from scipy import stats

from navlnn.constants import OUTCOMES
from navlnn.rollout.flight import Flight

RATES = ("success", "collision", "out_of_bounds", "timeout")
MEANS = ("time_to_target_s", "path_length_m", "path_ratio", "final_distance_m", "min_clearance_m",
         "command_roughness")
ATTENTION_MEANS = ("target_attention", "saliency_ssim")  # summarised only where episodes carry them


def path_length(pos_world: np.ndarray) -> float:
    """Length (m) of a polyline ``(N, 3)``."""
    pos = np.asarray(pos_world, float)
    return float(np.linalg.norm(np.diff(pos, axis=0), axis=1).sum()) if len(pos) > 1 else 0.0


def command_roughness(actions: np.ndarray, dt: float | np.ndarray) -> float:
    """Mean over steps of ``|a_t - a_(t-1)|^2 / dt^2``: the mean squared rate of change of the command.

    ``dt``: the time between commands (s), one number or one per step. NaN for fewer than 2 commands.
    """
    a = np.asarray(actions, float)
    if len(a) < 2:
        return math.nan
    dt = np.broadcast_to(np.asarray(dt, float), (len(a),))[1:]
    rate = np.diff(a, axis=0) / dt[:, None]
    return float(np.mean(np.sum(rate**2, axis=1)))


def episode_metrics(episode: Flight, expert_path_m: Optional[float] = None) -> dict[str, Any]:
    """The metrics of one episode (``expert_path_m``: the expert's path length on the same seed, if flown)."""
    if episode.outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {episode.outcome!r} (valid: {', '.join(OUTCOMES)})")
    length = path_length(episode.pos_world)
    success = episode.outcome == "success"
    ratio = math.nan
    if success and expert_path_m is not None and expert_path_m > 0:
        ratio = length / float(expert_path_m)
    clearance = np.asarray(episode.clearance, float)
    return {
        "outcome": episode.outcome,
        "success": success,
        "collision": episode.outcome == "collision",
        "out_of_bounds": episode.outcome == "out_of_bounds",
        "timeout": episode.outcome == "timeout",
        "steps": episode.steps,
        "duration_s": float(episode.time_s[-1]),
        "time_to_target_s": float(episode.time_s[-1]) if success else math.nan,
        "path_length_m": length,
        "expert_path_length_m": math.nan if expert_path_m is None else float(expert_path_m),
        "path_ratio": ratio,
        "final_distance_m": float(episode.distance_to_approach[-1]),
        "min_clearance_m": float(clearance.min()) if len(clearance) else math.nan,
        "command_roughness": command_roughness(episode.action, episode.env_dt),
        "targets_reached": int(episode.targets_reached),
        "targets": int(episode.targets),
        "frames_dropped": int((~np.asarray(episode.frame_used, bool)).sum()) if np.any(episode.frame_used) else 0,
        **attention_metrics(episode),
    }


def attention_metrics(episode: Flight) -> dict[str, Any]:
    """``target_attention`` (mean over the frames the target was seen in), ``target_attention_frames``
    (their count) and ``saliency_ssim`` (mean over the frames the policy got); empty where the
    episode was flown without attention measured."""
    if episode.target_attention is None or episode.saliency_ssim is None:
        return {}
    ratio = np.asarray(episode.target_attention, float)
    seen = np.isfinite(ratio)
    ssim = np.asarray(episode.saliency_ssim, float)
    ssim = ssim[np.isfinite(ssim)]
    return {"target_attention": float(ratio[seen].mean()) if seen.any() else math.nan,
            "target_attention_frames": int(seen.sum()),
            "saliency_ssim": float(ssim.mean()) if len(ssim) else math.nan}


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {level}")


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial rate (``scipy.stats.binomtest``); ``(nan, nan)`` for ``n == 0``.

    Exactly 0 (1) at the lower (upper) end when no (every) trial succeeded.
    """
    _check_level(level)
    if n < 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return (math.nan, math.nan)
    ci = stats.binomtest(int(successes), int(n)).proportion_ci(confidence_level=level, method="wilson")
    low = 0.0 if successes == 0 else max(0.0, float(ci.low))
    high = 1.0 if successes == n else min(1.0, float(ci.high))
    return (low, high)


def bootstrap_interval(values: Sequence[float], level: float = 0.95, resamples: int = 2000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (``scipy.stats.bootstrap``, its resamples drawn from
    ``numpy.random.default_rng(seed)``); NaNs dropped; ``(nan, nan)`` if empty, the value if one."""
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], float)
    _check_level(level)
    if len(x) == 0:
        return (math.nan, math.nan)
    if len(x) == 1 or np.all(x == x[0]):
        return (float(x[0]), float(x[0]))
    ci = stats.bootstrap((x,), np.mean, confidence_level=level, n_resamples=int(resamples), method="percentile",
                         rng=np.random.default_rng(seed)).confidence_interval
    return (float(ci.low), float(ci.high))


def aggregate(rows: Iterable[Mapping[str, Any]], keys: Sequence[str] = ("model", "scene", "task"),
              level: float = 0.95, resamples: int = 2000, seed: int = 0) -> list[dict[str, Any]]:
    """One summary row per distinct ``keys`` (in first-seen order) over per-episode metric rows.

    Rates: ``<name>_rate`` and ``<name>_ci95`` (Wilson). Means: ``<name>`` and ``<name>_ci95``
    (bootstrap over episodes; time to target and path ratio over successful episodes only, the
    attention figures over the episodes that have them, present where any row has them).
    """
    groups: dict[tuple, list[Mapping[str, Any]]] = {}
    rows = list(rows)
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    means = MEANS + tuple(name for name in ATTENTION_MEANS if any(name in r for r in rows))
    suffix = f"_ci{round(level * 100)}"
    out = []
    for key, members in groups.items():
        n = len(members)
        summary: dict[str, Any] = dict(zip(keys, key))
        summary["episodes"] = n
        for name in RATES:
            k = sum(bool(r[name]) for r in members)
            summary[f"{name}_rate"] = k / n
            summary[f"{name}{suffix}"] = list(wilson_interval(k, n, level))
        for name in means:
            values = [float(r[name]) for r in members if r.get(name) is not None and np.isfinite(float(r[name]))]
            summary[name] = float(np.mean(values)) if values else math.nan
            summary[f"{name}{suffix}"] = list(bootstrap_interval(values, level, resamples, seed))
        if "target_attention" in means:  # episodes that saw the target at least once
            summary["target_attention_episodes"] = sum(
                1 for r in members if r.get("target_attention") is not None and np.isfinite(float(r["target_attention"])))
        out.append(summary)
    return out
