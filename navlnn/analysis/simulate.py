"""Simulated studies with a known truth, to measure how often each interval method covers it.

A flight of arm ``k`` with training seed ``s`` on layout ``l`` succeeds with probability
``expit(logit(rate_k) + a_s + c_ks + b_l + g_kl)``: ``a_s`` is the part of the seed's effect that
arms trained with that seed share (its data split and draws), ``c_ks`` the arm's own part, ``b_l``
the layout's difficulty and ``g_kl`` how the arm suits the layout, all normal with mean 0. The true
rate of an arm is the mean over seeds and layouts, ``E expit(logit(rate_k) + Z * sigma)`` (by
Gauss-Hermite quadrature); its difference is what the comparisons estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import special

from navlnn.analysis.compare import difference_spread
from navlnn.analysis.intervals import (LEVEL, crossed_bootstrap_interval, crossed_t_interval,
                                       layout_bootstrap_interval, newcombe_interval, seed_t_interval,
                                       two_stage_bootstrap_interval, wilson_interval)
from navlnn.analysis.rates import hull, rate_interval

QUADRATURE_POINTS = 80


@dataclass(frozen=True)
class Scenario:
    """One simulated study: two arms sharing ``seeds`` training seeds and ``layouts`` layouts.

    ``rate`` and ``rate_reference``: each arm's success at a typical seed and layout (the logit
    offset); ``seed_sd``, ``layout_sd``, ``interaction_sd``: standard deviations in logit space;
    ``shared``: the fraction of the seed variance that the arms share.
    """

    seeds: int = 5
    layouts: int = 17
    seed_sd: float = 0.8
    layout_sd: float = 1.0
    interaction_sd: float = 0.5
    shared: float = 0.5
    rate: float = 0.75
    rate_reference: float = 0.65

    def sigma(self) -> float:
        """The total logit-space standard deviation of one flight's success probability."""
        return math.sqrt(self.seed_sd ** 2 + self.layout_sd ** 2 + self.interaction_sd ** 2)


def true_rate(rate: float, sigma: float) -> float:
    """``E expit(logit(rate) + sigma * Z)`` for a standard normal ``Z`` (Gauss-Hermite quadrature)."""
    z, w = np.polynomial.hermite_e.hermegauss(QUADRATURE_POINTS)
    return float(np.sum(w * special.expit(special.logit(rate) + sigma * z)) / np.sum(w))


