"""Sharded evaluation: the shards' flights pooled give the rows and summary of one run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _tiny import SHORT_TASK

from envs.config import CONF_DIR
from navlnn.evaluation.plan import BadInput, plan, plan_jobs
from navlnn.evaluation.run import evaluate, parse_shard, shard_jobs


def _plan(checkpoint):
    drone = yaml.safe_load((CONF_DIR / "drone" / "cf2x.yaml").read_text())
    return plan([str(checkpoint)], ["summer", "winter"], [SHORT_TASK], 2, 0, drone, None, {})


def test_shards_slice_whole_scene_groups(checkpoint):
    jobs = plan_jobs(_plan(checkpoint))
    slices = [shard_jobs(jobs, (i, 3)) for i in range(3)]
    assert sorted(i for s in slices for i in s) == list(range(len(jobs)))  # every job in exactly one shard
    for s in slices:  # a policy flight and its expert reference in the same shard
        kinds = {(jobs[i].env, jobs[i].seed): set() for i in s}
        for i in s:
            kinds[(jobs[i].env, jobs[i].seed)].add(dict(jobs[i].tags)["kind"])
        assert all(k == {"expert", "policy"} for k in kinds.values())
    assert parse_shard("1/4") == (1, 4) and parse_shard(None) == (0, 1)
    for bad in ("4/4", "x", "1/0"):
        with pytest.raises(BadInput, match="shard"):
            parse_shard(bad)


def test_merged_shards_equal_one_run(tmp_path, checkpoint):
    the_plan = _plan(checkpoint)
    whole = evaluate(the_plan, log=lambda *_: None)
    for i in range(2):
        evaluate(the_plan, cache=tmp_path / f"s{i}", shard=(i, 2), log=lambda *_: None)
    with pytest.raises(BadInput, match="run the missing shards"):
        evaluate(the_plan, found_in=[tmp_path / "s0"], fly=False)
    pooled = evaluate(the_plan, found_in=[tmp_path / "s0", tmp_path / "s1"], fly=False)
    assert json.dumps(pooled.rows, default=str) == json.dumps(whole.rows, default=str)
    assert json.dumps(pooled.summary, default=str) == json.dumps(whole.summary, default=str)


def _navlnn(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    code = "import sys; from navlnn.cli import main; sys.argv[0] = 'navlnn'; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=900)


@pytest.mark.e2e
def test_shards_through_the_submitit_local_launcher_merge_to_one_run(tmp_path, checkpoint):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    common = [f"checkpoint={checkpoint}", "scenes=[summer,winter]", "task=fly_to_target", "task.time_limit_s=2.0",
              "episodes=2", "workers=1", "progress=false", "logger.mode=disabled", "eval.plot_episodes=2"]
    one = _navlnn("eval", *common, f"hydra.run.dir={tmp_path / 'one'}", cwd=tmp_path)
    assert one.returncode == 0, one.stderr[-2000:]
    sweep = tmp_path / "sweep"
    shards = _navlnn("eval", "-m", *common, "shard=0/2,1/2", "hydra/launcher=submitit_local",
                     f"hydra.sweep.dir={sweep}", "hydra.launcher.timeout_min=20", cwd=tmp_path)
    assert shards.returncode == 0, shards.stderr[-2000:]
    folders = sorted(p.parent for p in sweep.glob("*/eval.json"))
    assert len(folders) == 2 and all(".submitit" not in str(f) for f in folders)
    merged = _navlnn("eval-merge", f"shards={sweep}", f"hydra.run.dir={tmp_path / 'merged'}", cwd=tmp_path)
    assert merged.returncode == 0, merged.stderr[-2000:]
    for name in ("episodes.csv", "summary.json", "summary.csv", "summary.md"):
        assert (tmp_path / "merged" / name).read_text() == (tmp_path / "one" / name).read_text(), name
