"""The stages and the protocol with a stand-in runner (no simulator): the choice is written before
any test flight, a changed choice or changed validation is refused, a rerun redoes nothing, and a
stage without its input names the stage to run."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from _specs import HEADS, RECIPES, tiny  # noqa: E402

from navlnn.study import Context, ProtocolError, check_spec, run_study  # noqa: E402
from navlnn.study.protocol import CHOICE, TEST_STARTED, choose, validation_cells  # noqa: E402
from navlnn.training.recipe import load_recipe  # noqa: E402

# validation success of (arm, head): photometric is better for cnn, equal for ncp_cfc
VALIDATION = {("baseline", "ncp_cfc"): 1, ("photometric", "ncp_cfc"): 1, ("baseline", "cnn"): 0,
              ("photometric", "cnn"): 1}


def _value(overrides: list[str], key: str):
    text = next(o.split("=", 1)[1] for o in overrides if o.startswith(key + "="))
    return json.loads(text)


class FakeRunner:
    """Writes what collect, train and eval would write; records the calls and what existed at each."""

    def __init__(self, run: Path):
        self.run, self.calls = run, []

    def __call__(self, command: str, overrides: list[str], folder: Path) -> None:
        self.calls.append((command, folder, (self.run / CHOICE).is_file()))
        folder.mkdir(parents=True, exist_ok=True)
        if command == "collect":
            data = Path(next(o[5:] for o in overrides if o.startswith("data=")))
            data.mkdir(parents=True, exist_ok=True)
            (data / "manifest.json").write_text("{}")
        elif command == "train":
            (folder / "checkpoints").mkdir(parents=True, exist_ok=True)
            for name in ("best", "last"):
                (folder / "checkpoints" / f"{name}.pt").write_bytes(b"weights")
            (folder / "train_summary.json").write_text("{}")
        else:
            self._eval(overrides, folder)

    def _eval(self, overrides: list[str], folder: Path) -> None:
        rows = []
        for path in _value(overrides, "checkpoint"):
            arm, run = Path(path).parts[-4], Path(path).parts[-3]
            head = run.split("-seed")[0]
            for scene in _value(overrides, "scenes"):
                for layout in range(_value(overrides, "episodes")):
                    ok = VALIDATION[(arm, head)] if "validate" in folder.parts else (layout + len(head)) % 2
                    rows.append({"checkpoint": path, "model": head, "seed": 1000 + layout, "scene": scene,
                                 "task": "fly_to_target", "success": bool(ok), "collision": not ok})
        with open(folder / "episodes.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def context(tmp_path: Path, **changes) -> tuple[Context, FakeRunner]:
    spec = check_spec(tiny(**changes), recipes=RECIPES, heads=HEADS)
    run = tmp_path / "run"
    runner = FakeRunner(run)
    recipes = {arm: load_recipe(arm) for arm in spec.arms}
    return Context(spec=spec, run=run, recipes=recipes, runner=runner, log=lambda line: None), runner


def test_every_stage_runs_and_the_choice_is_written_before_any_test_flight(tmp_path):
    ctx, runner = context(tmp_path)
    run_study(ctx)
    commands = [c for c, _, _ in runner.calls]
    assert commands.count("collect") == 1  # baseline and photometric collect alike: one dataset
    assert commands.count("train") == 2 * 2 * 2
    tests = [(folder, had_choice) for c, folder, had_choice in runner.calls if "test" in folder.parts]
    assert tests and all(had_choice for _, had_choice in tests)
    validations = [had for c, folder, had in runner.calls if "validate" in folder.parts]
    assert validations and not any(validations)
    choice = json.loads((ctx.run / CHOICE).read_text())
    assert choice["written_utc"] <= json.loads((ctx.run / TEST_STARTED).read_text())["started_utc"]
    # per study: photometric wins pooled over the heads (2/2 against 1/2)
    assert {c["arm"] for c in choice["choice"].values()} == {"photometric"}
    assert (ctx.run / "analyse" / "RESULTS.md").read_text().startswith("# Study tiny")
    assert "photometric" in (ctx.run / "analyse" / "RESULTS.md").read_text()


def test_a_rerun_skips_every_finished_stage(tmp_path):
    ctx, runner = context(tmp_path)
    run_study(ctx)
    first = len(runner.calls)
    lines = []
    ctx.log = lines.append
    run_study(ctx)
    assert len(runner.calls) == first
    assert sum("skipped" in line for line in lines) == len(ctx.spec.stages)


def test_an_interrupted_stage_resumes_without_redoing_finished_runs(tmp_path):
    ctx, runner = context(tmp_path, stages=["collect", "train"])
    run_study(ctx)
    (ctx.run / "train" / "done.json").unlink()  # as if stopped after the last run, before the marker
    (ctx.run / "train" / "photometric" / "cnn-seed1" / "train_summary.json").unlink()  # one run unfinished
    before = len(runner.calls)
    run_study(ctx)
    redone = runner.calls[before:]
    assert [(c, f.name) for c, f, _ in redone] == [("train", "cnn-seed1")]


def test_the_test_refuses_a_missing_or_changed_choice(tmp_path):
    ctx, runner = context(tmp_path, stages=["collect", "train", "validate"])
    run_study(ctx)
    ctx, _ = context(tmp_path, stages=["test"])
    with pytest.raises(ProtocolError, match=r"choice.json is missing: .*run the choose stage first"):
        run_study(ctx)
    ctx, _ = context(tmp_path, stages=["choose"])
    run_study(ctx)
    path = ctx.run / CHOICE
    choice = json.loads(path.read_text())
    choice["choice"]["cnn"]["arm"] = "baseline"
    path.write_text(json.dumps(choice))
    ctx, runner = context(tmp_path, stages=["test"])
    with pytest.raises(ProtocolError, match=r"choice.json was changed after it was written"):
        run_study(ctx)
    assert not any("test" in f.parts for _, f, _ in runner.calls)


def test_the_test_refuses_validation_results_changed_after_the_choice(tmp_path):
    ctx, _ = context(tmp_path, stages=["collect", "train", "validate", "choose"])
    run_study(ctx)
    csv_path = next((ctx.run / "validate").glob("*/seed*/episodes.csv"))
    csv_path.write_text(csv_path.read_text().replace("True", "False"))
    ctx, _ = context(tmp_path, stages=["test"])
    with pytest.raises(ProtocolError, match=r"validation results .* changed after"):
        run_study(ctx)


def test_a_different_choice_is_refused_once_the_test_has_started(tmp_path):
    ctx, _ = context(tmp_path)
    run_study(ctx)
    (ctx.run / "choose" / "done.json").unlink()
    csv_path = next((ctx.run / "validate").glob("*/seed*/episodes.csv"))
    csv_path.write_text(csv_path.read_text().replace("True", "False"))
    ctx, _ = context(tmp_path, stages=["choose"])
    with pytest.raises(ProtocolError, match=r"the test has started under the choice"):
        run_study(ctx)


def test_a_stage_without_its_input_names_the_stage_to_run(tmp_path):
    ctx, _ = context(tmp_path, stages=["train"])
    with pytest.raises(FileNotFoundError, match=r"train: no dataset at .*run the collect stage first"):
        run_study(ctx)
    ctx, _ = context(tmp_path, stages=["validate"])
    with pytest.raises(FileNotFoundError, match=r"checkpoint .* is missing .*run the train stage first"):
        run_study(ctx)
    ctx, _ = context(tmp_path, stages=["analyse"])
    with pytest.raises(FileNotFoundError, match=r"analyse: no test results"):
        run_study(ctx)


def test_a_run_folder_of_another_spec_is_refused(tmp_path):
    ctx, _ = context(tmp_path, stages=["collect"])
    run_study(ctx)
    ctx, _ = context(tmp_path, stages=["collect"], seeds=[0, 1, 2])
    with pytest.raises(ValueError, match=r"spec.yaml: this run folder holds study 'tiny' with other values of seeds"):
        run_study(ctx)


def test_choose_per_head_and_ties_to_the_arm_listed_first():
    import pandas as pd

    rows = pd.DataFrame([
        {"arm": arm, "model": head, "checkpoint": f"train/{arm}/{head}-seed0/checkpoints/best.pt",
         "success": VALIDATION[(arm, head)], "collision": 0}
        for arm, head in VALIDATION])
    cells = validation_cells(rows, ["baseline", "photometric"], ["best"])
    per_head = choose(cells, ["ncp_cfc", "cnn"], "head")
    assert per_head["ncp_cfc"]["arm"] == "baseline"  # a tie: the arm listed first
    assert per_head["cnn"]["arm"] == "photometric"
    flipped = validation_cells(rows, ["photometric", "baseline"], ["best"])
    assert choose(flipped, ["ncp_cfc", "cnn"], "head")["ncp_cfc"]["arm"] == "photometric"
