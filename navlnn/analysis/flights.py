"""The flights table that every analysis reads, checked once, and the seeds x layouts matrices cut from it.

One row per flight (episode) with at least the arm column (``head`` by default, or any column that
names what is compared: a recipe, a run), ``seed`` (the training seed: one training run of an arm),
``layout`` (the episode's layout, the same for every arm and seed that flew it), ``success``
(bool or 0/1), and the grouping columns (``scene`` by default). ``navlnn eval``'s ``episodes.csv``
becomes one with :func:`from_episodes`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

TRUE = {"true", "1", "1.0", "yes"}
FALSE = {"false", "0", "0.0", "no"}


def binary(column: pd.Series, name: str) -> pd.Series:
    """``column`` as floats 0/1 (bool, 0/1 or their spellings); a clear error on anything else."""
    if column.dtype == bool:
        return column.astype(float)
    if pd.api.types.is_numeric_dtype(column):
        values = column.astype(float)
        bad = ~values.isin([0.0, 1.0])
    else:
        text = column.astype(str).str.strip().str.lower()
        values = text.map(lambda v: 1.0 if v in TRUE else (0.0 if v in FALSE else np.nan))
        bad = values.isna()
    if bad.any():
        raise ValueError(f"column {name!r} must hold booleans or 0/1; row {bad.idxmax()!r} holds "
                         f"{column[bad.idxmax()]!r}")
    return values


def check_flights(flights: pd.DataFrame, arm: str, by: Sequence[str], outcome: str = "success",
                  unit: str = "seed") -> pd.DataFrame:
    """A copy of ``flights`` with ``outcome`` as 0/1 floats, after checking the columns the analysis needs."""
    if not isinstance(flights, pd.DataFrame):
        raise TypeError(f"flights must be a pandas DataFrame (one row per flight), got {type(flights).__name__}")
    needed = [arm, unit, "layout", outcome, *by]
    missing = [c for c in dict.fromkeys(needed) if c not in flights.columns]
    if missing:
        raise ValueError(f"flights lack the column(s) {missing}; it has {list(flights.columns)}. Name the "
                         f"arm column with arm=..., the grouping with by=[...], or rename the columns")
    if flights.empty:
        raise ValueError("flights is empty: there is nothing to analyse")
    nulls = [c for c in dict.fromkeys(needed) if flights[c].isna().any()]
    if nulls:
        raise ValueError(f"column(s) {nulls} have empty cells; drop or fill those flights first")
    out = flights.copy()
    out[outcome] = binary(out[outcome], outcome)
    return out


def matrix(cell: pd.DataFrame, outcome: str = "success", rows: str = "seed",
           layouts: Sequence | None = None) -> pd.DataFrame:
    """The ``rows`` x layout matrix of mean ``outcome`` of one arm in one condition.

    A layout flown more than once by a seed counts once, at its mean. Only layouts that every row
    flew are kept (the crossed design the intervals assume); ``layouts`` restricts them further.
    """
    table = cell.pivot_table(index=rows, columns="layout", values=outcome, aggfunc="mean", observed=True)
    table = table.dropna(axis=1, how="any")
    if layouts is not None:
        table = table.loc[:, [c for c in table.columns if c in set(layouts)]]
    return table.sort_index(axis=0).sort_index(axis=1)


def pairing_matrix(cell: pd.DataFrame, outcome: str, pair_by: str, arm_name: object) -> pd.DataFrame:
    """:func:`matrix` with rows keyed by ``pair_by``, which must name one training run per value."""
    runs = cell.groupby(pair_by, observed=True)["seed"].nunique()
    if (runs > 1).any():
        raise ValueError(f"pair_by={pair_by!r} does not name one training run of arm {arm_name!r}: value "
                         f"{runs.idxmax()!r} covers {int(runs.max())} training seeds. Pair by 'seed' instead")
    return matrix(cell, outcome, rows=pair_by)


def from_episodes(episodes: pd.DataFrame, arm: str = "model", seed_pattern: str = r"seed(\d+)") -> pd.DataFrame:
    """``navlnn eval``'s ``episodes.csv`` as a flights table: ``seed`` read from the checkpoint path
    (``seed_pattern``), ``layout`` from the episode's own seed (and task), ``head`` from ``arm``."""
    for column in ("checkpoint", "seed", arm, "success"):
        if column not in episodes.columns:
            raise ValueError(f"episodes lack the column {column!r}; is this navlnn eval's episodes.csv?")
    out = episodes.rename(columns={"seed": "layout"}).copy()
    if "task" in out.columns:  # an episode seed names one layout of one task
        out["layout"] = out["task"].astype(str) + "/" + out["layout"].astype(str)
    seeds = out["checkpoint"].astype(str).str.extract(seed_pattern, expand=False)
    if seeds.isna().any():
        raise ValueError(f"checkpoint {out['checkpoint'][seeds.isna()].iloc[0]!r} names no training seed "
                         f"matching {seed_pattern!r}; pass seed_pattern=...")
    out["seed"] = seeds.astype(int)
    if arm != "head":
        out["head"] = out[arm]
    return out
