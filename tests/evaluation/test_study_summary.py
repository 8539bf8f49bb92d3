"""The out-of-distribution study's summary (experiments/ood_seasons/summarize.py) on hand-made
episode rows: pooling over seeds, per-seed rates, Wilson intervals and the written files."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def summarize():
    spec = importlib.util.spec_from_file_location("ood_summarize", ROOT / "experiments" / "ood_seasons" / "summarize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(model: str, seed: int, scene: str, outcomes: str) -> list[dict]:
    """Episode rows as ``episodes.csv`` holds them: ``outcomes`` is a string of s(uccess),
    c(ollision) and t(ime-out)."""
    ckpt = f"out/train/{model}-seed{seed}/checkpoints/best.pt"
    return [{"model": model, "scene": scene, "task": "fly_to_target", "episode": str(i), "seed": str(1000 + i),
             "checkpoint": ckpt, "success": str(o == "s"), "collision": str(o == "c")} for i, o in enumerate(outcomes)]


def write_episodes(folder: Path, data: list[dict]) -> None:
    """``episodes.csv`` of an evaluation run folder."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "episodes.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(data[0]))
        writer.writeheader()
        writer.writerows(data)


def test_pooled_rates_intervals_and_seed_spread(summarize):
    data = (rows("ncp_cfc", 0, "winter", "ssss") + rows("ncp_cfc", 1, "winter", "sscc")
            + rows("ncp_cfc", 2, "winter", "sttc") + rows("lstm", 0, "winter", "cccc"))
    cells = summarize.pooled(data, ["ncp_cfc", "lstm"], ["winter", "urban"])
    assert [(c["model"], c["scene"]) for c in cells] == [("ncp_cfc", "winter"), ("lstm", "winter")]
    cfc = cells[0]
    assert cfc["episodes"] == 12
    assert cfc["success_rate"] == pytest.approx(7 / 12)
    assert cfc["collision_rate"] == pytest.approx(3 / 12)
    assert cfc["seed_rates"] == {"0": 1.0, "1": 0.5, "2": 0.25}
    assert cfc["seed_mean"] == pytest.approx((1.0 + 0.5 + 0.25) / 3)
    assert cfc["ci_low"] < 7 / 12 < cfc["ci_high"]
    # Wilson for 7 of 12 at 95%: [0.320, 0.807]
    assert cfc["ci_low"] == pytest.approx(0.3195, abs=1e-3)
    assert cfc["ci_high"] == pytest.approx(0.8067, abs=1e-3)
    lstm = cells[1]
    assert lstm["success_rate"] == 0 and lstm["ci_low"] == 0 and lstm["ci_high"] < 0.5
    per_seed = summarize.per_seed_rows(data)
    assert {(r["model"], r["seed"]): r["success_rate"] for r in per_seed} == {
        ("ncp_cfc", "0"): 1.0, ("ncp_cfc", "1"): 0.5, ("ncp_cfc", "2"): 0.25, ("lstm", "0"): 0.0}
    table = summarize.success_table(cells, ["ncp_cfc", "lstm"], ["winter", "urban"])
    assert "**58** [32, 81]<br>100/50/25" in table
    assert table.splitlines()[-1].endswith("| - |")  # urban was not flown


def test_main_writes_tables_and_charts(summarize, tmp_path, monkeypatch):
    run = tmp_path / "run"
    write_episodes(run / "eval", rows("ncp_cfc", 0, "summer", "ssst") + rows("ncp_cfc", 1, "summer", "sssc")
                   + rows("cnn", 0, "urban", "cct"))
    (run / "eval" / "eval.json").write_text(json.dumps({"scenes": ["summer", "urban"], "seeds": [1, 2, 3, 4]}))
    out = tmp_path / "results"
    monkeypatch.setattr("sys.argv", ["summarize.py", str(run), str(out)])
    summarize.main()
    for name in ("table.md", "success.png", "success_grid.png", "summary.csv", "per_seed.csv", "meta.json"):
        assert (out / name).stat().st_size > 0, name
    with open(out / "summary.csv", newline="") as f:
        summary = list(csv.DictReader(f))
    assert [(r["model"], r["scene"], r["episodes"]) for r in summary] == [("ncp_cfc", "summer", "8"), ("cnn", "urban", "3")]
    assert float(summary[0]["success_rate"]) == pytest.approx(6 / 8)
    assert json.loads((out / "meta.json").read_text())["eval"]["episodes_per_checkpoint"] == 4


def _summarize(summarize, monkeypatch, run: Path, out: Path, *extra: str) -> None:
    (run / "eval" / "eval.json").write_text(json.dumps({"scenes": ["fall"], "seeds": [1, 2, 3]}))
    monkeypatch.setattr("sys.argv", ["summarize.py", str(run), str(out), "--ablations", "", "--videos", "", *extra])
    summarize.main()


