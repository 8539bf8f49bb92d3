"""Differences between arms (heads, recipes, a run before and after a change), paired where they share seeds.

Arms trained with the same seed share that seed's data split, batch order and augmentation draws,
so their difference on one seed cancels what the seed did to both. :func:`differences` pairs two
arms by the seed they share (``pair_by``: ``seed``, or ``split_seed`` where the flights carry role
seeds) and by layout, and takes the seeds x layouts t-interval of the matrix of paired differences.
Arms that share no seed (or not all of them) are compared unpaired: each arm's own seeds x layouts
variance, less the covariance of their shared layouts. Either way the interval is widened, where it
is narrower, to Newcombe's interval of the pooled counts (flights taken as independent), which keeps
a width when both arms succeeded on every flight.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from navlnn.analysis.flights import check_flights, pairing_matrix
from navlnn.analysis.intervals import (LEVEL, RESAMPLES, Spread, check_level, crossed_spread,
                                       layout_bootstrap_interval, newcombe_interval, t_interval, unpaired_spread)
from navlnn.analysis.rates import hull

METHOD = "seeds+layouts t, at least Newcombe"
ROLE_SEEDS = ("split_seed", "augment_seed", "init_seed")


def pairing_column(flights: pd.DataFrame, pair_by: str | None) -> str:
    """The column that pairs arms: ``pair_by``, or with ``"auto"`` the data-split seed where the flights
    carry one (``split_seed``) and the training seed otherwise."""
    if pair_by == "auto":
        return "split_seed" if "split_seed" in flights.columns else "seed"
    if pair_by is None:
        return "seed"
    if pair_by not in flights.columns:
        raise ValueError(f"pair_by={pair_by!r} is not a column of flights; use 'auto', 'seed' or one of "
                         f"{[c for c in ROLE_SEEDS if c in flights.columns]}")
    return pair_by


def difference_spread(a: pd.DataFrame, b: pd.DataFrame, paired: bool) -> tuple[float, Spread, np.ndarray | None]:
    """``(difference, spread, per-seed differences or None)`` of two seeds x layouts matrices."""
    shared = [c for c in a.columns if c in set(b.columns)]
    if paired:
        keys = list(a.index)
        d = a.loc[keys, shared].to_numpy() - b.loc[keys, shared].to_numpy()
        return float(d.mean()), crossed_spread(d), d.mean(axis=1)
    if shared:
        ya, yb = a[shared].to_numpy(), b[shared].to_numpy()
        return float(ya.mean() - yb.mean()), unpaired_spread(ya, yb, True), None
    ya, yb = a.to_numpy(), b.to_numpy()
    return float(ya.mean() - yb.mean()), unpaired_spread(ya, yb, False), None


def _layout_only(a: pd.DataFrame, b: pd.DataFrame, level: float, resamples: int, seed: int) -> tuple[float, float]:
    """The older interval: per-layout differences of seed-averaged success, bootstrapped over layouts."""
    shared = [c for c in a.columns if c in set(b.columns)]
    if not shared:
        return (math.nan, math.nan)
    d = (a[shared].mean(axis=0) - b[shared].mean(axis=0)).to_numpy()[None, :]
    return layout_bootstrap_interval(d, level, resamples, seed)


def compare_cells(cell_a: pd.DataFrame, cell_b: pd.DataFrame, names: tuple, outcome: str, pair_by: str,
                  level: float, resamples: int, seed: int) -> dict:
    """The columns of one difference row: ``cell_a`` minus ``cell_b`` (``names``: the two arms)."""
    a = pairing_matrix(cell_a, outcome, pair_by, names[0])
    b = pairing_matrix(cell_b, outcome, pair_by, names[1])
    paired = set(a.index) == set(b.index) and len(a.index) > 1
    diff, spread, seed_diffs = difference_spread(a, b, paired)
    se = math.sqrt(spread.variance) if spread.variance > 0 else 0.0
    p_value = float(2 * stats.t.sf(abs(diff) / se, spread.df)) if se > 0 else math.nan
    ka, na, kb, nb = int(cell_a[outcome].sum()), len(cell_a), int(cell_b[outcome].sum()), len(cell_b)
    newcombe = newcombe_interval(ka, na, kb, nb, level)
    low, high = hull(spread.interval(diff, level), newcombe)
    sl, sh = t_interval(seed_diffs, level) if seed_diffs is not None else (math.nan, math.nan)
    ll, lh = _layout_only(a, b, level, resamples, seed)
    return {"difference": diff, "ci_low": max(-1.0, low), "ci_high": min(1.0, high), "df": spread.df,
            "p_value": p_value, "seeds": a.shape[0], "seeds_reference": b.shape[0],
            "layouts": len([c for c in a.columns if c in set(b.columns)]) or a.shape[1],
            "paired_by": pair_by if paired else "none", "newcombe_low": newcombe[0], "newcombe_high": newcombe[1],
            "layouts_low": ll, "layouts_high": lh, "seed_t_low": sl, "seed_t_high": sh, "method": METHOD}


def differences(flights: pd.DataFrame, arm: str = "head", reference: object | None = None,
                by: Sequence[str] = ("scene",), pair_by: str | None = "auto", outcome: str = "success",
                level: float = LEVEL, resamples: int = RESAMPLES, seed: int = 0) -> pd.DataFrame:
    """Each arm minus ``reference`` (or, with no reference, every pair in order of appearance) per ``by``
    group, with the study's interval.

    Columns: ``by``..., ``arm``, ``reference``, ``difference``, ``ci_low``, ``ci_high``, ``df``,
    ``p_value`` (two-sided, from the same t), ``seeds`` and ``seeds_reference`` (training runs
    of each arm), ``layouts`` (shared), ``paired_by`` (the pairing
    column, or ``none``), and labelled extra intervals: ``newcombe_*`` (flights independent),
    ``layouts_*`` (bootstrap over layouts, seeds averaged: the older interval) and ``seed_t_*``
    (t over per-seed differences, layouts fixed; paired only). A before/after comparison is the
    same call with the run as the arm (``arm="run", reference="before", by=["head", "scene"]``).
    """
    check_level(level)
    by = list(by)
    data = check_flights(flights, arm, by, outcome)
    pair = pairing_column(data, pair_by)
    if reference is not None and reference not in set(data[arm]):
        raise ValueError(f"reference={reference!r} is not a value of column {arm!r}; it holds "
                         f"{list(dict.fromkeys(data[arm]))}")
    rows = []
    for key, group in (data.groupby(by, sort=False, observed=True) if by else [((), data)]):
        key = key if isinstance(key, tuple) else (key,)
        cells = dict(list(group.groupby(arm, sort=False, observed=True)))
        if reference is not None:
            pairs = [(name, reference) for name in cells if name != reference and reference in cells]
        else:
            pairs = list(itertools.combinations(cells, 2))
        for name, ref in pairs:
            row = compare_cells(cells[name], cells[ref], (name, ref), outcome, pair, level, resamples, seed)
            rows.append({**dict(zip(by, key)), arm: name, "reference": ref, **row})
    return pd.DataFrame(rows)
