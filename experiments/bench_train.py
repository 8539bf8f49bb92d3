"""Training throughput of every policy head, on the same synthetic windows, in one process.

Times full behaviour-cloning steps (augmentation, forward, loss, backward, clipping, AdamW) at
the default camera (128x72) and the default window shape of conf/train/default.yaml, and prints
frames per second per head and the ratio of each epoch's time to the LSTM head's. Models are
interleaved round by round; medians are reported. Run:

    python experiments/bench_train.py            # ~3 minutes
    python experiments/bench_train.py --quick
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from navlnn.policies.policy import build_policy
from navlnn.runtime import configure_allocator
from navlnn.training.augment import ImageAugment

CONF = Path(__file__).resolve().parents[1] / "conf"
MODELS = ["ncp_cfc", "ncp_ltc", "cfc", "lstm", "gru", "cnn", "ltc", "cfc_mixed", "gru_ode", "ctrnn", "tcn"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    configure_allocator()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        train = compose(config_name="wiring", overrides=["+train=default"]).train
        models = {name: compose(config_name="wiring", overrides=[f"+model={name}"]).model for name in MODELS}
    hw = (72, 128)
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (train.batch_size, train.seq_len, *hw, 3), dtype=torch.uint8, generator=gen)
    actions = 2 * torch.rand(train.batch_size, train.seq_len, 4, generator=gen) - 1
    dt = torch.full((train.batch_size, train.seq_len), 1 / 15)
    augment = ImageAugment(**train.augment)
    steps = {}
    for name, cfg in models.items():
        torch.manual_seed(0)
        policy = build_policy(cfg, hw)
        optimizer = torch.optim.AdamW(policy.parameters(), lr=train.lr)

        def step(policy=policy, optimizer=optimizer) -> None:
            pred, _ = policy(augment(images, torch.Generator().manual_seed(1)), dt)
            loss = torch.nn.functional.mse_loss(pred, actions)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), train.grad_clip)
            optimizer.step()

        steps[name] = step
    rounds = 3 if args.quick else 8
    for fn in steps.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, fn in steps.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    frames = train.batch_size * train.seq_len
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); camera {hw[1]}x{hw[0]}, "
          f"{train.batch_size} windows x {train.seq_len} frames per step; median of {rounds} interleaved rounds")
    print(f"{'head':<10} {'step (ms)':>10} {'frames/s':>10} {'epoch time vs lstm':>20}")
    lstm = statistics.median(times["lstm"])
    for name, ts in times.items():
        median = statistics.median(ts)
        print(f"{name:<10} {1e3 * median:10.1f} {frames / median:10.0f} {median / lstm:19.2f}x")
    worst = max(statistics.median(times[n]) for n in ("ncp_cfc", "ncp_ltc")) / lstm
    print(f"\ntarget: NCP heads' epoch <= 1.5x the LSTM head's -> {worst:.2f}x  {'met' if worst <= 1.5 else 'NOT met'}")


if __name__ == "__main__":
    main()