def test_before_and_after_are_paired_by_layout(summarize, tmp_path, monkeypatch):
    # before: layout 0 won by one seed of two, layouts 1 and 2 by none; after: 1, 1 and 0.5
    write_episodes(tmp_path / "old" / "eval", rows("ncp_cfc", 0, "fall", "sct") + rows("ncp_cfc", 1, "fall", "cct"))
    _summarize(summarize, monkeypatch, tmp_path / "old", tmp_path / "old_results")
    with open(tmp_path / "old_results" / "layouts.csv", newline="") as f:
        assert [float(r["success"]) for r in csv.DictReader(f)] == [0.5, 0.0, 0.0]
    write_episodes(tmp_path / "new" / "eval", rows("ncp_cfc", 0, "fall", "sss") + rows("ncp_cfc", 1, "fall", "ssc")
                   + rows("ncp_cfc", 0, "urban", "sss"))   # urban: flown after only, left out
    out = tmp_path / "new_results"
    _summarize(summarize, monkeypatch, tmp_path / "new", out, "--before", str(tmp_path / "old_results"),
               "--labels", "baseline,data")
    with open(out / "before_after.csv", newline="") as f:
        changes = list(csv.DictReader(f))
    assert [(c["model"], c["scene"]) for c in changes] == [("ncp_cfc", "fall")]
    c = changes[0]
    assert float(c["before"]) == pytest.approx(1 / 6, abs=1e-5) and float(c["after"]) == pytest.approx(5 / 6, abs=1e-5)
    assert float(c["change"]) == pytest.approx((0.5 + 1.0 + 0.5) / 3, abs=1e-5) and int(c["layouts"]) == 3
    assert float(c["change_low"]) <= float(c["change"]) <= float(c["change_high"]) and float(c["change_low"]) > 0
    assert (out / "before_after.png").stat().st_size > 0
    table = (out / "table.md").read_text()
    assert "baseline → data" in table and "17 → **83**<br>+67" in table


def test_before_without_layouts_names_the_file_and_the_fix(summarize, tmp_path, monkeypatch):
    write_episodes(tmp_path / "run" / "eval", rows("ncp_cfc", 0, "fall", "s"))
    (tmp_path / "old").mkdir()
    with pytest.raises(SystemExit, match="layouts.csv missing.*rerun it"):
        _summarize(summarize, monkeypatch, tmp_path / "run", tmp_path / "out", "--before", str(tmp_path / "old"))
    assert not (tmp_path / "out").exists()   # refused before anything was written


def test_missing_evaluation_names_the_file(summarize, tmp_path):
    with pytest.raises(SystemExit, match="episodes.csv is missing"):
        summarize.read_rows(tmp_path / "eval" / "episodes.csv")


def test_paired_difference_by_layout(summarize):
    # reference wins layouts 0 and 1 on both seeds; the other head wins only layout 2
    data = (rows("ncp_cfc", 0, "fall", "sst") + rows("ncp_cfc", 1, "fall", "sct")
            + rows("lstm", 0, "fall", "tts") + rows("lstm", 1, "fall", "cts") + rows("lstm", 0, "urban", "ss"))
    diffs = summarize.paired_differences(data, "ncp_cfc", ["ncp_cfc", "lstm"], ["fall", "urban"], resamples=500)
    assert len(diffs) == 1  # urban has no reference episodes
    d = diffs[0]
    # per layout: (1 - 0), (0.5 - 0), (0 - 1) -> mean 1/6
    assert d["layouts"] == 3 and d["difference"] == pytest.approx(1 / 6)
    assert -1.0 <= d["ci_low"] <= d["difference"] <= d["ci_high"] <= 1.0
    assert d["ci_low"] < 0 < d["ci_high"]  # three layouts settle nothing
    assert "+17 [" in summarize.difference_table(diffs, ["ncp_cfc", "lstm"], ["fall", "urban"])


def test_fall_colour_ablation_table(summarize, tmp_path, monkeypatch):
    run = tmp_path / "run"
    write_episodes(run / "eval", rows("ncp_cfc", 0, "summer", "ss") + rows("ncp_cfc", 0, "fall", "ccs"))  # layout 2: not in the ablation
    (run / "eval" / "eval.json").write_text(json.dumps({"seeds": [1, 2]}))
    write_episodes(run / "eval_fall_green_ground", rows("ncp_cfc", 0, "fall_green_ground", "sc"))
    write_episodes(run / "eval_fall_green_crowns", rows("ncp_cfc", 0, "fall_green_crowns", "ss"))
    out = tmp_path / "results"
    monkeypatch.setattr("sys.argv", ["summarize.py", str(run), str(out)])
    summarize.main()
    with open(out / "fall_colours.csv", newline="") as f:
        got = {r["scene"]: float(r["success_rate"]) for r in csv.DictReader(f)}
    assert got == {"fall": 0.0, "fall_green_ground": 0.5, "fall_green_crowns": 1.0}
    assert (out / "fall_colours.png").stat().st_size > 0
    assert "| fall | fall_green_ground | fall_green_crowns |" in (out / "table.md").read_text()


