"""Distributed data-parallel training through torchrun with two CPU processes (gloo)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from synthetic_windows import NO_AUGMENT, Windows, small_policy

from navlnn.policies.checkpoint import read_checkpoint
from navlnn.training.loop import TrainConfig, fit


@pytest.mark.e2e
def test_two_process_torchrun_equals_one_process_with_the_global_batch(tmp_path):
    worker = Path(__file__).with_name("ddp_worker.py")
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(worker),
         str(tmp_path / "ddp")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    rank0 = torch.load(tmp_path / "ddp" / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "ddp" / "rank1.pt", weights_only=True)
    for key in rank0:
        torch.testing.assert_close(rank1[key], rank0[key], atol=0, rtol=0)  # replicas stay identical
    # the same optimisation in one process: batches of 8 = 2 processes x 4 windows
    single = small_policy()
    fit(single, Windows(16), Windows(8, seed=1),
        TrainConfig(epochs=2, batch_size=8, lr=5e-3, warmup_steps=2, seed=1, augment=NO_AUGMENT),
        tmp_path / "single", progress=False)
    for key, value in single.state_dict().items():
        torch.testing.assert_close(rank0[key], value, atol=2e-5, rtol=1e-4)
    assert read_checkpoint(tmp_path / "ddp" / "last.pt")["epoch"] == 1
