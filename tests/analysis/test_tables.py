"""The flights-table API: rates, differences (paired and not), resolution, tidy tables, files, coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from navlnn.analysis import (attention, differences, from_episodes, per_seed, rates, resolvable_differences,
                             write_tables)
from navlnn.analysis.simulate import Scenario, coverage, flights as simulated_flights, true_rate


def study(seed_rates: dict[str, list[float]], layouts: int = 20, scene: str = "fall", rng_seed: int = 0,
          seeds: list[int] | None = None) -> pd.DataFrame:
    """Flights of heads whose seeds succeed on the first ``rate * layouts`` layouts."""
    rows = []
    for head, values in seed_rates.items():
        for i, rate in enumerate(values):
            seed = seeds[i] if seeds else i
            for layout in range(layouts):
                rows.append({"head": head, "seed": seed, "layout": layout, "scene": scene,
                             "success": layout < round(rate * layouts), "collision": layout >= round(rate * layouts),
                             "target_attention": 2.0 + seed if layout % 2 else np.nan})
    return pd.DataFrame(rows)


def test_rates_hold_the_pooled_rate_and_widen_with_seed_spread():
    table = rates(study({"steady": [0.7, 0.7, 0.7], "spread": [0.4, 0.7, 1.0]}))
    assert list(table["head"]) == ["steady", "spread"]
    assert table["rate"].tolist() == pytest.approx([0.7, 0.7])
    assert table["rate"].tolist() == pytest.approx(table["pooled_rate"].tolist())
    steady, spread = table.iloc[0], table.iloc[1]
    assert spread.ci_high - spread.ci_low > 2 * (spread.wilson_high - spread.wilson_low)
    for row in (steady, spread):  # never narrower than the Wilson interval
        assert row.ci_low <= row.wilson_low and row.ci_high >= row.wilson_high
    assert (table["seeds"] == 3).all() and (table["layouts"] == 20).all()


def test_all_successes_keep_the_wilson_width():
    row = rates(study({"perfect": [1.0, 1.0, 1.0]})).iloc[0]
    assert row.ci_high == 1.0 and row.ci_low == pytest.approx(row.wilson_low) and row.ci_low < 0.97


def test_collision_rates_use_the_same_interval():
    row = rates(study({"a": [0.5, 0.7, 0.9]}), outcome="collision").iloc[0]
    assert row.rate == pytest.approx(0.3) and row.ci_low < 0.3 < row.ci_high


def test_paired_difference_cancels_what_a_seed_does_to_both_heads():
    # seed 2 is bad for both heads; head a is 10 points better on every seed
    flights = study({"a": [0.9, 0.8, 0.3], "b": [0.8, 0.7, 0.2]})
    paired = differences(flights, reference="b").iloc[0]
    assert paired.paired_by == "seed" and paired.difference == pytest.approx(0.1)
    unpaired = differences(study({"a": [0.9, 0.8, 0.3]}).pipe(
        lambda a: pd.concat([a, study({"b": [0.8, 0.7, 0.2]}, seeds=[10, 11, 12])]))).iloc[0]
    assert unpaired.paired_by == "none"
    assert unpaired.difference == pytest.approx(0.1)
    assert paired.ci_high - paired.ci_low < unpaired.ci_high - unpaired.ci_low


def test_differences_pair_by_the_split_seed_when_the_flights_carry_it():
    flights = study({"a": [0.9, 0.8, 0.3], "b": [0.8, 0.7, 0.2]})
    flights["split_seed"] = flights["seed"] + 100
    assert differences(flights, reference="b").iloc[0].paired_by == "split_seed"
    assert differences(flights, reference="b", pair_by="seed").iloc[0].paired_by == "seed"


def test_all_pairs_and_before_after_are_the_same_function():
    flights = study({"a": [0.9, 0.8, 0.3], "b": [0.8, 0.7, 0.2], "c": [0.5, 0.5, 0.5]})
    assert len(differences(flights)) == 3
    before, after = study({"ncp_cfc": [0.6, 0.7, 0.5]}), study({"ncp_cfc": [0.8, 0.9, 0.6]})
    runs = pd.concat([before.assign(run="before"), after.assign(run="after")])
    change = differences(runs, arm="run", reference="before", by=["head", "scene"]).iloc[0]
    assert change["head"] == "ncp_cfc" and change.difference == pytest.approx(0.1667, abs=1e-3)


def test_bad_input_names_the_column_and_the_fix():
    flights = study({"a": [0.5, 0.6]})
    with pytest.raises(ValueError, match="'layout'.*arm="):
        rates(flights.drop(columns="layout"))
    with pytest.raises(ValueError, match="'success'"):
        rates(flights.assign(success="maybe"))
    with pytest.raises(ValueError, match="reference='z'"):
        differences(flights, reference="z")
    with pytest.raises(ValueError, match="pair_by='init_seed'"):
        differences(flights, pair_by="init_seed")
    with pytest.raises(ValueError, match="level"):
        rates(flights, level=95)


def test_resolvable_difference_shrinks_with_seeds_and_keeps_a_floor():
    rng = np.random.default_rng(0)
    flights = simulated_flights(Scenario(seeds=5, layouts=17), rng)
    table = resolvable_differences(flights, seeds=[10, 20])
    assert table["seeds"].tolist() == [5, 10, 20]
    assert table["resolvable"].is_monotonic_decreasing
    assert (table["mde"] > table["half_width"]).all()
    assert table.iloc[0]["statement"].startswith("with 5 seeds and 17 layouts a difference of ")
    perfect = resolvable_differences(study({"a": [1.0] * 3, "b": [1.0] * 3})).iloc[0]
    assert perfect.mde == 0.0 and perfect.resolvable > 0.03
    assert perfect.resolvable == pytest.approx(perfect.binomial_floor)


def test_per_seed_and_attention_tables():
    flights = study({"a": [0.5, 0.75]})
    seeds = per_seed(flights)
    assert seeds["success_rate"].tolist() == [0.5, 0.75]
    assert seeds["collision_rate"].tolist() == [0.5, 0.25]
    row = attention(flights).iloc[0]
    assert row.episodes_measured == 20 and row.seed_mean == pytest.approx(2.5) and row.ci_low < 2.5 < row.ci_high
    with pytest.raises(ValueError, match="saliency"):
        attention(flights, column="saliency")


def test_from_episodes_reads_navlnn_eval_rows():
    episodes = pd.DataFrame({"model": ["ncp_cfc"] * 2, "scene": ["fall"] * 2, "task": ["fly_to_target"] * 2,
                             "seed": [11, 12], "checkpoint": ["runs/ncp_cfc-seed3/checkpoints/best.pt"] * 2,
                             "success": ["True", "False"]})
    flights = from_episodes(episodes)
    assert flights["seed"].tolist() == [3, 3] and flights["head"].tolist() == ["ncp_cfc"] * 2
    assert flights["layout"].tolist() == ["fly_to_target/11", "fly_to_target/12"]
    assert rates(flights).iloc[0].rate == 0.5


def test_write_tables_writes_csv_and_markdown(tmp_path):
    table = rates(study({"a": [0.5, 0.75]}))
    paths = write_tables({"rates": table}, tmp_path / "out")
    assert sorted(p.name for p in paths) == ["rates.csv", "rates.md"]
    assert pd.read_csv(tmp_path / "out" / "rates.csv")["rate"].tolist() == pytest.approx(table["rate"].tolist())
    assert (tmp_path / "out" / "rates.md").read_text().startswith("| scene | head |")
    assert not [p for p in (tmp_path / "out").iterdir() if p.name not in ("rates.csv", "rates.md")]
    with pytest.raises(ValueError, match="format"):
        write_tables({"rates": table}, tmp_path, formats=("xlsx",))


def test_true_rate_by_quadrature():
    assert true_rate(0.5, 1.3) == pytest.approx(0.5)
    assert true_rate(0.75, 0.0) == pytest.approx(0.75)
    assert true_rate(0.75, 1.0) < 0.75  # spread pulls a high rate towards one half


def test_chosen_method_covers_at_five_seeds_and_pooled_wilson_does_not():
    from navlnn.analysis.simulate import DIFFERENCE_METHODS, RATE_METHODS

    chosen_rate = "seeds+layouts t, at least Wilson (chosen)"
    chosen_diff = "seeds+layouts t, at least Newcombe (chosen)"
    table = coverage(Scenario(seeds=5, layouts=17, seed_sd=0.8), studies=400, seed=1,
                     rate_methods={k: RATE_METHODS[k] for k in ("pooled Wilson", chosen_rate)},
                     difference_methods={k: DIFFERENCE_METHODS[k] for k in ("pooled Newcombe", chosen_diff)})
    got = table.set_index("method")["coverage"]
    assert abs(got[chosen_rate] - 0.95) < 0.035
    assert abs(got[chosen_diff] - 0.95) < 0.035
    assert got["pooled Wilson"] < 0.85 and got["pooled Newcombe"] < 0.9
