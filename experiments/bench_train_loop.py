"""Where a behaviour-cloning step's time goes, before and after the fast training loop, in one process.

Runs the training loop's own pieces (navlnn.training.loop: segment gather, augmentation, forward,
backward, clipping, AdamW) on a real demonstrations dataset for the first batches of an epoch,
for several settings interleaved batch by batch (so all see the same load), and prints per
setting the median time of each part, the frames per second of the whole loop and the
augmentation's share of a step. The settings (``train.*`` keys):

  previous       segment_windows=1, augment_impl=reference: the loop before this change, bit for bit
  fast-augment   segment_windows=1, augment_impl=fast
  fast           segment_windows=4, augment_impl=fast (the study's preset, conf/train/fast.yaml)
  fast+cl        the same, channels_last=true

"Window frames" are the frames of the windows the loss is computed on (what the loop has always
counted); "trunk frames" are the frames put through the perception trunk (fewer once windows of
one episode share them). Run, on the study's data (experiments/ood_seasons/run.sh STAGES=collect):

    python experiments/bench_train_loop.py --data outputs/ood_seasons_data_photometric_erasing_norm/data
    python experiments/bench_train_loop.py --data ... --settings fast --deterministic   # its cost
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from navlnn.reproducibility import make_deterministic, pin_environment

if "--deterministic" in sys.argv:
    pin_environment()   # before torch starts

import numpy as np  # noqa: E402
import torch  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from navlnn.commands.train import TRAIN_KEYS, split_episodes
from navlnn.data.loader import Demonstrations, SequenceWindows
from navlnn.policies.checkpoint import action_space_spec
from navlnn.policies.policy import build_policy
from navlnn.training import loop
from navlnn.training.recipe import load_recipe, stage_overrides

CONF = Path(__file__).resolve().parents[1] / "conf"
SETTINGS = {
    "previous": dict(segment_windows=1, augment_impl="reference"),
    "fast-augment": dict(segment_windows=1, augment_impl="fast"),
    "fast": dict(segment_windows=4, augment_impl="fast"),
    "fast+cl": dict(segment_windows=4, augment_impl="fast", channels_last=True),
}


def study_config(recipe: str, overrides: list[str]) -> dict:
    """The ``train`` and ``model`` config a study run of ``recipe`` composes (``navlnn train``'s)."""
    recipe_overrides = stage_overrides(load_recipe(recipe), "train")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["data=unused", *recipe_overrides, *overrides])
    return OmegaConf.to_container(cfg, resolve=True)


class Setting:
    """One setting's policy, optimiser and batches, stepped one batch at a time and timed by part."""

    def __init__(self, name: str, config: dict, windows: SequenceWindows, keys: dict, seed: int) -> None:
        train = {k: v for k, v in config["train"].items() if k in TRAIN_KEYS}
        self.cfg = loop.TrainConfig(seed=seed, **{**train, **keys})
        torch.manual_seed(seed)
        self.policy = build_policy(OmegaConf.create(config["model"]), windows.demos.camera, allow_targets=True)
        if self.cfg.channels_last:
            self.policy.trunk.to(memory_format=torch.channels_last)
        self.policy.train()
        self.name, self.windows = name, windows
        self.optimizer = torch.optim.AdamW(self.policy.parameters(), lr=self.cfg.lr, weight_decay=self.cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda step: 1.0)
        self.augment = loop.build_augment(self.cfg)
        self.loss_fn = loop._standardized(loop._loss_fn(self.cfg), self.policy)
        self.segments = loop.segments_of(windows, self.cfg.segment_windows)
        self.batches = loop._batches(len(self.segments), loop.segments_per_batch(self.cfg), seed, 0)
        self.times: dict[str, list[float]] = {"gather": [], "augment": [], "step": []}
        self.window_frames: list[int] = []
        self.trunk_frames: list[int] = []

    def run(self, index: int) -> None:
        ids = self.batches[index % len(self.batches)]
        t0 = time.perf_counter()
        batch = loop.segment_batch(self.windows, self.segments[ids])
        t1 = time.perf_counter()
        batch["frames"] = self.augment.frames(batch["frames"], batch["lengths"], torch.Generator().manual_seed(index))
        t2 = time.perf_counter()
        loop._step(self.policy, self.policy, self.optimizer, self.scheduler, batch, self.loss_fn, self.cfg)
        t3 = time.perf_counter()
        for part, seconds in zip(self.times, (t1 - t0, t2 - t1, t3 - t2)):
            self.times[part].append(seconds)
        self.window_frames.append(int(batch["index"].numel()))
        self.trunk_frames.append(int(batch["frames"].shape[0]))

    def report(self) -> str:
        """One markdown row: per-step medians, and frames/s over the whole timed run (totals, not medians)."""
        med = {part: 1e3 * statistics.median(ts) for part, ts in self.times.items()}
        total = sum(sum(ts) for ts in self.times.values())
        aug_share = sum(self.times["augment"]) / total
        return (f"| {self.name} | {med['gather']:.0f} | {med['augment']:.0f} | {med['step']:.0f} | "
                f"{100 * aug_share:.0f} % | {sum(self.window_frames) / total:.0f} | {sum(self.trunk_frames) / total:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a demonstrations dataset (navlnn collect)")
    parser.add_argument("--recipe", default="data_photometric_erasing_norm")
    parser.add_argument("--model", default="ncp_cfc")
    parser.add_argument("--stride", type=int, default=16, help="train.stride (the study's: 16)")
    parser.add_argument("--batches", type=int, default=30, help="timed batches per setting")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--deterministic", action="store_true", help="as train.deterministic=true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.deterministic:
        make_deterministic(args.threads)
    config = study_config(args.recipe, [f"model={args.model}", f"train.stride={args.stride}"])
    everything = Demonstrations(args.data, action_space=action_space_spec())
    train_ids, _ = split_episodes([int(r["index"]) for r in everything.episodes], config["train"]["val_fraction"], 0)
    demos = Demonstrations(args.data, episodes=train_ids, action_space=action_space_spec())
    windows = SequenceWindows(demos, config["train"]["seq_len"], config["train"]["stride"],
                              pad_short=config["train"]["pad_short"])
    settings = [Setting(name, config, windows, SETTINGS[name], seed=0) for name in args.settings.split(",")]
    for setting in settings:   # warm-up: first-call costs (allocator, oneDNN primitives, noise bank)
        setting.run(0)
        for ts in setting.times.values():
            ts.clear()
        setting.window_frames.clear()
        setting.trunk_frames.clear()
    for index in range(1, args.batches + 1):
        for setting in settings:
            setting.run(index)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU {torch.backends.cpu.get_cpu_capability()}"
          f"{', deterministic' if args.deterministic else ''}; "
          f"{args.model}, recipe {args.recipe}, {config['train']['batch_size']} windows of "
          f"{config['train']['seq_len']} frames a step, stride {args.stride}; {args.batches} batches each, interleaved")
    print("| setting | gather ms | augment ms | step ms | augment share | window frames/s | trunk frames/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for setting in settings:
        print(setting.report())
    base = settings[0]
    base_rate = sum(base.window_frames) / sum(sum(ts) for ts in base.times.values())
    for setting in settings[1:]:
        rate = sum(setting.window_frames) / sum(sum(ts) for ts in setting.times.values())
        print(f"{setting.name}: {rate / base_rate:.2f}x the window frames/s of {base.name}")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
