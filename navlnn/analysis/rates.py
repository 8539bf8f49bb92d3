"""Rates per arm and condition with the study's interval, and the tidy per-seed and attention tables.

The interval of a rate (``ci_low``, ``ci_high``) is the seeds-and-layouts t-interval
(:func:`navlnn.analysis.intervals.crossed_t_interval`) widened, where it is narrower, to the pooled
Wilson interval: a t-interval has no width when every flight of a cell succeeded, and the Wilson
interval says what the flights alone allow. Two labelled extra columns keep the older intervals:
``wilson_*`` (every flight taken as independent) and ``layouts_*`` (a bootstrap over layouts with
the seeds fixed). Neither accounts for the training seed; ``docs/analysis.md`` measures how far
they fall short.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from navlnn.analysis.flights import binary, check_flights, matrix
from navlnn.analysis.intervals import (LEVEL, RESAMPLES, check_level, crossed_spread, layout_bootstrap_interval,
                                       t_interval, wilson_interval)

METHOD = "seeds+layouts t, at least Wilson"


def hull(*intervals: tuple[float, float]) -> tuple[float, float]:
    """The smallest interval holding every finite one of ``intervals``, clipped to ``[-1, 1]`` or ``[0, 1]``
    by the caller."""
    lows = [lo for lo, _ in intervals if math.isfinite(lo)]
    highs = [hi for _, hi in intervals if math.isfinite(hi)]
    return (min(lows) if lows else math.nan, max(highs) if highs else math.nan)


def rate_interval(y: np.ndarray, successes: int, n: int, level: float = LEVEL) -> tuple[float, float, float]:
    """The study's interval of a rate from its seeds x layouts matrix ``y`` and its pooled count:
    ``(low, high, df)``."""
    spread = crossed_spread(y)
    centre = float(np.mean(y))
    low, high = hull(spread.interval(centre, level) if y.size > 1 else (math.nan, math.nan),
                     wilson_interval(successes, n, level))
    return (max(0.0, low), min(1.0, high), spread.df)


def _rate_row(cell: pd.DataFrame, label: tuple, outcome: str, level: float, resamples: int, seed: int) -> dict:
    y = matrix(cell, outcome)
    if y.size == 0:
        raise ValueError(f"no layout was flown by every training seed of {label!r}; the study's "
                         f"intervals need seeds that flew the same layouts")
    values = cell[outcome]
    successes, n = int(values.sum()), len(values)
    low, high, df = rate_interval(y.to_numpy(), successes, n, level)
    seed_rates = y.mean(axis=1)
    wl, wh = wilson_interval(successes, n, level)
    ll, lh = layout_bootstrap_interval(y.to_numpy(), level, resamples, seed)
    return {"episodes": n, "seeds": y.shape[0], "layouts": y.shape[1], "rate": float(y.to_numpy().mean()),
            "ci_low": low, "ci_high": high, "df": df,
            "seed_sd": float(seed_rates.std(ddof=1)) if len(seed_rates) > 1 else math.nan,
            "seed_min": float(seed_rates.min()), "seed_max": float(seed_rates.max()),
            "pooled_rate": successes / n, "wilson_low": wl, "wilson_high": wh, "layouts_low": ll, "layouts_high": lh,
            "method": METHOD}


def rates(flights: pd.DataFrame, arm: str = "head", by: Sequence[str] = ("scene",), outcome: str = "success",
          level: float = LEVEL, resamples: int = RESAMPLES, seed: int = 0) -> pd.DataFrame:
    """One row per arm and ``by`` group: the rate of ``outcome`` (success by default; ``collision`` works
    the same) with the study's interval and the labelled extra intervals.

    Columns: ``by``..., ``arm``, ``episodes``, ``seeds``, ``layouts`` (those every seed flew, which
    the interval uses), ``rate`` (their mean), ``ci_low``, ``ci_high``, ``df``, ``seed_sd``,
    ``seed_min``, ``seed_max`` (spread of the per-seed rates), ``pooled_rate`` (all flights),
    ``wilson_low``/``_high``, ``layouts_low``/``_high``, ``method``. ``resamples`` and ``seed``
    drive the layout bootstrap only.
    """
    check_level(level)
    by = list(by)
    data = check_flights(flights, arm, by, outcome)
    rows = []
    for key, cell in data.groupby([*by, arm], sort=False, observed=True):
        rows.append({**dict(zip([*by, arm], key)), **_rate_row(cell, key, outcome, level, resamples, seed)})
    return pd.DataFrame(rows)


def per_seed(flights: pd.DataFrame, arm: str = "head", by: Sequence[str] = ("scene",),
             level: float = LEVEL) -> pd.DataFrame:
    """One row per arm, ``by`` group and training seed: ``episodes``, ``success_rate`` with its Wilson
    interval, and ``collision_rate`` and mean ``target_attention`` where the flights carry them."""
    by = list(by)
    data = check_flights(flights, arm, by)
    if "collision" in data.columns:
        data["collision"] = binary(data["collision"], "collision")
    rows = []
    for key, cell in data.groupby([*by, arm, "seed"], sort=False, observed=True):
        k, n = int(cell["success"].sum()), len(cell)
        lo, hi = wilson_interval(k, n, level)
        row = {**dict(zip([*by, arm, "seed"], key)), "episodes": n, "success_rate": k / n,
               "wilson_low": lo, "wilson_high": hi}
        if "collision" in cell.columns:
            row["collision_rate"] = float(cell["collision"].mean())
        if "target_attention" in cell.columns:
            row["target_attention"] = float(pd.to_numeric(cell["target_attention"], errors="coerce").mean())
        rows.append(row)
    return pd.DataFrame(rows)


def attention(flights: pd.DataFrame, arm: str = "head", by: Sequence[str] = ("scene",),
              column: str = "target_attention", level: float = LEVEL) -> pd.DataFrame:
    """One row per arm and ``by`` group: the mean of ``column`` over the flights that have it, the mean
    of its per-seed means, and a t-interval over those per-seed means (the seed as the unit).

    Attention is missing where a flight never saw the target, so the seed x layout matrix has holes;
    the per-seed means keep each training run's weight equal.
    """
    by = list(by)
    if column not in flights.columns:
        raise ValueError(f"flights lack the column {column!r}: fly with attention measured "
                         f"(navlnn eval eval.attention=true) or name the column with column=...")
    data = check_flights(flights, arm, by)
    data[column] = pd.to_numeric(data[column], errors="coerce")
    rows = []
    for key, cell in data.groupby([*by, arm], sort=False, observed=True):
        seen = cell[np.isfinite(cell[column])]
        seed_means = seen.groupby("seed", observed=True)[column].mean()
        lo, hi = t_interval(seed_means.to_numpy(), level)
        rows.append({**dict(zip([*by, arm], key)), "episodes": len(cell), "episodes_measured": len(seen),
                     "seeds": len(seed_means), column: float(seen[column].mean()) if len(seen) else math.nan,
                     "seed_mean": float(seed_means.mean()) if len(seed_means) else math.nan,
                     "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows)
