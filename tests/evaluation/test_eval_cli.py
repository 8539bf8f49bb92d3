"""navlnn eval end to end on a tiny checkpoint: the output contract, and one clear message per bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from _tiny import tiny_policy

from navlnn.training.checkpoint import save_checkpoint

FAST = ["episodes=2", "workers=1", "progress=false", "logger.mode=disabled", "eval.plot_episodes=2",
        "eval.bootstrap_resamples=200"]
SHORT = ["task=fly_to_target", "task.time_limit_s=2"]  # 30 steps at most


def navlnn(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "navlnn.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_eval_writes_the_output_contract(checkpoint, tmp_path):
    run_dir = tmp_path / "run"
    result = navlnn("eval", f"checkpoint={checkpoint}", "scenes=[summer,winter+fog]", *SHORT, *FAST,
                    "eval.stress.image.brightness=0.2", "eval.stress.frames.drop=0.2", f"hydra.run.dir={run_dir}",
                    cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(run_dir / "episodes.csv") as f:
        episodes = list(csv.DictReader(f))
    assert len(episodes) == 4 and {r["scene"] for r in episodes} == {"summer", "winter+fog"}
    assert all(int(r["seed"]) >= 2**31 for r in episodes)  # never a collection seed
    assert {r["seed"] for r in episodes if r["scene"] == "summer"} == {r["seed"] for r in episodes if r["scene"] != "summer"}
    assert all(r["stress"] == "brightness=0.2;drop=0.2" for r in episodes)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [(s["model"], s["scene"], s["task"], s["episodes"]) for s in summary] == [
        ("ncp_cfc", "summer", "fly_to_target", 2), ("ncp_cfc", "winter+fog", "fly_to_target", 2)]
    for s in summary:
        lo, hi = s["success_ci95"]
        assert 0.0 <= lo <= s["success_rate"] <= hi <= 1.0
    with open(run_dir / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert {"model", "scene", "task", "episodes", "success_rate", "success_ci95"} <= set(rows[0])
    assert json.loads(rows[0]["success_ci95"]) == pytest.approx(summary[0]["success_ci95"], abs=1e-5)
    table = (run_dir / "summary.md").read_text()
    assert "| ncp_cfc | winter+fog | fly_to_target | 2 |" in table
    for png in ("success.png", "trajectories/fly_to_target-summer.png", "trajectories/fly_to_target-winter_fog.png"):
        assert (run_dir / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str((run_dir / "summary.md").resolve()) in result.stdout


@pytest.fixture(scope="module")
def other_camera(tmp_path_factory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("cam") / "wide.pt", tiny_policy(hw=(40, 72)))


@pytest.mark.parametrize("case,message", [
    ("missing", "nope.pt: no such file"),
    ("scene", "unknown scene 'mars'. Valid scenes: summer, fall, winter"),
    ("task", "unknown task 'orbit'. Valid tasks:"),
    ("camera", "trained for a 72x40 camera, the env gives 64x36"),
    ("not_a_checkpoint", "not a readable navlnn checkpoint"),
    ("actions", "action space"),
])
def test_bad_input_stops_with_one_clear_message(case, message, checkpoint, other_camera, tmp_path):
    args = {"missing": [f"checkpoint={tmp_path / 'nope.pt'}"],
            "scene": [f"checkpoint={checkpoint}", "scenes=[summer,mars]"],
            "task": [f"checkpoint={checkpoint}", "tasks=[orbit]"],
            "camera": [f"checkpoint={other_camera}", "match_camera=false", "drone.camera.width=64",
                       "drone.camera.height=36"]}
    if case == "not_a_checkpoint":
        bad = tmp_path / "notes.pt"
        bad.write_text("not a checkpoint")
        args[case] = [f"checkpoint={bad}"]
    if case == "actions":
        import torch

        payload = torch.load(checkpoint, weights_only=True)
        payload["action_space"] = {"names": ["vx", "vy"], "low": [-1.0, -1.0], "high": [1.0, 1.0]}
        torch.save(payload, tmp_path / "two_actions.pt")
        args[case] = [f"checkpoint={tmp_path / 'two_actions.pt'}"]
    short = [] if case == "task" else SHORT
    result = navlnn("eval", *args[case], *short, *FAST, f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 2, result.stderr
