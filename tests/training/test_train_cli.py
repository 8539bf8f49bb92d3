"""navlnn train / export end to end on a tiny collected dataset: run, resume, sweep, export, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SMALL = ["model.trunk.channels=[8,8,8,8,8]", "train.seq_len=8", "train.stride=4", "train.batch_size=4",
         "train.warmup_steps=2", "logger.mode=disabled", "progress=false"]


def navlnn(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "navlnn.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train_cli")
    data = root / "data"
    result = navlnn("collect", "episodes=4", "workers=1", "progress=false", f"data={data}",
                    "drone.camera.width=64", "drone.camera.height=36", f"hydra.run.dir={root / 'collect'}", cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    return data


@pytest.mark.e2e
def test_train_writes_checkpoints_then_resumes_and_exports(dataset, tmp_path):
    run_dir = tmp_path / "run"
    args = [f"data={dataset}", "train.epochs=2", *SMALL, f"hydra.run.dir={run_dir}"]
    first = navlnn("train", *args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "trunk" in first.stdout and "head" in first.stdout  # parameter counts split
    summary = json.loads((run_dir / "train_summary.json").read_text())
    assert len(summary["history"]) == 2 and summary["best_val_loss"] > 0
    assert summary["constant_val_loss"] > 0 and isinstance(summary["learned"], bool)
    assert "always answering the mean action" in first.stdout
    checkpoint = torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)
    assert checkpoint["image_hw"] == [36, 64] and checkpoint["model"]["name"] == "ncp_cfc"
    longer = navlnn("train", *args[:1], "train.epochs=3", *args[2:], cwd=tmp_path)
    assert longer.returncode == 0, longer.stderr[-3000:]
    assert "resuming from" in longer.stdout and "epoch 3/3" in longer.stdout and "epoch 1/3" not in longer.stdout
    export = navlnn("export", f"checkpoint={run_dir / 'checkpoints' / 'best.pt'}", "latency_steps=20",
                    f"hydra.run.dir={tmp_path / 'export'}", cwd=tmp_path)
    assert export.returncode == 0, export.stderr[-3000:]
    assert (tmp_path / "export" / "policy.onnx").stat().st_size > 10_000
    assert "CPU latency per step at batch 1" in export.stdout


@pytest.mark.e2e
def test_local_sweep_trains_every_combination(dataset, tmp_path):
    result = navlnn("train", "-m", f"data={dataset}", "model=ncp_cfc,lstm", "seed=0", "train.epochs=1", *SMALL,
                    f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("ncp_cfc-seed0", "lstm-seed0"):
        assert (tmp_path / "sweep" / name / "checkpoints" / "best.pt").exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (["data=/nonexistent/dataset"], "nonexistent"),
        (["train.seq_len=100000"], "no episode has 100000 steps"),
        (["train.loss=l3"], "train.loss: unknown 'l3'"),
    ],
)
def test_bad_train_input_gives_one_clear_message(dataset, tmp_path, args, message):
    overrides = [f"data={dataset}", *SMALL, *args, f"hydra.run.dir={tmp_path}"]
    result = navlnn("train", *overrides, cwd=tmp_path)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def test_export_of_a_missing_checkpoint_names_it(tmp_path):
    result = navlnn("export", f"checkpoint={tmp_path / 'nope.pt'}", f"hydra.run.dir={tmp_path}", cwd=tmp_path)
    assert result.returncode != 0 and "nope.pt: no such file" in result.stdout + result.stderr


@pytest.mark.e2e
def test_torchrun_two_processes_through_the_cli(dataset, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "navlnn.cli",
         "train", f"data={dataset}", "train.epochs=1", *SMALL, f"hydra.run.dir={tmp_path / 'ddp'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("best validation loss") == 1  # rank 0 reports, rank 1 stays quiet
    assert torch.load(tmp_path / "ddp" / "checkpoints" / "last.pt", weights_only=True)["epoch"] == 0


@pytest.mark.e2e
def test_dagger_round_flies_the_policy_and_relabels_with_the_expert(dataset, tmp_path):
    run_dir = tmp_path / "dagger"
    args = ["dagger", f"data={dataset}", "rounds=1", "episodes_per_round=2", "workers=1", "beta.initial=0.5",
            "train.epochs=1", *SMALL, f"hydra.run.dir={run_dir}"]
    result = navlnn(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((run_dir / "dagger_summary.json").read_text())
    assert [r["round"] for r in summary["rounds"]] == [0, 1] and summary["rounds"][1]["beta"] == 0.5
    manifest = json.loads((run_dir / "round1" / "data" / "manifest.json").read_text())
    assert manifest["spec"]["extra"]["dagger"]["checkpoint"].endswith("round0/checkpoints/best.pt")
    import numpy as np

    for row in manifest["episodes"]:
        with np.load(run_dir / "round1" / "data" / row["file"]) as episode:
            policy_share = episode["noise_on"].mean()
            assert 0.2 < policy_share < 0.8  # about half the steps flown by the policy (beta = 0.5)
            assert np.abs(episode["label"]).max() <= 1.0
    assert summary["rounds"][1]["train_windows"] > summary["rounds"][0]["train_windows"]
    again = navlnn(*args, cwd=tmp_path)  # everything on disk: resumes without new work
    assert again.returncode == 0 and "resuming from" in again.stdout


BLOCK_PYBULLET = ("import runpy, sys; sys.modules['pybullet'] = None; "  # `import pybullet` raises ImportError
                  "sys.argv = ['navlnn', *sys.argv[1:]]; runpy.run_module('navlnn.cli', run_name='__main__')")


@pytest.mark.e2e
def test_training_needs_no_simulator(dataset, tmp_path):
    # a GPU machine without a PyBullet wheel trains; only collection and evaluation need the simulator
    run_dir = tmp_path / "run"
    result = subprocess.run([sys.executable, "-c", BLOCK_PYBULLET, "train", f"data={dataset}", "train.epochs=1",
                             *SMALL, f"hydra.run.dir={run_dir}"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run_dir / "checkpoints" / "best.pt").is_file()
    probe = subprocess.run([sys.executable, "-c", "import sys; sys.modules['pybullet'] = None; import envs; "
                            "assert 'DroneNav-v0' in __import__('gymnasium').registry; envs.DroneNavEnv"],
                           capture_output=True, text=True, timeout=120)
    assert probe.returncode != 0 and "pybullet" in probe.stderr  # the simulator itself still says what it lacks


def _weights(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)["state_dict"]


@pytest.mark.e2e
@pytest.mark.parametrize("extra", [[], ["train.deterministic=true"]], ids=["default", "deterministic"])
def test_the_same_command_in_two_processes_gives_tensor_equal_checkpoints(dataset, tmp_path, extra):
    """Reproducible runs through the fast loop: segments sharing the trunk, every augmentation lever on."""
    levers = ["train.augment.hue_deg=30", "train.augment.channel_gain=0.2", "train.augment.gamma=0.3",
              "train.augment.blur_sigma=1.0", "train.augment.erase_prob=0.5", "train.augment.noise_std=6",
              "train.segment_windows=2", "train.channels_last=true"]
    runs = []
    for name in ("first", "second"):
        run_dir = tmp_path / name
        result = navlnn("train", f"data={dataset}", "train.epochs=2", *SMALL, *levers, *extra,
                        f"hydra.run.dir={run_dir}", cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        runs.append(run_dir)
    first, second = _weights(runs[0]), _weights(runs[1])
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)
    summary = json.loads((runs[0] / "train_summary.json").read_text())
    env = summary["environment"]
    assert env["torch"] == torch.__version__ and env["threads"] >= 1 and env["cpu_capability"]
    if extra:
        assert env["cpu_capability"] == "AVX2" and env["deterministic_algorithms"] is True
        assert env["pinned_env"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"


def _changed(a: dict, b: dict) -> set[str]:
    return {key for key in a if not torch.equal(a[key], b[key])}


@pytest.mark.e2e
def test_each_role_seed_moves_only_its_own_part(dataset, tmp_path):
    """lr=0 keeps best.pt at the initial weights, with the action statistics of the training split."""
    from navlnn.commands.train import split_episodes

    held_out = split_episodes([0, 1, 2, 3], 0.1, 3)[1]
    other = next(s for s in range(100) if split_episodes([0, 1, 2, 3], 0.1, s)[1] != held_out)
    runs = {}
    for name, role in {"default": [], "augment": ["train.augment_seed=11"], "split": [f"train.split_seed={other}"],
                       "init": ["train.init_seed=11"]}.items():
        run_dir = tmp_path / name
        result = navlnn("train", f"data={dataset}", "seed=3", "train.epochs=1", "train.lr=0", *SMALL, *role,
                        f"hydra.run.dir={run_dir}", cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        summary = json.loads((run_dir / "train_summary.json").read_text())
        stored = torch.load(run_dir / "checkpoints" / "best.pt", weights_only=True)["run_config"]["train"]
        runs[name] = (_weights(run_dir), summary)
        assert {k: stored[k] for k in ("split_seed", "init_seed", "augment_seed")} == \
            {k: summary[k] for k in ("split_seed", "init_seed", "augment_seed")}
    weights, summary = runs["default"]
    assert (summary["seed"], summary["split_seed"], summary["init_seed"], summary["augment_seed"]) == (3, 3, 3, 3)
    assert summary["val_episodes"] == held_out
    statistics = {"action_mean", "action_std"}
    augment_w, augment_s = runs["augment"]
    assert not _changed(weights, augment_w) and augment_s["val_episodes"] == held_out
    assert augment_s["history"][0]["train_loss"] != summary["history"][0]["train_loss"]  # other batches and draws
    assert augment_s["history"][0]["val_loss"] == summary["history"][0]["val_loss"]
    split_w, split_s = runs["split"]
    assert split_s["val_episodes"] != held_out and split_s["split_seed"] == other
    assert _changed(weights, split_w) == statistics  # the labels of other training episodes, the same weights
    init_w, init_s = runs["init"]
    assert init_s["val_episodes"] == held_out and init_s["init_seed"] == 11 and init_s["augment_seed"] == 3
    changed = _changed(weights, init_w)
    assert changed and not changed & statistics and any(key.startswith("trunk.") for key in changed)
