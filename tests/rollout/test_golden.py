"""The rollout layer reproduces what the closed loops it replaced wrote (``golden.json``: seeded
tiny runs of the collector, a DAgger round, a stressed evaluation, a video flight and the expert
success script, recorded before the change, with the committed ``ncp_cfc_tiny.pt``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from _demos import quiet, tiny_spec
from _tiny import CAMERA, SHORT_TASK

from envs.config import CONF_DIR
from envs.expert import Expert
from navlnn.rollout.collect import collect
from navlnn.data.format import load_episode, scan_episodes
from navlnn.evaluation.plan import plan
from navlnn.evaluation.run import evaluate
from navlnn.policies.checkpoint import load_policy
from navlnn.rollout import ExpertActor, FlightRecorder, rollout
from navlnn.rollout.jobs import EnvFactory, FlyOptions, fly

GOLDEN = json.loads(Path(__file__).with_name("golden.json").read_text())
GOLDEN_CHECKPOINT = Path(__file__).with_name("ncp_cfc_tiny.pt")
REL = 1e-5  # policy commands may differ in the last float bits between CPUs


def _digest(a: dict) -> dict:
    return {"steps": int(len(a["label"])), "noise_steps": int(a["noise_on"].sum()),
            "final_pos": a["drone_pos_world"][-1].tolist(), "label_sum": float(a["label"].astype(float).sum()),
            "action_sum": float(a["action"].astype(float).sum()), "image_mean": float(a["image"].mean()),
            "reward_sum": float(a["reward"].astype(float).sum())}


def _same(new: dict, old: dict) -> None:
    assert new.keys() == old.keys()
    for key, value in old.items():
        if isinstance(value, (float, list)):
            assert new[key] == pytest.approx(value, rel=REL, abs=1e-6), key
        else:
            assert new[key] == value, key


@pytest.mark.parametrize("kind", ["collect", "dagger"])
def test_collector_writes_the_same_episodes(tmp_path, kind):
    extra = {"dagger": {"checkpoint": str(GOLDEN_CHECKPOINT), "beta": 0.5}} if kind == "dagger" else {}
    collect(tiny_spec(extra=extra), tmp_path, 2, workers=1, progress=False, log=quiet)
    files = scan_episodes(tmp_path)
    for i, old in enumerate(GOLDEN[kind]):
        _same(_digest(load_episode(files[i])), old)


def test_stressed_evaluation_gives_the_same_rows():
    drone = yaml.safe_load((CONF_DIR / "drone" / "cf2x.yaml").read_text())
    expert = yaml.safe_load((CONF_DIR / "expert" / "default.yaml").read_text())
    stress = {"image": {"noise": 0.05, "brightness": 0.1}, "frames": {"drop": 0.3, "jitter": 0.2}}
    the_plan = plan([str(GOLDEN_CHECKPOINT)], ["summer"], [SHORT_TASK], 3, 0, drone, expert, stress)
    rows = evaluate(the_plan, progress=False, log=quiet).rows
    assert len(rows) == len(GOLDEN["eval_stress_summer"])
    for row, old in zip(rows, GOLDEN["eval_stress_summer"]):
        _same({k: row[k] for k in old}, old)


def test_video_flight_is_the_same():
    env = EnvFactory.of(task=SHORT_TASK, camera=CAMERA, render_mode="rgb_array")()
    try:
        policy = load_policy(str(GOLDEN_CHECKPOINT)).eval()
        flight = fly(policy, env, 12345, FlyOptions(record_images=True, record_state=True, render=True))
    finally:
        env.close()
    new = {"seed": flight.seed, "steps": flight.steps, "final_pos": flight.pos_world[-1].tolist(),
           "action_sum": float(flight.action.astype(float).sum()), "image_mean": float(flight.images.mean()),
           "chase_mean": float(flight.chase.mean()), "state_abs_sum": float(np.abs(flight.policy_state).sum())}
    _same(new, GOLDEN["video_flight"])


def test_expert_success_script_gives_the_same_rows():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments"))
    try:
        from expert_success import fly_cell
    finally:
        sys.path.pop(0)
    rows = fly_cell("summer", "fly_to_target", [0, 1, 2], (32, 18), "default")
    for row, old in zip(rows, GOLDEN["expert_success"], strict=True):
        _same(row, old)


def test_expert_rollout_equals_stepping_the_env_by_hand(env):
    expert = Expert(env)
    flight = rollout(env, ExpertActor(expert), 21, [FlightRecorder()])["flight"]
    _, info = env.reset(seed=21)
    expert.reset()
    positions, done = [info["drone"]["pos_world"]], False
    while not done:
        _, _, terminated, truncated, info = env.step(expert.act(info))
        positions.append(info["drone"]["pos_world"])
        done = terminated or truncated
    np.testing.assert_array_equal(flight.pos_world, np.asarray(positions))
