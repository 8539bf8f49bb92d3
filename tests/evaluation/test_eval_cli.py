"""navlnn eval end to end on a tiny checkpoint: the output contract, and one clear message per bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from _tiny import tiny_policy

from navlnn.policies.checkpoint import save_checkpoint

FAST = ["episodes=2", "workers=1", "progress=false", "logger.mode=disabled", "eval.plot_episodes=2",
        "eval.bootstrap_resamples=200"]
SHORT = ["task=fly_to_target", "task.time_limit_s=2"]  # 30 steps at most


def navlnn(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "navlnn.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.e2e
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
    as_json = json.loads((run_dir / "episodes.json").read_text())
    assert [(r["scene"], r["seed"], r["outcome"]) for r in as_json] == [(r["scene"], int(r["seed"]), r["outcome"])
                                                                          for r in episodes]
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


@pytest.mark.parametrize("args,message", [
    (["checkpoint=/nonexistent/nope.pt"], "nope.pt: no such file"),
    (["scenes=[summer,mars]"], "unknown scene 'mars'. Valid scenes: summer, fall, winter"),
])
def test_bad_input_stops_the_command_with_one_clear_message(args, message, checkpoint, tmp_path):
    result = navlnn("eval", f"checkpoint={checkpoint}", *args, *SHORT, *FAST, f"hydra.run.dir={tmp_path / 'run'}",
                    cwd=tmp_path)
    assert result.returncode != 0
    assert "navlnn eval: " in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 2, result.stderr


@pytest.mark.parametrize("case,message", [
    ("missing", "nope.pt: no such file"),
    ("scene", "unknown scene 'mars'. Valid scenes: summer, fall, winter"),
    ("modifier", "unknown scene modifier 'rain'. Valid modifiers:"),
    ("task", "unknown task 'orbit'. Valid tasks:"),
    ("camera", "trained for a 72x40 camera, the env gives 64x36"),
    ("not_a_checkpoint", "not a readable navlnn checkpoint"),
    ("actions", "action space"),
    ("stress", "stress.image.blur must be >= 0"),
])
def test_bad_input_gives_one_clear_message(case, message, checkpoint, other_camera, tmp_path):
    from _tiny import CAMERA

    from navlnn.evaluation.plan import BadInput, check_env_fits, plan

    kwargs = {"checkpoints": str(checkpoint), "scenes": ["summer"], "tasks": ["fly_to_target"], "episodes": 1, "seed": 0,
              "drone": {"name": "cf2x", "camera": CAMERA}, "expert": None, "stress": {}}
    if case == "missing":
        kwargs["checkpoints"] = str(tmp_path / "nope.pt")
    elif case == "scene":
        kwargs["scenes"] = ["summer", "mars"]
    elif case == "modifier":
        kwargs["scenes"] = ["winter+rain"]
    elif case == "task":
        kwargs["tasks"] = ["orbit"]
    elif case == "camera":
        kwargs.update(checkpoints=str(other_camera), match_camera=False)
    elif case == "not_a_checkpoint":
        (tmp_path / "notes.pt").write_text("not a checkpoint")
        kwargs["checkpoints"] = str(tmp_path / "notes.pt")
    elif case == "actions":
        import torch

        payload = torch.load(checkpoint, weights_only=True)
        payload["action_space"] = {"names": ["vx", "vy"], "low": [-1.0, -1.0], "high": [1.0, 1.0]}
        torch.save(payload, tmp_path / "two_actions.pt")
        kwargs["checkpoints"] = str(tmp_path / "two_actions.pt")
    elif case == "stress":
        kwargs["stress"] = {"image": {"blur": -1}}
    with pytest.raises(BadInput) as info:
        check_env_fits(plan(**kwargs))
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.e2e
def test_interrupted_evaluation_resumes_from_saved_episodes(checkpoint, tmp_path):
    from _tiny import CAMERA, SHORT_TASK

    from navlnn.evaluation.plan import plan
    from navlnn.evaluation.run import evaluate

    the_plan = plan(str(checkpoint), ["summer"], [SHORT_TASK], 2, 0, {"name": "cf2x", "camera": CAMERA}, None, {})
    messages: list[str] = []
    first = evaluate(the_plan, cache=tmp_path / "episodes", log=messages.append)
    saved = sorted((tmp_path / "episodes").glob("*.npz"))
    assert len(saved) == 4 and not messages  # 2 policy + 2 expert reference episodes
    saved[0].unlink()  # as if interrupted before the last one
    second = evaluate(the_plan, cache=tmp_path / "episodes", log=messages.append)
    assert messages == [f"resuming: 3 of 4 episodes already flown in '{tmp_path / 'episodes'}'"]
    assert [r["outcome"] for r in second.rows] == [r["outcome"] for r in first.rows]
    for a, b in zip(first.episodes, second.episodes):
        np.testing.assert_array_equal(a.pos_world, b.pos_world)
        assert a.tags == b.tags


@pytest.mark.e2e
def test_a_scene_with_overridden_settings_flies_them_under_its_label(checkpoint, tmp_path):
    from _tiny import CAMERA

    from navlnn.evaluation.plan import BadInput, plan, scene_label

    blue = {"name": "fall", "layout": "forest", "ground": {"colors": [[20, 40, 230]]}, "label": "fall-blue-ground"}
    kwargs = {"checkpoints": str(checkpoint), "tasks": ["fly_to_target"], "episodes": 1, "seed": 0,
              "drone": {"name": "cf2x", "camera": CAMERA}, "expert": None, "stress": {}}
    p = plan(scenes=[blue, "fall"], **kwargs)
    assert [scene_label(s) for s in p.scenes] == ["fall-blue-ground", "fall"]
    env = p.env_factory(p.models[0], p.scenes[0], p.tasks[0])()
    try:
        assert env.unwrapped.scene_cfg["ground"]["colors"] == [[20, 40, 230]]
        assert env.unwrapped.scene_cfg["trees"]["broadleaf"][0] == [222, 142, 30]  # the rest stays fall
    finally:
        env.close()
    with pytest.raises(BadInput, match="share the label 'fall'"):
        plan(scenes=[{**blue, "label": None}, "fall"], **kwargs)
    # through the command line: scene=<name> with overrides keeps them (they were dropped before)
    run_dir = tmp_path / "run"
    result = navlnn("eval", f"checkpoint={checkpoint}", "scene=fall", "scene.ground.colors=[[20,40,230]]",
                    "+scene.label=fall-blue-ground", *SHORT, *FAST, "episodes=1", "eval.reference_expert=false",
                    f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(run_dir / "episodes.csv") as f:
        assert [r["scene"] for r in csv.DictReader(f)] == ["fall-blue-ground"]
