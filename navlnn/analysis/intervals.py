"""Interval arithmetic on arrays: binomial intervals, t-intervals, and the seed x layout intervals.

A study's outcomes for one arm in one condition form a matrix ``y`` of training seeds (rows) by
layouts (columns), each cell a success rate (0/1 for one flight). Every training seed flies the same
layouts, so seeds and layouts are *crossed*: the mean of ``y`` varies with the seeds drawn, with the
layouts drawn, and with the flights' own noise. :func:`crossed_t_interval` estimates all three from
the two-way analysis of variance and gives a t-interval with Satterthwaite's degrees of freedom;
the other intervals here are the candidates it was checked against (``docs/analysis.md``).

scipy does the distribution arithmetic (``scipy.stats.t``, ``scipy.stats.binomtest``,
``scipy.stats.bootstrap``); the variance components are the textbook two-way random-effects
estimates, truncated at zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from navlnn.evaluation import metrics

LEVEL = 0.95
RESAMPLES = 2000


def check_level(level: float) -> float:
    """``level`` if it is a confidence level in (0, 1); a clear error otherwise."""
    if not 0.0 < float(level) < 1.0:
        raise ValueError(f"level must be a confidence level in (0, 1), such as 0.95; got {level!r}")
    return float(level)


def wilson_interval(successes: int, n: int, level: float = LEVEL) -> tuple[float, float]:
    """Wilson score interval of a binomial rate (``scipy.stats.binomtest``); ``(nan, nan)`` for ``n == 0``.

    The one Wilson interval of navlnn: ``navlnn.evaluation.metrics.wilson_interval`` (exactly 0 or 1
    at an end when no or every trial succeeded), which ``navlnn eval``'s summaries use too.
    """
    check_level(level)
    return metrics.wilson_interval(successes, n, level)


def newcombe_interval(successes_a: int, n_a: int, successes_b: int, n_b: int,
                      level: float = LEVEL) -> tuple[float, float]:
    """Newcombe's hybrid score interval (1998, method 10) of ``p_a - p_b`` from two Wilson intervals."""
    pa, pb = successes_a / n_a, successes_b / n_b
    la, ua = wilson_interval(successes_a, n_a, level)
    lb, ub = wilson_interval(successes_b, n_b, level)
    d = pa - pb
    return (d - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2), d + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2))


def t_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """t-interval of the mean of ``values`` (``scipy.stats.t``); ``(nan, nan)`` for fewer than 2 values."""
    check_level(level)
    x = np.asarray(values, float)
    if len(x) < 2:
        return (math.nan, math.nan)
    mean, se = float(x.mean()), float(x.std(ddof=1)) / math.sqrt(len(x))
    if se == 0.0:
        return (mean, mean)
    low, high = stats.t.interval(level, len(x) - 1, loc=mean, scale=se)
    return (float(low), float(high))


@dataclass(frozen=True)
class Spread:
    """The variance of a mean and its degrees of freedom, with the components it was built from.

    ``seed``, ``layout`` and ``residual`` are the variance components of one cell (between training
    seeds, between layouts, and what is left: the seed x layout interaction and the flight's own
    noise), so the variance of the mean of ``seeds`` x ``layouts`` cells is
    ``seed / seeds + layout / layouts + residual / (seeds * layouts)``.
    """

    variance: float
    df: float
    seed: float
    layout: float
    residual: float
    seeds: int
    layouts: int

    def interval(self, centre: float, level: float = LEVEL) -> tuple[float, float]:
        """The t-interval ``centre +- t(df) * sqrt(variance)``."""
        check_level(level)
        if self.variance <= 0.0 or not math.isfinite(self.df):
            return (centre, centre)
        half = float(stats.t.ppf(0.5 + level / 2.0, self.df)) * math.sqrt(self.variance)
        return (centre - half, centre + half)


def satterthwaite(terms: Sequence[tuple[float, float]]) -> float:
    """Degrees of freedom of a sum of scaled mean squares, ``(sum v_i)^2 / sum(v_i^2 / df_i)``,
    where ``terms`` holds ``(v_i, df_i)``: a term's contribution to the variance and its df."""
    total = sum(v for v, _ in terms)
    denominator = sum(v * v / df for v, df in terms if df > 0 and v != 0.0)
    return total * total / denominator if denominator > 0 else math.inf


def _matrix(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, float)
    if y.ndim != 2 or y.size == 0 or not np.all(np.isfinite(y)):
        raise ValueError(f"need a finite seeds x layouts matrix, got shape {y.shape}")
    return y


