"""Metrics on hand-made trajectories, and the interval computations against published values."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from navlnn.evaluation.metrics import (
    aggregate,
    bootstrap_interval,
    command_roughness,
    episode_metrics,
    path_length,
    wilson_interval,
)
from navlnn.rollout.flight import Flight

DT = 0.1


def make_episode(pos_xy, outcome="success", actions=None, clearance=None, distance=None) -> Flight:
    """An episode flown along ``pos_xy`` at 1.5 m, one state per DT seconds."""
    pos = np.column_stack([np.asarray(pos_xy, float), np.full(len(pos_xy), 1.5)])
    n = len(pos)
    actions = np.zeros((n - 1, 4)) if actions is None else np.asarray(actions, float)
    return Flight(
        seed=7, scene="summer", task="fly_to_target", outcome=outcome, env_dt=DT,
        time_s=np.arange(n) * DT, pos_world=pos, yaw=np.zeros(n), vel_world=np.zeros((n, 3)),
        distance_to_approach=np.linspace(5.0, 0.2, n) if distance is None else np.asarray(distance, float),
        clearance=np.full(n, 2.0) if clearance is None else np.asarray(clearance, float),
        target_pos_world=np.tile([6.0, 0.0, 1.5], (n, 1)), target_yaw=np.zeros(n),
        approach_world=np.tile([5.0, 0.0, 1.5], (n, 1)), action=actions.astype(np.float32),
        policy_action=actions.astype(np.float32), dt=np.full(n - 1, DT), frame_used=np.ones(n - 1, bool))


def test_path_length_of_an_l_shaped_path():
    assert path_length(np.array([[0, 0, 0], [3, 0, 0], [3, 4, 0]])) == pytest.approx(7.0)
    assert path_length(np.zeros((1, 3))) == 0.0


def test_successful_episode_metrics():
    # straight 4 m, then a 3 m side step: 7 m, against an expert path of 5 m
    ep = make_episode([[0, 0], [2, 0], [4, 0], [4, 3]], clearance=[3.0, 0.4, 1.0, 2.0], distance=[5, 3, 1, 0.3])
    m = episode_metrics(ep, expert_path_m=5.0)
    assert m["success"] and not (m["collision"] or m["timeout"] or m["out_of_bounds"])
    assert m["path_length_m"] == pytest.approx(7.0)
    assert m["path_ratio"] == pytest.approx(1.4)
    assert m["time_to_target_s"] == pytest.approx(0.3)
    assert m["min_clearance_m"] == pytest.approx(0.4)
    assert m["final_distance_m"] == pytest.approx(0.3)
    assert m["steps"] == 3


def test_failed_episode_has_no_time_to_target_nor_path_ratio():
    m = episode_metrics(make_episode([[0, 0], [1, 0]], outcome="collision"), expert_path_m=5.0)
    assert m["collision"] and not m["success"]
    assert math.isnan(m["time_to_target_s"]) and math.isnan(m["path_ratio"])
    m = episode_metrics(make_episode([[0, 0], [1, 0]], outcome="timeout"))
    assert m["timeout"] and math.isnan(m["expert_path_length_m"])
    with pytest.raises(ValueError, match="unknown outcome"):
        episode_metrics(make_episode([[0, 0], [1, 0]], outcome="crashed"))


def test_command_roughness_is_the_mean_squared_rate_of_change():
    constant = np.tile([0.5, 0.0, 0.0, 0.0], (5, 1))
    assert command_roughness(constant, DT) == 0.0
    # vx alternates 0, 1, 0, 1: each change is 1 per 0.1 s -> rate 10/s, squared 100
    alternating = np.zeros((4, 4))
    alternating[1::2, 0] = 1.0
    assert command_roughness(alternating, DT) == pytest.approx(100.0)
    # a ramp of 0.1 per step on two axes: rate 1/s on each -> 2
    ramp = np.zeros((6, 4))
    ramp[:, 1] = ramp[:, 3] = np.arange(6) * 0.1
    assert command_roughness(ramp, DT) == pytest.approx(2.0)
    assert math.isnan(command_roughness(np.zeros((1, 4)), DT))
    ep = make_episode([[0, 0], [1, 0], [2, 0], [3, 0], [4, 0]], actions=alternating)
    assert episode_metrics(ep)["command_roughness"] == pytest.approx(100.0)


@pytest.mark.parametrize("k,n,low,high", [
    # Newcombe (1998), Statistics in Medicine 17:857, table I, method 3 (Wilson score, no correction)
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_interval_matches_published_values(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=1e-4) and hi == pytest.approx(high, abs=1e-4)


def test_wilson_interval_edges_and_level():
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    z2 = 1.959963984540054 ** 2
    assert wilson_interval(0, 10)[1] == pytest.approx(z2 / (10 + z2))  # closed form for zero successes
    wide, narrow = wilson_interval(5, 10, 0.99), wilson_interval(5, 10, 0.8)
    assert wide[0] < narrow[0] < 0.5 < narrow[1] < wide[1]
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
    with pytest.raises(ValueError):
        wilson_interval(11, 10)


def test_bootstrap_interval_covers_the_mean_and_is_reproducible():
    values = np.random.default_rng(3).normal(10.0, 2.0, 200)
    lo, hi = bootstrap_interval(values, seed=1)
    assert lo < values.mean() < hi
    assert 0.3 < hi - lo < 0.8  # about 2 * 1.96 * 2 / sqrt(200) = 0.55
    assert bootstrap_interval(values, seed=1) == (lo, hi)
    assert bootstrap_interval([4.0, float("nan")]) == (4.0, 4.0)
    assert all(math.isnan(v) for v in bootstrap_interval([]))


def test_wilson_interval_is_the_closed_form_to_1e_12():
    for n in (1, 7, 51, 263):
        for k in range(n + 1):
            for level in (0.8, 0.95, 0.99):
                z = NormalDist().inv_cdf(0.5 + level / 2.0)
                p, denom = k / n, 1.0 + z * z / n
                centre = (p + z * z / (2 * n)) / denom
                half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
                lo, hi = wilson_interval(k, n, level)
                assert lo == pytest.approx(max(0.0, centre - half), abs=1e-12)
                assert hi == pytest.approx(min(1.0, centre + half), abs=1e-12)
    with pytest.raises(ValueError, match="confidence level must be in"):
        wilson_interval(3, 10, 1.5)


def test_bootstrap_interval_draws_the_resamples_of_its_seed():
    """scipy's bootstrap draws ``integers(0, n, (resamples, n))`` from the seeded generator: the
    intervals are the hand-written bootstrap's of the previous release, to rounding."""
    for seed, size in ((0, 2), (1, 17), (7, 51)):
        values = np.random.default_rng(seed + 100).normal(size=size)
        means = values[np.random.default_rng(seed).integers(0, size, (2000, size))].mean(axis=1)
        expected = np.quantile(means, [0.025, 0.975])
        assert bootstrap_interval(values, seed=seed) == pytest.approx(tuple(expected), abs=1e-12)
    with pytest.raises(ValueError, match="confidence level must be in"):
        bootstrap_interval([1.0, 2.0], level=0.0)


def test_aggregate_groups_rows_and_counts_rates():
    rows = []
    for model, successes in (("a", 8), ("b", 2)):
        for i in range(10):
            ok = i < successes
            rows.append({"model": model, "scene": "summer", "task": "t", "success": ok, "collision": not ok,
                         "out_of_bounds": False, "timeout": False, "time_to_target_s": 5.0 + i if ok else math.nan,
                         "path_length_m": 10.0, "path_ratio": 1.1 if ok else math.nan, "final_distance_m": 0.3,
                         "min_clearance_m": 0.5, "command_roughness": 1.0})
    summary = aggregate(rows)
    assert [(s["model"], s["episodes"]) for s in summary] == [("a", 10), ("b", 10)]
    a, b = summary
    assert a["success_rate"] == 0.8 and b["collision_rate"] == 0.8
    assert a["success_ci95"] == list(wilson_interval(8, 10))
    assert a["time_to_target_s"] == pytest.approx(np.mean(5.0 + np.arange(8)))  # successes only
    assert a["path_ratio_ci95"] == [pytest.approx(1.1), pytest.approx(1.1)]
