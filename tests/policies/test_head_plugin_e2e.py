"""A head of one's own, end to end: a package outside navlnn declares it in the 'navlnn.heads'
entry-point group, pip installs it, a conf/model file of the user's names it, and navlnn collect,
train, eval and export run it through the CLI; without the package installed, eval refuses the
checkpoint with the fix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from _plugin_package import write_model_config, write_package

CAMERA = ["drone.camera.width=64", "drone.camera.height=36"]
QUIET = ["progress=false", "logger.mode=disabled"]
TINY_TRAIN = ["seed=0", "train.epochs=1", "model.trunk.channels=[8,8,8,8,8]", "train.seq_len=8", "train.stride=4",
              "train.batch_size=4", "train.warmup_steps=2"]
SHORT_EVAL = ["scenes=[summer]", "task=fly_to_target", "task.time_limit_s=2", "episodes=1", "workers=1",
              "eval.plot_episodes=1", "eval.bootstrap_resamples=200"]


def _pip_install(package: Path, target: Path) -> None:
    """The package into ``target`` with this environment's pip and setuptools, offline."""
    pytest.importorskip("setuptools", reason="building the test's plugin package needs setuptools")
    result = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                             "--quiet", "--target", str(target), str(package)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


def _navlnn(*args: str, cwd: Path, site: Path | None) -> subprocess.CompletedProcess:
    paths = [str(site)] if site is not None else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "navlnn.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.e2e
def test_a_plugin_head_trains_evaluates_and_exports_through_the_cli(tmp_path):
    site = tmp_path / "site"
    _pip_install(write_package(tmp_path / "src"), site)
    assert (site / "myheads-0.1.0.dist-info" / "entry_points.txt").is_file()
    conf = tmp_path / "my_conf"
    write_model_config(conf)
    searchpath = f"hydra.searchpath=[file://{conf}]"

    data = tmp_path / "data"
    collect = _navlnn("collect", "episodes=2", "workers=1", "progress=false", f"data={data}", *CAMERA,
                      "task.time_limit_s=3", f"hydra.run.dir={tmp_path / 'collect'}", cwd=tmp_path, site=site)
    assert collect.returncode == 0, collect.stderr[-3000:]

    train_dir = tmp_path / "train"
    train = _navlnn("train", "model=myhead", f"data={data}", *TINY_TRAIN, *QUIET, searchpath,
                    f"hydra.run.dir={train_dir}", cwd=tmp_path, site=site)
    assert train.returncode == 0, train.stderr[-3000:]
    best = train_dir / "checkpoints" / "best.pt"
    stored = torch.load(best, weights_only=True)["model"]
    assert stored["name"] == "myhead" and stored["head"] == {"_target_": "myheads.MLPHead", "width": 16}

    eval_dir = tmp_path / "eval"
    evaluate = _navlnn("eval", f"checkpoint={best}", *SHORT_EVAL, *QUIET, f"hydra.run.dir={eval_dir}",
                       cwd=tmp_path, site=site)
    assert evaluate.returncode == 0, evaluate.stderr[-3000:]
    summary = json.loads((eval_dir / "summary.json").read_text())
    assert [(r["model"], r["scene"], r["episodes"]) for r in summary] == [("myhead", "summer", 1)]

    export_dir = tmp_path / "export"
    export = _navlnn("export", f"checkpoint={best}", "format=onnx", "latency_steps=5", f"hydra.run.dir={export_dir}",
                     cwd=tmp_path, site=site)
    assert export.returncode == 0, export.stderr[-3000:]
    assert (export_dir / "policy.onnx").stat().st_size > 1000 and "onnxruntime matches torch" in export.stdout

    # the same checkpoint where the package is not installed: one line naming the head and the fix
    refused = _navlnn("eval", f"checkpoint={best}", *SHORT_EVAL, *QUIET, f"hydra.run.dir={tmp_path / 'refused'}",
                      cwd=tmp_path, site=None)
    assert refused.returncode == 1
    assert "unknown head 'myheads.MLPHead'" in refused.stderr and "'navlnn.heads' entry-point group" in refused.stderr
    assert refused.stderr.strip().count("\n") == 0