def outcomes(scenario: Scenario, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One simulated study: the seeds x layouts 0/1 outcomes of the arm and of the reference."""
    s, n = scenario.seeds, scenario.layouts
    shared_seed = rng.normal(0.0, scenario.seed_sd * math.sqrt(scenario.shared), (s, 1))
    layout = rng.normal(0.0, scenario.layout_sd, (1, n))
    out = []
    for rate in (scenario.rate, scenario.rate_reference):
        own = rng.normal(0.0, scenario.seed_sd * math.sqrt(1.0 - scenario.shared), (s, 1))
        suits = rng.normal(0.0, scenario.interaction_sd, (1, n))
        p = special.expit(special.logit(rate) + shared_seed + own + layout + suits)
        out.append((rng.random((s, n)) < p).astype(float))
    return out[0], out[1]


def flights(scenario: Scenario, rng: np.random.Generator, scene: str = "simulated",
            heads: tuple[str, str] = ("arm", "reference")) -> pd.DataFrame:
    """One simulated study as a flights table (``head``, ``seed``, ``layout``, ``scene``, ``success``)."""
    rows = []
    for head, y in zip(heads, outcomes(scenario, rng)):
        for (s, n), value in np.ndenumerate(y):
            rows.append({"head": head, "seed": s, "layout": n, "scene": scene, "success": bool(value)})
    return pd.DataFrame(rows)


Interval = Callable[[np.ndarray, float, int, int], tuple[float, float]]


def _wilson(y: np.ndarray, level: float, resamples: int, seed: int) -> tuple[float, float]:
    return wilson_interval(int(y.sum()), y.size, level)


def _chosen_rate(y: np.ndarray, level: float, resamples: int, seed: int) -> tuple[float, float]:
    return rate_interval(y, int(y.sum()), y.size, level)[:2]


RATE_METHODS: dict[str, Interval] = {
    "pooled Wilson": _wilson,
    "layouts bootstrap": layout_bootstrap_interval,
    "seed t": lambda y, level, r, s: seed_t_interval(y, level),
    "two-stage bootstrap": two_stage_bootstrap_interval,
    "crossed bootstrap": crossed_bootstrap_interval,
    "seeds+layouts t": lambda y, level, r, s: crossed_t_interval(y, level),
    "seeds+layouts t, at least Wilson (chosen)": _chosen_rate,
}

Difference = Callable[[np.ndarray, np.ndarray, float, int, int], tuple[float, float]]


def _chosen_difference(a: np.ndarray, b: np.ndarray, level: float, resamples: int, seed: int) -> tuple[float, float]:
    diff, spread, _ = difference_spread(pd.DataFrame(a), pd.DataFrame(b), paired=True)
    newcombe = newcombe_interval(int(a.sum()), a.size, int(b.sum()), b.size, level)
    return hull(spread.interval(diff, level), newcombe)


DIFFERENCE_METHODS: dict[str, Difference] = {
    "pooled Newcombe": lambda a, b, level, r, s: newcombe_interval(int(a.sum()), a.size, int(b.sum()), b.size,
                                                                   level),
    "layouts bootstrap": lambda a, b, level, r, s: layout_bootstrap_interval(a - b, level, r, s),
    "seed t": lambda a, b, level, r, s: seed_t_interval(a - b, level),
    "two-stage bootstrap": lambda a, b, level, r, s: two_stage_bootstrap_interval(a - b, level, r, s),
    "crossed bootstrap": lambda a, b, level, r, s: crossed_bootstrap_interval(a - b, level, r, s),
    "seeds+layouts t": lambda a, b, level, r, s: crossed_t_interval(a - b, level),
    "seeds+layouts t, at least Newcombe (chosen)": _chosen_difference,
}


def coverage(scenario: Scenario, studies: int = 1000, level: float = LEVEL, resamples: int = 1000, seed: int = 0,
             rate_methods: Mapping[str, Interval] | None = None,
             difference_methods: Mapping[str, Difference] | None = None) -> pd.DataFrame:
    """How often each method's interval holds the true rate (of the arm) and the true difference
    (arm minus reference, paired by seed and layout) over ``studies`` simulated studies.

    One row per target and method: ``coverage``, ``width`` (mean width), ``studies``, and the scenario.
    """
    rate_methods = RATE_METHODS if rate_methods is None else rate_methods
    difference_methods = DIFFERENCE_METHODS if difference_methods is None else difference_methods
    sigma = scenario.sigma()
    truth_rate = true_rate(scenario.rate, sigma)
    truth_diff = truth_rate - true_rate(scenario.rate_reference, sigma)
    rng = np.random.default_rng(seed)
    hits: dict[tuple[str, str], list[tuple[bool, float]]] = {}
    for i in range(int(studies)):
        a, b = outcomes(scenario, rng)
        for name, method in rate_methods.items():
            lo, hi = method(a, level, resamples, i)
            hits.setdefault(("rate", name), []).append((lo <= truth_rate <= hi, hi - lo))
        for name, method in difference_methods.items():
            lo, hi = method(a, b, level, resamples, i)
            hits.setdefault(("difference", name), []).append((lo <= truth_diff <= hi, hi - lo))
    rows = []
    for (target, name), values in hits.items():
        covered, widths = zip(*values)
        rows.append({"target": target, "method": name, "coverage": float(np.mean(covered)),
                     "width": float(np.nanmean(widths)), "studies": int(studies), **asdict(scenario)})
    return pd.DataFrame(rows)
