"""Caches written before the versioned job key are found after it, without flying again.

``legacy_cache/`` was written by ``navlnn eval``'s code before the change (flights named by the
old repr-based key), with the committed tiny checkpoint copied as ``tiny.pt`` and its time set
to ``mtime_ns``; ``inputs.json`` holds the evaluations' settings, keys and rows as they were.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from navlnn.evaluation.plan import Plan, plan, plan_jobs
from navlnn.evaluation.run import evaluate
from navlnn.rollout.keys import job_key, legacy_job_key

FIXTURE = Path(__file__).with_name("legacy_cache")
INPUTS = json.loads((FIXTURE / "inputs.json").read_text())
CHECKPOINT = Path(__file__).resolve().parents[1] / "rollout" / INPUTS["checkpoint"]["file"]


def _plan(name: str, tmp_path: Path, monkeypatch) -> Plan:
    """The fixture's evaluation ``name``, its checkpoint where and as it was (relative path, file time)."""
    copy = tmp_path / INPUTS["checkpoint"]["copied_as"]
    shutil.copy(CHECKPOINT, copy)
    ns = INPUTS["checkpoint"]["mtime_ns"]
    os.utime(copy, ns=(ns, ns))
    monkeypatch.chdir(tmp_path)
    kw = INPUTS[name]
    return plan(kw["checkpoints"], kw["scenes"], kw["tasks"], kw["episodes"], kw["seed"], kw["drone"], kw["expert"],
                kw["stress"], reference_expert=kw["reference_expert"], attention=kw["attention"],
                attention_stress=kw["attention_stress"])


def _no_flying(jobs, *args, **kwargs):
    if jobs:
        raise AssertionError(f"{len(jobs)} episodes were flown again")
    return []


def _same_rows(rows: list, name: str) -> None:
    assert json.dumps(rows, default=float, sort_keys=True) == json.dumps(INPUTS[name]["rows"], sort_keys=True)


@pytest.mark.parametrize("name", ["stressed", "attention"])
def test_the_fixture_is_named_by_the_legacy_keys_and_the_new_keys_differ(name, tmp_path, monkeypatch):
    jobs = plan_jobs(_plan(name, tmp_path, monkeypatch))
    assert [legacy_job_key(j) for j in jobs] == INPUTS[name]["keys"]
    assert sorted(p.stem for p in (FIXTURE / name).glob("*.npz")) == sorted(INPUTS[name]["keys"])
    assert not {job_key(j) for j in jobs} & set(INPUTS[name]["keys"])  # so the test below needs the migration


@pytest.mark.parametrize("name", ["stressed", "attention"])
def test_a_legacy_cache_is_found_and_renamed_without_flying(name, tmp_path, monkeypatch):
    the_plan = _plan(name, tmp_path, monkeypatch)
    cache = tmp_path / "episodes"
    shutil.copytree(FIXTURE / name, cache)
    monkeypatch.setattr("navlnn.evaluation.run.run_jobs", _no_flying)
    logs: list[str] = []
    result = evaluate(the_plan, cache=cache, log=logs.append)
    _same_rows(result.rows, name)
    assert logs and "already flown" in logs[0]
    keys = sorted(job_key(j) for j in plan_jobs(the_plan))
    assert sorted(p.stem for p in cache.glob("*.npz")) == keys  # renamed to the new keys, nothing left behind
    _same_rows(evaluate(the_plan, cache=cache, log=lambda *_: None).rows, name)  # found under the new keys


def test_legacy_shard_folders_are_read_in_place(tmp_path, monkeypatch):
    the_plan = _plan("stressed", tmp_path, monkeypatch)
    shard = tmp_path / "shard"
    shutil.copytree(FIXTURE / "stressed", shard)
    before = sorted(os.listdir(shard))
    result = evaluate(the_plan, found_in=[shard], fly=False, log=lambda *_: None)
    _same_rows(result.rows, "stressed")
    assert sorted(os.listdir(shard)) == before  # another run's folder is not changed


def test_a_retouched_checkpoint_is_a_new_job(tmp_path, monkeypatch):
    the_plan = _plan("stressed", tmp_path, monkeypatch)
    cache = tmp_path / "episodes"
    shutil.copytree(FIXTURE / "stressed", cache)
    os.utime(INPUTS["checkpoint"]["copied_as"])  # now: the policy's flights are no longer the cached ones
    flown: list[int] = []

    def count(jobs, *args, **kwargs):
        flown.append(len(jobs))
        raise RuntimeError("stop")

    monkeypatch.setattr("navlnn.evaluation.run.run_jobs", count)
    with pytest.raises(RuntimeError, match="stop"):
        evaluate(the_plan, cache=cache, log=lambda *_: None)
    assert flown == [INPUTS["stressed"]["episodes"]]  # the expert's references are still found