def test_attention_table_and_chart_when_the_evaluation_measured_it(summarize, tmp_path, monkeypatch):
    run = tmp_path / "run"
    data = rows("ncp_cfc", 0, "summer", "sss") + rows("ncp_cfc", 0, "fall", "sc") + rows("lstm", 0, "summer", "ss")
    for r, (att, ssim) in zip(data, [(40.0, 0.99), (60.0, 0.97), ("", 0.98), (8.0, 0.9), (4.0, 0.8),
                                     (2.0, 0.5), (1.0, 0.7)]):
        r["target_attention"], r["saliency_ssim"] = att, ssim
    write_episodes(run / "eval", data)
    (run / "eval" / "eval.json").write_text(json.dumps({"seeds": [1, 2, 3], "stress": "noise=0.05"}))
    cells = summarize.attention_cells(data, ["ncp_cfc", "lstm"], ["summer", "fall"], resamples=300)
    summer = cells[0]
    assert summer["target_attention"] == pytest.approx(50.0) and summer["target_attention_episodes"] == 2
    assert summer["target_attention_low"] <= 50.0 <= summer["target_attention_high"]
    assert summer["saliency_ssim"] == pytest.approx((0.99 + 0.97 + 0.98) / 3)
    table = summarize.attention_table(cells, ["ncp_cfc", "lstm"], ["summer", "fall"], "target_attention")
    assert "| ncp_cfc | 50.0 [40.0, 60.0] | 6.0 [4.0, 8.0] |" in table
    assert table.splitlines()[-1].endswith("| - |")  # lstm did not fly fall
    out = tmp_path / "results"
    monkeypatch.setattr("sys.argv", ["summarize.py", str(run), str(out)])
    summarize.main()
    assert (out / "attention.png").stat().st_size > 0 and (out / "attention.csv").stat().st_size > 0
    assert "Where the policies look" in (out / "table.md").read_text()
    assert not summarize.has_attention(rows("cnn", 0, "summer", "ss"))  # no columns: no attention part


def test_other_tasks_get_their_own_task_by_scene_tables(summarize, tmp_path, monkeypatch):
    run = tmp_path / "run"
    write_episodes(run / "suite_eval", rows("ncp_cfc", 0, "summer", "ssss") + rows("lstm", 0, "summer", "sstt"))
    (run / "suite_eval" / "eval.json").write_text(json.dumps({"scenes": ["summer"], "seeds": [1, 2, 3, 4]}))
    tasks = []
    for model, outcomes in (("ncp_cfc", "ssct"), ("lstm", "cccc")):
        for scene in ("summer", "fall"):
            for r in rows(model, 0, scene, outcomes):
                tasks.append({**r, "task": "hike", "target_attention": "12.5" if model == "ncp_cfc" else "",
                              "saliency_ssim": "0.9"})
    write_episodes(run / "suite_tasks", tasks)
    out = tmp_path / "results"
    monkeypatch.setattr("sys.argv", ["summarize.py", str(run), str(out), "--eval", "suite_eval", "--tasks",
                                     "suite_tasks", "--title", "The suite"])
    summarize.main()
    with open(out / "tasks.csv", newline="") as f:
        cells = list(csv.DictReader(f))
    assert [(c["model"], c["scene"], float(c["success_rate"])) for c in cells] == [
        ("ncp_cfc", "hike/summer", 0.5), ("ncp_cfc", "hike/fall", 0.5), ("lstm", "hike/summer", 0.0),
        ("lstm", "hike/fall", 0.0)]
    with open(out / "tasks_attention.csv", newline="") as f:
        attention = {(r["model"], r["scene"]): r for r in csv.DictReader(f)}
    assert float(attention[("ncp_cfc", "hike/fall")]["target_attention"]) == pytest.approx(12.5)
    assert float(attention[("lstm", "hike/fall")]["saliency_ssim"]) == pytest.approx(0.9)
    table = (out / "table.md").read_text()
    assert table.startswith("# The suite") and "| model | hike/summer | hike/fall |" in table
    assert (out / "tasks_grid.png").stat().st_size > 0 and (out / "tasks_attention.png").stat().st_size > 0
    assert not (out / "attention.csv").exists()  # the fly_to_target evaluation measured none
