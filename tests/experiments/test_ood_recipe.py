"""The robust-recipe ablation's protocol and summary (experiments/ood_recipe/) on a hand-made run
folder: disjoint validation seeds, the choice written before the test (and the test refused
without it), and the tables with Wilson intervals."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from navlnn.rollout.seeds import eval_seeds

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "experiments" / "ood_recipe"


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def protocol():
    return _load("ood_recipe_protocol_test", FOLDER / "protocol.py")


@pytest.fixture(scope="module")
def summarize():
    return _load("ood_recipe_summarize_test", FOLDER / "summarize.py")


def _rows(run: Path, arm: str, head: str, scene: str, outcomes: str, name: str = "best.pt") -> list[dict]:
    ckpt = str(run / "train" / arm / f"{head}-seed0" / "checkpoints" / name)
    return [{"model": head, "scene": scene, "task": "fly_to_target", "episode": str(i), "checkpoint": ckpt,
             "success": str(o == "s"), "collision": str(o == "c")} for i, o in enumerate(outcomes)]


def _write(folder: Path, rows: list[dict]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "episodes.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        writer.writeheader()
        writer.writerows(rows)


def _dataset(folder: Path, seeds: list[int]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"format": "navlnn.demonstrations",
                                                      "episodes": [{"seed": s} for s in seeds]}))


def test_validation_seeds_are_disjoint_from_test_and_training(protocol, tmp_path):
    _dataset(tmp_path / "data" / "default" / "data", [5, 17, 2**31 - 1])
    _dataset(tmp_path / "train" / "dagger" / "lstm-seed0" / "round1" / "data", [99])
    train = protocol.training_seeds(tmp_path)
    assert set(train) == {5, 17, 2**31 - 1, 99}  # expert data and DAgger rounds
    record = protocol.check_disjoint(protocol.VALIDATION_SEED, 200, protocol.TEST_SEED, 200, train)
    assert record["overlap"] == {"validation_test": 0, "validation_training": 0, "test_training": 0}
    assert not set(eval_seeds(protocol.VALIDATION_SEED, 200)) & set(eval_seeds(protocol.TEST_SEED, 200))
    assert protocol.TEST_SEED == 0  # navlnn eval's default seed is the test
    with pytest.raises(SystemExit, match="is the test seed"):
        protocol.check_disjoint(0, 10, 0, 10)
    with pytest.raises(SystemExit, match="validation and 0 test layouts were flown in training"):
        protocol.check_disjoint(1, 10, 0, 10, train_seeds=[eval_seeds(1, 10)[3]])


def test_choice_picks_per_head_from_validation_with_ties_to_the_simpler_arm(protocol, tmp_path):
    rows = (_rows(tmp_path, "baseline", "ncp_cfc", "summer", "ssss") + _rows(tmp_path, "robust", "ncp_cfc", "summer", "ssss")
            + _rows(tmp_path, "baseline", "lstm", "summer", "sstt") + _rows(tmp_path, "robust", "lstm", "summer", "sstt")
            + _rows(tmp_path, "robust", "lstm", "summer", "ssst", "last.pt"))
    choice = protocol.choose(rows, ["baseline", "robust"])
    assert choice["per_head"]["ncp_cfc"]["arm"] == "baseline"  # a tie: the arm listed first
    assert choice["per_head"]["lstm"]["arm"] == "robust" and choice["per_head"]["lstm"]["checkpoint"] == "last.pt"
    assert choice["per_arm"]["baseline"]["lstm"]["checkpoint"] == "best.pt"
    assert choice["study"] == {"head": "ncp_cfc", "recipe": "baseline", "checkpoint": "best.pt"}


def _run_folder(protocol, run: Path, results: Path) -> None:
    for arm, summer, fall in (("baseline", "ssss", "sctt"), ("robust", "sssc", "sssc")):
        for head in ("ncp_cfc", "lstm"):
            _write(run / "validation" / arm, _rows(run, arm, "ncp_cfc", "summer", summer)
                   + _rows(run, arm, "lstm", "summer", summer))
            _write(run / "ood" / arm, [r for h in ("ncp_cfc", "lstm") for s, o in (("summer", summer), ("fall", fall))
                                       for r in _rows(run, arm, h, s, o)])


def test_ood_stage_refuses_without_the_choice_and_runs_after_it(protocol, tmp_path):
    run, choice_path = tmp_path / "run", tmp_path / "results" / "choice.json"
    with pytest.raises(SystemExit, match="choice.json is missing"):
        protocol.require_choice(choice_path, run / "ood", 0)
    assert not (run / "ood" / "choice_used.json").exists()
    _run_folder(protocol, run, tmp_path / "results")
    rows = protocol.read_rows(sorted((run / "validation").glob("*/episodes.csv")))
    seeds = protocol.check_disjoint(1, 4, 0, 4)
    written = protocol.write_choice(choice_path, protocol.choose(rows, ["baseline", "robust"]), seeds, run / "ood")
    used = protocol.require_choice(choice_path, run / "ood", 0)
    assert used == written
    started = json.loads((run / "ood" / "choice_used.json").read_text())
    assert started["choice"]["written_at"] <= started["started_at"]
    other = protocol.choose(rows[:4], ["robust", "baseline"])  # a different choice after the test began
    with pytest.raises(SystemExit, match="may not change after the test was seen"):
        protocol.write_choice(choice_path, other, seeds, run / "ood")
    choice_path.write_text(json.dumps({**written, "written_at": "2099-01-01T00:00:00+00:00"}))
    with pytest.raises(SystemExit, match="changed after the out-of-distribution evaluation started"):
        protocol.require_choice(choice_path, run / "ood", 0)
    with pytest.raises(SystemExit, match="test seed 0, not 3"):
        protocol.require_choice(choice_path, run / "ood", 3)


def test_run_sh_ood_stage_stops_without_the_choice(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path / "run"), "RESULTS": str(tmp_path / "results"), "STAGES": "ood",
           "ARMS": "baseline", "PYTHON": sys.executable, "NAVLNN": "false"}
    result = subprocess.run(["bash", str(FOLDER / "run.sh")], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "choice.json is missing" in result.stderr
    assert "ood: arm" not in result.stdout  # no evaluation was started


def test_summary_tables_with_wilson_intervals(protocol, summarize, tmp_path):
    run, results = tmp_path / "run", tmp_path / "results"
    _run_folder(protocol, run, results)
    rows = protocol.read_rows(sorted((run / "validation").glob("*/episodes.csv")))
    protocol.write_choice(results / "choice.json", protocol.choose(rows, ["baseline", "robust"]),
                          protocol.check_disjoint(1, 4, 0, 4), run / "ood")
    protocol.require_choice(results / "choice.json", run / "ood", 0)
    summarize.main([str(run), str(results), "--arms", "baseline,robust"])
    with open(results / "summary.csv", newline="") as f:
        cells = {(r["head"], r["arm"], r["scene"]): r for r in csv.DictReader(f)}
    fall = cells[("ncp_cfc", "baseline", "fall")]
    assert int(fall["episodes"]) == 4 and float(fall["success_rate"]) == pytest.approx(0.25)
    assert float(fall["ci_low"]) == pytest.approx(0.0456, abs=1e-3) and float(fall["ci_high"]) == pytest.approx(
        0.6994, abs=1e-3)  # Wilson 95 % for 1 of 4
    assert float(fall["collision_rate"]) == pytest.approx(0.25)
    assert cells[("lstm", "baseline", "summer")]["chosen"] == "True"  # validation 4/4 beats 3/4
    assert cells[("lstm", "robust", "summer")]["chosen"] == "False"
    table = (results / "table.md").read_text()
    assert "## ncp_cfc" in table and "## lstm" in table and "baseline (chosen)" in table
    assert "after the choice, under the same choice" in table
    assert "**75** [30, 95]" in table  # robust in fall: 3 of 4
    with open(results / "differences.csv", newline="") as f:
        diff = [r for r in csv.DictReader(f) if r["head"] == "ncp_cfc" and r["scene"] == "fall"]
    assert len(diff) == 1 and float(diff[0]["difference"]) == pytest.approx(0.5)  # robust minus baseline
    # beside the layouts-only interval, the labelled one over training seeds and layouts, never narrower
    # than Newcombe's for 3 of 4 against 1 of 4 (docs/analysis.md)
    low, high = float(diff[0]["seeds_layouts_low"]), float(diff[0]["seeds_layouts_high"])
    assert low < 0.5 < high and high - low >= 0.8 - 1e-9
    assert "the same differences with the 95 % interval over training seeds and layouts" in table
    for head in ("ncp_cfc", "lstm"):
        assert (results / f"success-{head}.png").stat().st_size > 5000
        assert (results / f"grid-{head}.png").stat().st_size > 2000
    assert (results / "validation.csv").is_file()
    with open(results / "selection.csv", newline="") as f:
        selection = {(r["head"], r["arm"]): r for r in csv.DictReader(f)}
    assert set(selection) == {(h, a) for h in ("ncp_cfc", "lstm") for a in ("baseline", "robust")}
    robust = selection[("ncp_cfc", "robust")]  # what the validation saw beside what the test found
    assert float(robust["validation_success"]) == pytest.approx(
        json.loads((results / "choice.json").read_text())["per_arm"]["robust"]["ncp_cfc"]["success_rate"])
    assert float(robust["test_shifted_worst"]) == pytest.approx(0.75) and robust["worst_condition"] == "fall"
    assert float(robust["margin"]) == pytest.approx(0.25)  # baseline 4 of 4 minus robust 3 of 4, same layouts
    assert selection[("ncp_cfc", "baseline")]["chosen"] == "True" and selection[("ncp_cfc", "baseline")]["margin"] == ""
    assert "## Did the summer validation rank the arms as the test did?" in table
    assert (results / "selection.png").stat().st_size > 5000


def test_rank_correlation_orders_ties_and_refuses_no_spread(summarize):
    assert summarize.rank_correlation([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert summarize.rank_correlation([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ties share their mean rank: ranks (1.5, 1.5, 3, 4) against (1, 2, 3, 4)
    assert summarize.rank_correlation([5, 5, 7, 9], [1, 2, 3, 4]) == pytest.approx(0.9486833, abs=1e-6)
    assert math.isnan(summarize.rank_correlation([1, 1, 1, 1], [1, 2, 3, 4]))  # the validation saw no difference
    assert math.isnan(summarize.rank_correlation([1, 2], [2, 1]))  # too few arms to rank
    # Spearman's published example (Wikipedia, "Spearman's rank correlation coefficient"): IQ against
    # hours of television, rho = -29/165
    iq = [106, 100, 86, 101, 99, 103, 97, 113, 112, 110]
    tv = [7, 27, 2, 50, 28, 29, 20, 12, 6, 17]
    assert summarize.rank_correlation(iq, tv) == pytest.approx(-29 / 165, abs=1e-12)


def test_choice_names_checkpoints_relative_to_the_run_and_the_gate_prints_them_in_it(protocol, tmp_path):
    run, choice_path = tmp_path / "run", tmp_path / "results" / "choice.json"
    _run_folder(protocol, run, tmp_path / "results")
    protocol.main(["choose", "--run", str(run), "--choice", str(choice_path), "--arms", "baseline,robust",
                   "--val-episodes", "4", "--test-episodes", "4"])
    choice = json.loads(choice_path.read_text())
    paths = [p for heads in choice["per_arm"].values() for c in heads.values() for p in c["paths"]]
    assert paths and all(p.startswith("train/") for p in paths)  # no folder of this machine
    assert str(tmp_path) not in choice_path.read_text()
    printed = subprocess.run([sys.executable, str(FOLDER / "protocol.py"), "require-choice", "--run", str(run),
                              "--choice", str(choice_path), "--arm", "robust"], capture_output=True, text=True,
                             timeout=120, cwd=ROOT)
    assert printed.returncode == 0, printed.stderr
    listed = printed.stdout.strip()
    assert listed.startswith("[") and listed.endswith("]")
    assert set(listed[1:-1].split(",")) == {
        str(run / "train" / "robust" / f"{h}-seed0" / "checkpoints" / "best.pt") for h in ("lstm", "ncp_cfc")}
    one_head = subprocess.run([sys.executable, str(FOLDER / "protocol.py"), "require-choice", "--run", str(run),
                               "--choice", str(choice_path), "--arm", "robust", "--heads", "ncp_cfc"],
                              capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert one_head.returncode == 0, one_head.stderr
    assert one_head.stdout.strip() == f"[{run / 'train' / 'robust' / 'ncp_cfc-seed0' / 'checkpoints' / 'best.pt'}]"
    no_head = subprocess.run([sys.executable, str(FOLDER / "protocol.py"), "require-choice", "--run", str(run),
                              "--choice", str(choice_path), "--arm", "robust", "--heads", "gru"],
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert no_head.returncode != 0 and "no validated checkpoint of arm 'robust' for gru" in no_head.stderr


def test_round2_validates_on_three_summer_tasks_and_tests_on_fresh_layouts(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path / "run"), "RESULTS": str(tmp_path / "results"),
           "STAGES": "train validation", "PYTHON": sys.executable, "NAVLNN": "echo navlnn"}
    _dataset(tmp_path / "run" / "data" / "default" / "data", [5, 17])
    for arm in ("baseline photometric colour geometric erasing data seq64 long regularised dagger combined").split():
        ckpts = tmp_path / "run" / "train" / arm / "ncp_cfc-seed0" / "checkpoints"
        ckpts.mkdir(parents=True)
        (ckpts / "best.pt").write_bytes(b"")
    result = subprocess.run(["bash", str(FOLDER / "round2.sh")], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    trains = [line for line in lines if line.startswith("navlnn train")]
    assert trains and all("seed=0,1,2" in line and "model=ncp_cfc,lstm" in line for line in trains)
    validations = [line for line in lines if line.startswith("navlnn eval")]
    assert validations and all("tasks=[fly_to_target,occlusion,hike]" in line and "seed=1" in line
                               and "episodes=20" in line for line in validations)
    record = json.loads(next(line for line in lines if line.startswith('{"validation"')))
    assert record["validation"]["tasks"] == ["fly_to_target", "occlusion", "hike"]
    assert record["test"] == {"seed": 2, "episodes": 10}


ROUND2_ARMS = "baseline photometric colour geometric erasing data seq64 long regularised dagger combined"


def _dry_round(tmp_path: Path, script: str, previous: str, arms: str, new_arm: str) -> list[str]:
    """The command lines a round's script prints (navlnn echoed) for its train and validation stages,
    with the earlier arms' validation flights already there (reused) and one checkpoint of the new arm."""
    env = {**os.environ, "OUT": str(tmp_path / "run"), "RESULTS": str(tmp_path / "results"),
           previous: str(tmp_path / "no_previous_round"), "STAGES": "train validation", "PYTHON": sys.executable,
           "NAVLNN": "echo navlnn"}
    _dataset(tmp_path / "run" / "data" / "default" / "data", [5, 17])
    for arm in arms.split():
        (tmp_path / "run" / "validation" / arm).mkdir(parents=True)
        (tmp_path / "run" / "validation" / arm / "episodes.csv").write_text("")   # the previous round's, reused
    ckpts = tmp_path / "run" / "train" / new_arm / "ncp_cfc-seed0" / "checkpoints"
    ckpts.mkdir(parents=True)
    (ckpts / "best.pt").write_bytes(b"")
    result = subprocess.run(["bash", str(FOLDER / script)], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_round3_trains_and_validates_only_its_new_arm_and_tests_on_fresh_layouts(tmp_path):
    lines = _dry_round(tmp_path, "round3.sh", "ROUND2", ROUND2_ARMS, "data_photometric_erasing")
    trains = [line for line in lines if line.startswith("navlnn train")]
    assert len(trains) == 1 and "model=ncp_cfc " in trains[0] and "seed=0,1,2" in trains[0]
    assert "train.augment.hue_deg=30.0" in trains[0] and "train.augment.erase_prob=0.5" in trains[0]
    collects = [line for line in lines if line.startswith("navlnn collect")]
    assert collects and all("episodes=300" in line for line in collects)   # the data arm's demonstrations
    validations = [line for line in lines if line.startswith("navlnn eval")]
    assert len(validations) == 1 and "data_photometric_erasing" in validations[0]
    assert "tasks=[fly_to_target,occlusion,hike]" in validations[0] and "seed=1" in validations[0]
    record = json.loads(next(line for line in lines if line.startswith('{"validation"')))
    assert record["test"] == {"seed": 3, "episodes": 10}   # layouts no committed result has flown


def test_round4_trains_its_normalised_arm_for_ncp_cfc_and_tests_on_fresh_layouts(tmp_path):
    lines = _dry_round(tmp_path, "round4.sh", "ROUND3", f"{ROUND2_ARMS} data_photometric_erasing",
                       "data_photometric_erasing_norm")
    trains = [line for line in lines if line.startswith("navlnn train")]
    assert len(trains) == 1 and "model=ncp_cfc " in trains[0] and "model.head.input_norm=true" in trains[0]
    assert "train.augment.erase_prob=0.5" in trains[0] and "seed=0,1,2" in trains[0]
    validations = [line for line in lines if line.startswith("navlnn eval")]
    assert len(validations) == 1 and "data_photometric_erasing_norm" in validations[0]
    record = json.loads(next(line for line in lines if line.startswith('{"validation"')))
    assert record["test"] == {"seed": 4, "episodes": 10}


def test_a_last_pt_with_the_best_pt_weights_is_flown_once_and_counts_as_both(protocol, tmp_path):
    from navlnn.policies.checkpoint import save_checkpoint

    tiny_policy = _load("ood_recipe_tiny_test", ROOT / "tests" / "evaluation" / "_tiny.py").tiny_policy

    run = tmp_path / "run"
    same = run / "train" / "baseline" / "ncp_cfc-seed0" / "checkpoints"
    other = run / "train" / "baseline" / "lstm-seed0" / "checkpoints"
    save_checkpoint(same / "best.pt", tiny_policy(seed=0))
    save_checkpoint(same / "last.pt", tiny_policy(seed=0), {"epoch": 7, "history": [0.1]})  # training state differs
    save_checkpoint(other / "best.pt", tiny_policy(seed=0))
    save_checkpoint(other / "last.pt", tiny_policy(seed=1))  # the last epoch was not the best
    assert protocol.duplicates(run) == {(same / "last.pt").resolve(): (same / "best.pt").resolve()}
    assert protocol.candidate_checkpoints(run, ["baseline"]) == [other / "best.pt", other / "last.pt", same / "best.pt"]
    assert len(protocol.candidate_checkpoints(run, ["baseline"], skip_duplicates=False)) == 4

    _write(run / "validation" / "baseline", _rows(run, "baseline", "ncp_cfc", "summer", "sssc")
           + _rows(run, "baseline", "lstm", "summer", "sstt") + _rows(run, "baseline", "lstm", "summer", "ssst", "last.pt"))
    rows = protocol.validation_rows(run)
    copies = [r for r in rows if r.get("flown_as")]
    assert len(rows) == 16 and len(copies) == 4
    assert {Path(r["checkpoint"]).name for r in copies} == {"last.pt"}
    assert [r["success"] for r in copies] == ["True", "True", "True", "False"]  # best.pt's flights, unchanged
    cells = {(c["head"], c["checkpoint"]): c for c in protocol.validation_cells(rows, run)}
    assert cells[("ncp_cfc", "last.pt")]["success_rate"] == cells[("ncp_cfc", "best.pt")]["success_rate"] == 0.75
    assert cells[("ncp_cfc", "last.pt")]["same_weights_as_best"] == 4
    assert "same_weights_as_best" not in cells[("lstm", "last.pt")]  # flown itself
    choice = protocol.choose(rows, ["baseline"], run)
    assert choice["per_head"]["ncp_cfc"]["checkpoint"] == "best.pt"  # a tie of equal flights goes to best.pt
    assert choice["per_head"]["lstm"]["checkpoint"] == "last.pt"

    # a last.pt flown itself (round 1 flew both) keeps its own flights: nothing is copied
    _write(run / "validation" / "baseline", _rows(run, "baseline", "ncp_cfc", "summer", "sssc")
           + _rows(run, "baseline", "ncp_cfc", "summer", "sssc", "last.pt"))
    assert not [r for r in protocol.validation_rows(run) if r.get("flown_as")]


def test_flights_reused_from_another_run_folder_count_as_this_runs_own(protocol, tmp_path):
    """Round 3 hard-links round 2's runs and validation folders: their rows name round 2's paths."""
    import shutil

    from navlnn.policies.checkpoint import save_checkpoint

    tiny_policy = _load("ood_recipe_tiny_test", ROOT / "tests" / "evaluation" / "_tiny.py").tiny_policy
    before, run = tmp_path / "round2", tmp_path / "round3"
    for seed, last_weights in ((0, 1), (1, 0)):   # seed 1: the last epoch was the best
        ckpts = before / "train" / "data" / f"lstm-seed{seed}" / "checkpoints"
        save_checkpoint(ckpts / "best.pt", tiny_policy(seed=0))
        save_checkpoint(ckpts / "last.pt", tiny_policy(seed=last_weights))
    rows = _rows(before, "data", "lstm", "summer", "ssss") + _rows(before, "data", "lstm", "summer", "sctt", "last.pt")
    rows += [{**r, "checkpoint": r["checkpoint"].replace("seed0", "seed1")}
             for r in _rows(before, "data", "lstm", "summer", "sstt")]
    _write(before / "validation" / "data", rows)
    shutil.copytree(before, run, copy_function=os.link)

    rows = protocol.validation_rows(run)
    copies = [r for r in rows if r.get("flown_as")]
    assert len(copies) == 4 and all(Path(r["checkpoint"]).parent.parent.name == "lstm-seed1" for r in copies)
    cells = {c["checkpoint"]: c for c in protocol.validation_cells(rows, run)}
    assert cells["last.pt"]["episodes"] == cells["best.pt"]["episodes"] == 8   # both seeds, not seed 0 alone
    assert cells["last.pt"]["success_rate"] == 3 / 8
    assert cells["last.pt"]["paths"] == ["train/data/lstm-seed0/checkpoints/last.pt",
                                         "train/data/lstm-seed1/checkpoints/last.pt"]
    assert str(tmp_path) not in json.dumps(protocol.choose(rows, ["data"], run))
    assert protocol.run_path("/elsewhere/notes/best.pt") is None


def test_the_choices_margin_is_paired_by_layout_and_pools_training_seeds(summarize, tmp_path):
    def flights(arm: str, outcomes: str, seed: int = 0, name: str = "best.pt") -> list[dict]:
        ckpt = str(tmp_path / "train" / arm / f"ncp_cfc-seed{seed}" / "checkpoints" / name)
        return [{"task": "fly_to_target", "episode": str(i), "seed": str(1000 + i), "checkpoint": ckpt,
                 "success": str(o == "s")} for i, o in enumerate(outcomes)]

    choice = {"per_head": {"ncp_cfc": {"arm": "a"}},
              "per_arm": {arm: {"ncp_cfc": {"checkpoint": "best.pt"}} for arm in "abc"}}
    choice["per_arm"]["c"]["ncp_cfc"]["checkpoint"] = "last.pt"
    validation = (flights("a", "ssssssss") + flights("a", "ssssssss", seed=1)
                  + flights("b", "sssssssc") + flights("b", "ssssssss", seed=1)
                  + flights("c", "cccccccc", name="last.pt") + flights("c", "ssssssss", name="best.pt"))
    margins = summarize.choice_margins(validation, choice, "ncp_cfc")
    assert set(margins) == {"b", "c"}
    b = margins["b"]  # layout 7: b's two seeds average 0.5 against a's 1, the rest tie
    assert b["layouts"] == 8 and b["margin"] == pytest.approx(0.5 / 8)
    assert b["margin_low"] == pytest.approx(0.0) and b["margin_high"] > 0  # the validation could not choose
    c = margins["c"]  # c's picked last.pt fails everywhere; its best.pt's flights are not the ones compared
    assert c["margin"] == pytest.approx(1.0) and c["margin_low"] == pytest.approx(1.0)
    assert summarize.choice_margins(validation, {**choice, "per_head": {}}, "ncp_cfc") == {}


def _hike(run: Path, arm: str, head: str, reached: list[int], name: str = "best.pt") -> list[dict]:
    ckpt = str(run / "train" / arm / f"{head}-seed0" / "checkpoints" / name)
    return [{"model": head, "scene": "summer", "task": "hike", "episode": str(i), "checkpoint": ckpt,
             "success": str(k == 4), "collision": str(k < 4), "targets_reached": str(k), "targets": "4"}
            for i, k in enumerate(reached)]


def test_the_secondary_rule_ranks_the_arms_by_targets_reached_where_success_ties(protocol, summarize, tmp_path):
    assert protocol.progress_of({"success": "True", "targets": "", "targets_reached": ""}) == 1.0
    assert protocol.progress_of({"success": "False", "targets": "4", "targets_reached": "2"}) == 0.5
    run, results = tmp_path / "run", tmp_path / "results"
    # both arms: every fly_to_target flight, no hike; robust gets further along the hikes
    for arm, reached in (("baseline", [0, 1, 0, 1]), ("robust", [2, 3, 1, 2])):
        _write(run / "validation" / arm, [r for h in ("ncp_cfc", "lstm") for r in
                                          _rows(run, arm, h, "summer", "ssss") + _hike(run, arm, h, reached)])
        _write(run / "ood" / arm, [r for h in ("ncp_cfc", "lstm") for r in _rows(run, arm, h, "fall", "sctt")])
    choice = protocol.choose(protocol.validation_rows(run), ["baseline", "robust"], run)
    assert choice["per_head"]["ncp_cfc"]["arm"] == "baseline"  # the primary rule: a tie, the simpler arm
    assert choice["study"]["recipe"] == "baseline"  # the study follows the primary rule only
    second = choice["secondary"]["per_head"]["ncp_cfc"]
    assert second["arm"] == "robust" and second["progress"] == pytest.approx((4 + 8 / 4) / 8)
    protocol.write_choice(results / "choice.json", choice, protocol.check_disjoint(1, 4, 0, 4), run / "ood")
    protocol.require_choice(results / "choice.json", run / "ood", 0)
    summarize.main([str(run), str(results), "--arms", "baseline,robust"])
    table = (results / "table.md").read_text()
    assert "| baseline (chosen) |" in table and "| robust (secondary) |" in table
    assert "- Secondary rule (secondary, reported beside the primary choice" in table
    with open(results / "validation.csv", newline="") as f:
        progress = {(r["head"], r["arm"]): float(r["progress"]) for r in csv.DictReader(f)}
    assert progress[("lstm", "baseline")] == pytest.approx((4 + 2 / 4) / 8)
