"""The MIT suite's script (experiments/mit_suite/run.sh): every head is trained with the study's
commands, both evaluations measure attention, the tasks fly in their scenes, and the summary
reads the suite's folders."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "mit_suite" / "run.sh"
HEADS = ("ncp_cfc", "ncp_ltc", "cfc", "ltc", "cfc_mixed", "lstm", "gru", "gru_ode", "ctrnn", "tcn", "cnn")


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    full = {**os.environ, "OUT": str(tmp_path / "run"), "RESULTS": str(tmp_path / "results"),
            "PYTHON": sys.executable, "NAVLNN": "echo navlnn", **env}
    return subprocess.run(["bash", str(SCRIPT)], env=full, capture_output=True, text=True, timeout=120)


def test_every_head_is_trained_and_flown_with_attention(tmp_path):
    result = _run(tmp_path, STAGES="train eval tasks")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    train = next(line for line in lines if line.startswith("navlnn train"))
    assert f"model={','.join(HEADS)}" in train and "seed=0,1,2" in train
    evaluations = [line for line in lines if line.startswith("navlnn eval")]
    assert len(evaluations) == 2
    seasons, tasks = evaluations
    for line in evaluations:
        assert "eval.attention=true" in line and "eval.attention_stress={noise: 0.05}" in line
        assert all(f"/train/{h}-seed2/checkpoints/best.pt" in line for h in HEADS)
        assert line.count("checkpoints/best.pt") == 3 * len(HEADS)
    assert "tasks=[fly_to_target]" in seasons and "winter+dusk" in seasons and "suite_eval" in seasons
    assert "tasks=[occlusion,rotation,hike,loop]" in tasks and "scenes=[summer,fall]" in tasks
    assert "suite_tasks" in tasks


def test_the_summary_reads_the_tasks_only_when_they_were_flown(tmp_path):
    before = _run(tmp_path, STAGES="summary", PYTHON="echo python")
    assert before.returncode == 0, before.stderr
    assert "--eval suite_eval" in before.stdout and "--tasks" not in before.stdout
    (tmp_path / "run" / "suite_tasks").mkdir(parents=True)
    (tmp_path / "run" / "suite_tasks" / "episodes.csv").write_text("model\n")
    after = _run(tmp_path, STAGES="summary", PYTHON="echo python")
    assert "--tasks suite_tasks" in after.stdout


def test_an_unknown_checkpoint_is_refused(tmp_path):
    bad = _run(tmp_path, STAGES="eval", CHECKPOINT="final")
    assert bad.returncode == 2 and "CHECKPOINT=final: use best or last" in bad.stderr