def crossed_spread(y: np.ndarray) -> Spread:
    """The variance of ``y.mean()`` for a seeds x layouts matrix with seeds and layouts both random.

    Two-way random-effects ANOVA: mean squares ``MS_seed``, ``MS_layout`` and ``MS_residual``; the
    components truncated at zero, so the variance is the largest of ``MS_seed + MS_layout -
    MS_residual``, ``MS_seed``, ``MS_layout`` and ``MS_residual``, over ``seeds * layouts``. One seed
    leaves the layouts' variance alone (a t-interval over layouts); one layout, the seeds' alone.
    """
    y = _matrix(y)
    s, n = y.shape
    grand = y.mean()
    seed_means, layout_means = y.mean(axis=1), y.mean(axis=0)
    ms_seed = n * float(np.sum((seed_means - grand) ** 2)) / (s - 1) if s > 1 else math.nan
    ms_layout = s * float(np.sum((layout_means - grand) ** 2)) / (n - 1) if n > 1 else math.nan
    if s == 1 or n == 1:
        ms, df = (ms_layout, n - 1) if s == 1 else (ms_seed, s - 1)
        if s == 1 and n == 1:
            return Spread(math.nan, math.nan, math.nan, math.nan, math.nan, s, n)
        return Spread(ms / (s * n), df, ms / n if n == 1 else 0.0, ms / s if s == 1 else 0.0, 0.0, s, n)
    resid = y - seed_means[:, None] - layout_means[None, :] + grand
    df_resid = (s - 1) * (n - 1)
    ms_resid = float(np.sum(resid ** 2)) / df_resid
    candidates = [
        [(ms_seed, s - 1), (ms_layout, n - 1), (-ms_resid, df_resid)],
        [(ms_seed, s - 1)], [(ms_layout, n - 1)], [(ms_resid, df_resid)],
    ]
    terms = max(candidates, key=lambda t: sum(v for v, _ in t))
    scale = 1.0 / (s * n)
    variance = scale * sum(v for v, _ in terms)
    df = satterthwaite([(scale * v, d) for v, d in terms])
    return Spread(variance, df, max(0.0, (ms_seed - ms_resid) / n), max(0.0, (ms_layout - ms_resid) / s),
                  ms_resid, s, n)


def crossed_t_interval(y: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """t-interval of ``y.mean()`` with seeds and layouts both random (:func:`crossed_spread`)."""
    y = _matrix(y)
    return crossed_spread(y).interval(float(y.mean()), level)


def seed_t_interval(y: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """t-interval over the per-seed means (the seed as the unit, layouts fixed)."""
    return t_interval(_matrix(y).mean(axis=1), level)


def _percentile(means: np.ndarray, level: float) -> tuple[float, float]:
    low, high = np.quantile(means, [0.5 - level / 2.0, 0.5 + level / 2.0])
    return (float(low), float(high))


def layout_bootstrap_interval(y: np.ndarray, level: float = LEVEL, resamples: int = RESAMPLES,
                              seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap over layouts of the per-layout means (seeds fixed; ``scipy.stats.bootstrap``)."""
    check_level(level)
    means = _matrix(y).mean(axis=0)
    if len(means) < 2 or np.all(means == means[0]):
        return (float(means.mean()), float(means.mean()))
    ci = stats.bootstrap((means,), np.mean, confidence_level=level, n_resamples=int(resamples),
                         method="percentile", rng=np.random.default_rng(seed)).confidence_interval
    return (float(ci.low), float(ci.high))


def two_stage_bootstrap_interval(y: np.ndarray, level: float = LEVEL, resamples: int = RESAMPLES,
                                 seed: int = 0) -> tuple[float, float]:
    """Percentile interval of a two-stage bootstrap: seeds resampled, then layouts within each seed."""
    check_level(level)
    y = _matrix(y)
    s, n = y.shape
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, s, (int(resamples), s))
    cols = rng.integers(0, n, (int(resamples), s, n))
    return _percentile(y[rows[:, :, None], cols].mean(axis=(1, 2)), level)


def crossed_bootstrap_interval(y: np.ndarray, level: float = LEVEL, resamples: int = RESAMPLES,
                               seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the crossed (pigeonhole) bootstrap: seeds and layouts resampled independently."""
    check_level(level)
    y = _matrix(y)
    s, n = y.shape
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, s, (int(resamples), s))
    cols = rng.integers(0, n, (int(resamples), n))
    return _percentile(y[rows[:, :, None], cols[:, None, :]].mean(axis=(1, 2)), level)


def unpaired_spread(a: np.ndarray, b: np.ndarray, shared_layouts: bool) -> Spread:
    """The variance of ``a.mean() - b.mean()`` for two arms trained with different seeds.

    Each arm's own variance comes from :func:`crossed_spread`; when both flew the same layouts
    (columns in the same order), the covariance of their layout means is taken off twice.
    """
    va, vb = crossed_spread(a), crossed_spread(b)
    terms = [(va.variance, va.df), (vb.variance, vb.df)]
    if shared_layouts:
        if a.shape[1] != b.shape[1]:
            raise ValueError("shared layouts need the same layouts (columns) in both arms")
        n = a.shape[1]
        cov = float(np.cov(a.mean(axis=0), b.mean(axis=0), ddof=1)[0, 1]) / n if n > 1 else 0.0
        terms.append((-2.0 * cov, n - 1))
    variance = max(0.0, sum(v for v, _ in terms))
    return Spread(variance, satterthwaite(terms), va.seed + vb.seed, va.layout + vb.layout,
                  va.residual + vb.residual, min(va.seeds, vb.seeds), min(va.layouts, vb.layouts))
