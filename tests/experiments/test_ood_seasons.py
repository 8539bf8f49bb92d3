"""The study script (experiments/ood_seasons/run.sh) with a recipe: the recipe's overrides reach
the training command, the chosen checkpoint is the one flown, and DAgger recipes are refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "ood_seasons" / "run.sh"


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "OUT": str(tmp_path / "run"), "RESULTS": str(tmp_path / "results"),
            "PYTHON": sys.executable, "NAVLNN": "echo navlnn", "MODELS": "ncp_cfc", "SEEDS": "0", **env}
    return subprocess.run(["bash", str(SCRIPT)], env=full, capture_output=True, text=True, timeout=120)


def test_a_recipe_reaches_training_and_the_chosen_checkpoint_is_flown(tmp_path):
    result = _run(tmp_path, STAGES="collect train eval", RECIPE="data", CHECKPOINT="last")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    collect = next(line for line in lines if line.startswith("navlnn collect"))
    train = next(line for line in lines if line.startswith("navlnn train"))
    evaluate = next(line for line in lines if line.startswith("navlnn eval"))
    assert "start.fraction=0.5" in collect and "episodes=300" in collect  # conf/recipe/data.yaml
    assert "train=default" in train
    assert "ncp_cfc-seed0/checkpoints/last.pt" in evaluate and "best.pt" not in evaluate
    assert "winter+dusk" in evaluate


def test_the_baseline_recipe_keeps_the_study_as_it_was(tmp_path):
    result = _run(tmp_path, STAGES="collect train eval", RECIPE="baseline")
    assert result.returncode == 0, result.stderr
    assert "checkpoints/best.pt" in result.stdout and "train.augment" not in result.stdout
    assert "episodes=100" in result.stdout and "start.fraction" not in result.stdout


def test_the_default_recipe_is_the_committed_choice_in_its_own_folder(tmp_path):
    choice = json.loads((ROOT / "experiments" / "ood_recipe" / "results-round4" / "choice.json").read_text())
    env = {k: v for k, v in os.environ.items() if k not in ("RECIPE", "OUT", "CHECKPOINT")}
    full = {**env, "RESULTS": str(tmp_path / "results"), "PYTHON": sys.executable, "NAVLNN": "echo navlnn",
            "MODELS": "ncp_cfc", "SEEDS": "0", "STAGES": "collect eval"}
    result = subprocess.run(["bash", str(SCRIPT)], env=full, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    recipe, checkpoint = choice["study"]["recipe"], choice["study"]["checkpoint"]
    assert f"(recipe {recipe}; its overrides" in result.stdout
    assert f"data=outputs/ood_seasons_{recipe}/data" in result.stdout   # never the baseline run's folder
    assert f"ncp_cfc-seed0/checkpoints/{checkpoint}" in result.stdout


def test_dagger_recipes_and_unknown_checkpoints_are_refused(tmp_path):
    dagger = _run(tmp_path, STAGES="train", RECIPE="dagger")
    assert dagger.returncode == 2 and "DAgger rounds" in dagger.stderr and "navlnn train" not in dagger.stdout
    bad = _run(tmp_path, STAGES="eval", CHECKPOINT="final")
    assert bad.returncode == 2 and "CHECKPOINT=final: use best or last" in bad.stderr


def test_a_previous_run_reaches_the_summary_only_when_named(tmp_path):
    python = tmp_path / "python"   # prints the summary's command, runs everything else
    python.write_text(f'#!/bin/sh\ncase "$1" in *summarize.py) echo python "$@";; *) exec {sys.executable} "$@";; esac\n')
    python.chmod(0o755)
    plain = _run(tmp_path, STAGES="summary", PYTHON=str(python))
    assert plain.returncode == 0, plain.stderr
    assert "summarize.py" in plain.stdout and "--before" not in plain.stdout
    named = _run(tmp_path, STAGES="summary", PYTHON=str(python), BEFORE="old/results", LABELS="baseline,data")
    summary = next(line for line in named.stdout.splitlines() if line.startswith("python"))
    assert summary.endswith("--before old/results --labels baseline,data")
