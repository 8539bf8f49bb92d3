"""The smallest difference between arms that a study can resolve, per condition, from its own variance.

For every pair of arms in a condition, the paired differences' variance components (between seeds,
between layouts, residual) are estimated as in :func:`navlnn.analysis.compare.differences` and
averaged over the pairs. With ``S`` seeds and ``L`` layouts the difference then has the standard
error ``se = sqrt(seed / S + layout / L + residual / (S * L))`` and Satterthwaite's ``df``, and

* ``half_width = t(1 - alpha/2, df) * se``: the smallest *observed* difference whose interval
  leaves out zero;
* ``mde = (t(1 - alpha/2, df) + t(power, df)) * se``: the smallest *true* difference that the
  interval leaves zero out of with probability ``power`` (the minimum detectable effect).

``resolvable`` is the ``mde``, but never less than ``binomial_floor``, the half-width of Newcombe's
interval for two arms at the condition's mean rate with ``S * L`` flights each: with every flight a
success the variance components are all zero, yet the flights cannot tell apart rates within it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from navlnn.analysis.compare import difference_spread, pairing_column
from navlnn.analysis.flights import check_flights, pairing_matrix
from navlnn.analysis.intervals import LEVEL, check_level, newcombe_interval, satterthwaite

POWER = 0.8


def project(seed: float, layout: float, residual: float, seeds: int, layouts: int) -> tuple[float, float]:
    """``(variance, df)`` of a mean difference over ``seeds`` x ``layouts`` cells with these components."""
    s, n = int(seeds), int(layouts)
    ms_seed, ms_layout = n * seed + residual, s * layout + residual
    scale = 1.0 / (s * n)
    terms = [(scale * ms_seed, s - 1), (scale * ms_layout, n - 1), (-scale * residual, (s - 1) * (n - 1))]
    variance = seed / s + layout / n + residual / (s * n)
    return variance, satterthwaite([(v, d) for v, d in terms if d > 0])


def binomial_floor(rate: float, flights: int, level: float = LEVEL) -> float:
    """Half-width of Newcombe's interval of the difference of two arms at ``rate`` with ``flights`` each."""
    k = int(round(rate * flights))
    low, high = newcombe_interval(k, flights, k, flights, level)
    return (high - low) / 2.0


def _components(group: pd.DataFrame, arm: str, outcome: str, pair: str) -> tuple[list[tuple], int, int]:
    """Per pair of arms, the ``(seed, layout, residual)`` components of their difference; seeds; layouts."""
    cells = {name: pairing_matrix(cell, outcome, pair, name)
             for name, cell in group.groupby(arm, sort=False, observed=True)}
    found, seeds, layouts = [], [], []
    for a, b in itertools.combinations(cells.values(), 2):
        paired = set(a.index) == set(b.index) and len(a.index) > 1
        _, spread, _ = difference_spread(a, b, paired)
        if all(math.isfinite(v) for v in (spread.seed, spread.layout, spread.residual)):
            found.append((spread.seed, spread.layout, spread.residual))
            seeds.append(spread.seeds)
            layouts.append(spread.layouts)
    return found, (min(seeds) if seeds else 0), (min(layouts) if layouts else 0)


def resolvable_differences(flights: pd.DataFrame, arm: str = "head", by: Sequence[str] = ("scene",),
                           pair_by: str | None = "auto", outcome: str = "success", level: float = LEVEL,
                           power: float = POWER, seeds: Sequence[int] = (), layouts: int | None = None) -> pd.DataFrame:
    """One row per ``by`` group and number of seeds (the study's own, then each of ``seeds``): the
    difference in ``outcome`` between two arms that the study resolves (see the module's docstring).

    ``layouts``: the layouts to project to (the study's own by default). Columns: ``by``...,
    ``seeds``, ``layouts``, ``pairs``, ``seed_var``, ``layout_var``, ``residual_var``, ``rate``,
    ``half_width``, ``mde``, ``binomial_floor``, ``resolvable`` and ``statement``.
    """
    check_level(level)
    if not 0.0 < power < 1.0:
        raise ValueError(f"power must be in (0, 1), such as 0.8; got {power!r}")
    by = list(by)
    data = check_flights(flights, arm, by, outcome)
    pair = pairing_column(data, pair_by)
    rows = []
    for key, group in (data.groupby(by, sort=False, observed=True) if by else [((), data)]):
        key = key if isinstance(key, tuple) else (key,)
        found, own_seeds, own_layouts = _components(group, arm, outcome, pair)
        if not found:
            continue
        seed, layout, residual = (float(np.mean(c)) for c in zip(*found))
        rate = float(group[outcome].mean())
        n = int(layouts or own_layouts)
        for s in dict.fromkeys([own_seeds, *(int(x) for x in seeds)]):
            variance, df = project(seed, layout, residual, s, n)
            t_level = float(stats.t.ppf(0.5 + level / 2.0, df)) if s > 1 else math.nan
            se = math.sqrt(variance)
            half, mde = t_level * se, (t_level + float(stats.t.ppf(power, df))) * se
            floor = binomial_floor(rate, s * n, level)
            resolved = max(mde, floor)
            rows.append({**dict(zip(by, key)), "seeds": s, "layouts": n, "pairs": len(found), "seed_var": seed,
                         "layout_var": layout, "residual_var": residual, "rate": rate, "half_width": half,
                         "mde": mde, "binomial_floor": floor, "resolvable": resolved,
                         "statement": f"with {s} seeds and {n} layouts a difference of {100 * resolved:.0f} "
                                      f"points is resolved ({power:.0%} power, {level:.0%} interval)"})
    return pd.DataFrame(rows)
