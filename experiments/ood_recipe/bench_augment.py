"""Time the training augmentation of each recipe, and check it against another revision's.

The augmentation runs on the CPU in every training step; with the recipes' levers on it is about
half of a step on 2 cores. This times one batch (8 windows of 32 frames, 128x72) per recipe's
``train.augment`` and, with ``--against REV``, runs ``navlnn/training/augment.py`` of that git
revision in the same process on the same frames and draws: it reports the ratio of the medians
and whether the two give the same frames bit for bit (across the switch to the fast augmentation
they do not, by design: docs/training.md). Run from the repository:

    python experiments/ood_recipe/bench_augment.py
    python experiments/ood_recipe/bench_augment.py --against 6e0337e --reps 9
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from navlnn.training.augment import ImageAugment
from navlnn.training.recipe import load_recipe, stage_overrides

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ("baseline", "photometric", "colour", "geometric", "erasing", "combined")


def augment_of(revision: str):
    """``ImageAugment`` as defined in ``revision`` (its source from ``git show``, run as a module)."""
    where = f"{revision}:navlnn/training/augment.py"
    source = subprocess.run(["git", "show", where], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    module = types.ModuleType("augment_then")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, where, "exec"), module.__dict__)
    return module.ImageAugment


def recipe_augment(name: str) -> dict:
    """The ``train.augment`` settings recipe ``name`` trains with (what ``navlnn train`` composes)."""
    overrides = stage_overrides(load_recipe(name), "train")
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="train", overrides=["data=unused", *overrides])
    return OmegaConf.to_container(cfg.train.augment)


def time_ms(augment, images: torch.Tensor, rep: int) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    out = augment(images, torch.Generator().manual_seed(rep))
    return 1000 * (time.perf_counter() - start), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="timed batches per recipe")
    parser.add_argument("--against", default=None, help="a git revision whose augmentation to compare with")
    parser.add_argument("--recipes", default=",".join(RECIPES))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the per-core cost)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    then = augment_of(args.against) if args.against else None
    images = torch.randint(0, 256, (8, 32, 72, 128, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    print(f"threads {args.threads}, one batch of {tuple(images.shape)} uint8 frames, median of {args.reps}")
    head = "| recipe | ms / batch |" + (f" ms at {args.against} | ratio | same frames |" if then else "")
    print(head + "\n|---|---:|" + ("---:|---:|---|" if then else ""))
    for name in args.recipes.split(","):
        settings = recipe_augment(name)
        now, old, now_ms, then_ms, same = ImageAugment(**settings), then and then(**settings), [], [], True
        for rep in range(args.reps):  # interleaved, so both see the same load
            ms, frames = time_ms(now, images, rep)
            now_ms.append(ms)
            if old is not None:
                ms, before = time_ms(old, images, rep)
                then_ms.append(ms)
                same = same and torch.equal(frames, before)
        line = f"| {name} | {statistics.median(now_ms):.0f} |"
        if old is not None:
            ratio = statistics.median(then_ms) / statistics.median(now_ms)
            line += f" {statistics.median(then_ms):.0f} | {ratio:.2f} | {'yes' if same else 'NO'} |"
        print(line, flush=True)


if __name__ == "__main__":
    main()
