"""The interval arithmetic against published values, and the seeds x layouts interval's known cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from navlnn.analysis.intervals import (crossed_bootstrap_interval, crossed_spread, crossed_t_interval,
                                       layout_bootstrap_interval, newcombe_interval, seed_t_interval, t_interval,
                                       two_stage_bootstrap_interval, unpaired_spread, wilson_interval)


@pytest.mark.parametrize("k, n, low, high", [
    (81, 263, 0.2553, 0.3662),  # Newcombe (1998), Stat. Med. 17:857, table I, method 3
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_matches_newcombe_1998(k, n, low, high):
    assert wilson_interval(k, n) == pytest.approx((low, high), abs=5e-5)


@pytest.mark.parametrize("a, b, low, high", [
    ((56, 70), (48, 80), 0.0524, 0.3339),  # Newcombe (1998), Stat. Med. 17:873, table II, method 10
    ((9, 10), (3, 10), 0.1705, 0.8090),
    ((5, 56), (0, 29), -0.0381, 0.1926),
])
def test_newcombe_difference_matches_newcombe_1998(a, b, low, high):
    assert newcombe_interval(*a, *b) == pytest.approx((low, high), abs=5e-5)


def test_t_interval_matches_students_sleep_data():
    # Cushny and Peebles' extra hours of sleep, drug 2 minus drug 1 (Student 1908); R's t.test gives
    # mean 1.58, 95 % interval [0.7001142, 2.4598858]
    diff = [1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4]
    assert t_interval(diff) == pytest.approx((0.7001142, 2.4598858), abs=1e-6)
    assert t_interval([0.5]) == (pytest.approx(math.nan, nan_ok=True), pytest.approx(math.nan, nan_ok=True))


def test_bad_level_and_counts_are_refused_with_the_argument_named():
    with pytest.raises(ValueError, match="level"):
        wilson_interval(3, 10, level=95)
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)


def test_crossed_spread_is_the_two_way_anova_by_hand():
    y = np.array([[1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 0.0]])
    s, n = y.shape
    g = y.mean()
    ms_seed = n * sum((y[i].mean() - g) ** 2 for i in range(s)) / (s - 1)
    ms_layout = s * sum((y[:, j].mean() - g) ** 2 for j in range(n)) / (n - 1)
    ms_resid = sum((y[i, j] - y[i].mean() - y[:, j].mean() + g) ** 2
                   for i in range(s) for j in range(n)) / ((s - 1) * (n - 1))
    expected = max(ms_seed + ms_layout - ms_resid, ms_seed, ms_layout, ms_resid) / (s * n)
    spread = crossed_spread(y)
    assert spread.variance == pytest.approx(expected)
    assert 1 < spread.df < s * n
    assert spread.seed == pytest.approx(max(0.0, (ms_seed - ms_resid) / n))


def test_one_seed_reduces_to_the_t_interval_over_layouts():
    layouts = np.array([[1, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1]], float)
    assert crossed_t_interval(layouts) == pytest.approx(t_interval(layouts[0]))


def test_one_layout_reduces_to_the_t_interval_over_seeds():
    seeds = np.array([[0.6], [0.8], [0.75], [0.5]])
    assert crossed_t_interval(seeds) == pytest.approx(seed_t_interval(seeds))


def test_without_seed_or_layout_variance_it_is_close_to_the_pooled_interval():
    rng = np.random.default_rng(3)
    ratios, widths = [], []
    for _ in range(50):
        y = (rng.random((10, 60)) < 0.7).astype(float)  # every seed and layout alike
        p = y.mean()
        ratios.append(crossed_spread(y).variance / (p * (1 - p) / y.size))
        low, high = crossed_t_interval(y)
        wl, wh = wilson_interval(int(y.sum()), y.size)
        widths.append((high - low) / (wh - wl))
    # the binomial variance, a little above it on average: the components are truncated at zero
    assert 1.0 < np.mean(ratios) < 1.35
    assert 0.95 < np.median(widths) < 1.15


def test_seed_variance_widens_the_interval_beyond_the_pooled_one():
    y = np.vstack([np.ones(17), np.r_[np.ones(10), np.zeros(7)], np.r_[np.ones(3), np.zeros(14)]])
    low, high = crossed_t_interval(y)
    wl, wh = wilson_interval(int(y.sum()), y.size)
    assert high - low > 2 * (wh - wl)


def test_bootstraps_are_seeded_and_hold_the_mean():
    rng = np.random.default_rng(0)
    y = (rng.random((5, 17)) < 0.7).astype(float)
    for method in (layout_bootstrap_interval, two_stage_bootstrap_interval, crossed_bootstrap_interval):
        low, high = method(y, 0.95, 500, 1)
        assert low < y.mean() < high
        assert method(y, 0.95, 500, 1) == (low, high)


def test_unpaired_spread_adds_the_arms_and_takes_off_shared_layouts():
    rng = np.random.default_rng(1)
    hard = rng.random(17) < 0.4
    a = (rng.random((3, 17)) < np.where(hard, 0.2, 0.9)).astype(float)
    b = (rng.random((4, 17)) < np.where(hard, 0.1, 0.8)).astype(float)
    apart, shared = unpaired_spread(a, b, False), unpaired_spread(a, b, True)
    assert apart.variance == pytest.approx(crossed_spread(a).variance + crossed_spread(b).variance)
    assert shared.variance < apart.variance  # both arms find the same layouts hard
