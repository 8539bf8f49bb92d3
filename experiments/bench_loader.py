"""Cost of loading training batches against the cost of a training step, on one dataset.

    python experiments/bench_loader.py --data outputs/collect/summer-fly_to_target-seed0/data
    python experiments/bench_loader.py --data ... --batch 8 --seq 32 --model ncp_cfc --threads 1

Reports the time to read and decode the whole dataset into memory, the time to gather one
batch of sequence windows (images, labels, dt) as torch tensors, and the time of one
behaviour-cloning step (forward, MSE loss, backward, AdamW) of a policy from
``conf/model/<model>.yaml`` on that batch; the ratio is the share of a step spent loading.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir

from navlnn.data import Demonstrations, SequenceWindows
from navlnn.policies.policy import build_policy
from navlnn.runtime import configure_allocator

CONF = Path(__file__).resolve().parent.parent / "conf"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=32)
    ap.add_argument("--stride", type=int, default=8)
    ap.add_argument("--model", default="ncp_cfc")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    configure_allocator()  # as every navlnn command does

    t = time.perf_counter()
    demos = Demonstrations(args.data)
    load_s = time.perf_counter() - t
    windows = SequenceWindows(demos, args.seq, args.stride)
    decoded = sum(a.nbytes for a in demos.arrays.values())
    disk = sum((args.data / e["file"]).stat().st_size for e in demos.episodes)
    print(f"{len(demos)} episodes, {int(demos.offsets[-1])} steps, {len(windows)} windows of {args.seq}: "
          f"{disk / 1e6:.0f} MB on disk, {decoded / 1e6:.0f} MB in memory, read in {load_s:.1f} s "
          f"({decoded / 1e6 / load_s:.0f} MB/s decoded)")

    rng = np.random.default_rng(0)
    for _ in range(args.steps):  # warm-up: the allocator settles on reusing the batch buffers
        windows.batch(rng.integers(len(windows), size=args.batch))
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        model = compose("train", overrides=[f"data={args.data}", f"model={args.model}"]).model
    policy = build_policy(model, demos.camera)
    opt = torch.optim.AdamW(policy.parameters(), lr=1e-3)

    def step(batch) -> None:
        pred, _ = policy(batch["image"], batch["dt"])
        loss = torch.nn.functional.mse_loss(pred, batch["label"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step(windows.batch(rng.integers(len(windows), size=args.batch)))  # warm-up
    gather = compute = 0.0
    for _ in range(args.steps):  # as in training: gather a batch, step on it, drop it
        t0 = time.perf_counter()
        batch = windows.batch(rng.integers(len(windows), size=args.batch))
        t1 = time.perf_counter()
        step(batch)
        del batch
        gather += t1 - t0
        compute += time.perf_counter() - t1
    gather_ms, step_ms = 1e3 * gather / args.steps, 1e3 * compute / args.steps
    print(f"batch {args.batch} x {args.seq} frames: gather {gather_ms:.2f} ms, training step ({args.model}, "
          f"{args.threads} thread) {step_ms:.0f} ms: loading is {100 * gather_ms / (gather_ms + step_ms):.1f}% of a step")


if __name__ == "__main__":
    main()
