"""Cost of the recipe's training levers on this machine: 32- vs 64-frame windows, today's vs the
robust augmentation, for ncp_cfc and lstm at the default camera (128x72) and batch.

Times full behaviour-cloning steps (augmentation, forward, loss, backward, AdamW) on synthetic
windows and reports the median seconds per step, frames per second and the peak resident memory
of the process. Run:

    python experiments/ood_recipe/bench_seq.py            # about 2 minutes on 2 cores
    python experiments/ood_recipe/bench_seq.py --steps 3
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from navlnn.policies.policy import build_policy
from navlnn.training.augment import ImageAugment

CONF = Path(__file__).resolve().parents[2] / "conf"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per setting (after one warm-up)")
    parser.add_argument("--models", default="ncp_cfc,lstm")
    args = parser.parse_args()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        presets = {name: OmegaConf.to_container(compose(config_name="wiring", overrides=[f"+train={name}"]).train)
                   for name in ("default", "robust")}
        models = {m: compose(config_name="wiring", overrides=[f"+model={m}"]).model for m in args.models.split(",")}
    hw, batch = (72, 128), int(presets["default"]["batch_size"])
    print(f"threads {torch.get_num_threads()}, camera {hw[1]}x{hw[0]}, batch {batch} windows")
    print("| model | frames | augmentation | s / step | frames / s | peak RSS so far (MB) |\n|---|---:|---|---:|---:|---:|")
    for name, model_cfg in models.items():
        for seq_len in (32, 64):
            for preset in ("default", "robust"):
                torch.manual_seed(0)
                policy = build_policy(model_cfg, hw)
                opt = torch.optim.AdamW(policy.parameters(), lr=1e-3)
                augment = ImageAugment(**presets[preset]["augment"])
                images = torch.randint(0, 256, (batch, seq_len, *hw, 3), dtype=torch.uint8)
                dt = torch.full((batch, seq_len), 1 / 15)
                target = torch.zeros(batch, seq_len, 4)
                times = []
                for step in range(args.steps + 1):
                    t0 = time.perf_counter()
                    pred, _ = policy(augment(images, torch.Generator().manual_seed(step)), dt)
                    loss = torch.nn.functional.mse_loss(pred, target)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    if step:
                        times.append(time.perf_counter() - t0)
                s = statistics.median(times)
                print(f"| {name} | {seq_len} | {preset} | {s:.2f} | {batch * seq_len / s:.0f} | {_peak_mb():.0f} |",
                      flush=True)


if __name__ == "__main__":
    main()
