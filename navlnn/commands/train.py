"""``navlnn train``: behaviour cloning of a policy on a demonstrations dataset."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from navlnn import tracking
from navlnn.reproducibility import environment, make_deterministic
from navlnn.data.loader import Demonstrations, SequenceWindows
from navlnn.policies.policy import build_policy
from navlnn.policies.checkpoint import action_space_spec
from navlnn.training.loop import TrainConfig, fit, resolve_device

TRAIN_KEYS = {f for f in TrainConfig.__dataclass_fields__}


def split_episodes(indices: list[int], val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """A seeded split of episode indices into train and validation (at least one of each)."""
    if len(indices) < 2:
        raise ValueError(f"data: {len(indices)} episode(s); training needs at least 2 (one for validation)")
    order = np.random.default_rng(seed).permutation(len(indices))
    n_val = min(len(indices) - 1, max(1, round(val_fraction * len(indices))))
    val = sorted(indices[i] for i in order[:n_val])
    train = sorted(indices[i] for i in order[n_val:])
    return train, val


def training_config(cfg: DictConfig) -> tuple[dict, TrainConfig]:
    """The run's resolved config, with the effective seed of each role written into its ``train``
    section (so the checkpoints' ``run_config`` says which split, initialisation and draws made
    them), and the :class:`TrainConfig` of ``fit``."""
    if cfg.get("seed") is None:
        raise ValueError("seed: the run needs a seed (seed=0); train.split_seed, train.init_seed and "
                         "train.augment_seed default to it")
    config = OmegaConf.to_container(cfg, resolve=True)
    train_cfg = TrainConfig(seed=int(cfg.seed), **{k: v for k, v in config["train"].items() if k in TRAIN_KEYS})
    config["train"].update(train_cfg.role_seeds())
    return config, train_cfg


def _init_distributed() -> int:
    """Join the process group when started by torchrun (gloo on CPU); returns this process's rank."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    return dist.get_rank() if dist.is_initialized() else 0


def run(cfg: DictConfig) -> list[Path]:
    started = time.perf_counter()
    rank = _init_distributed()
    if cfg.train.get("deterministic", False):
        threads = make_deterministic(cfg.threads)
        if rank == 0:
            print(f"deterministic: {threads} thread(s), {torch.backends.cpu.get_cpu_capability()} kernels, "
                  f"deterministic algorithms")
    elif cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    config, train_cfg = training_config(cfg)
    seeds = train_cfg.role_seeds()
    torch.manual_seed(seeds["init_seed"])
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    data = Path(str(cfg.data))
    expect = dict(action_space=action_space_spec())
    everything = Demonstrations(data, **expect)
    train_ids, val_ids = split_episodes([int(r["index"]) for r in everything.episodes],
                                        float(cfg.train.val_fraction), seeds["split_seed"])
    del everything
    camera = None
    windows = {}
    for name, ids in (("train", train_ids), ("val", val_ids)):
        demos = Demonstrations(data, camera=camera, episodes=ids, **expect)
        camera = demos.camera
        windows[name] = SequenceWindows(demos, int(cfg.train.seq_len), int(cfg.train.stride),
                                      pad_short=bool(cfg.train.get("pad_short", True)))
    policy = build_policy(cfg.model, camera, allow_targets=True)
    if rank == 0:
        print(policy.describe())
        print(f"data {data}: {len(train_ids)} train / {len(val_ids)} val episodes, "
              f"{len(windows['train'])} / {len(windows['val'])} windows of {cfg.train.seq_len} frames")
    group = cfg.logger.group or ("sweep" if HydraConfig.get().mode.name == "MULTIRUN" else None)
    logger = {**config["logger"], "group": group} if rank == 0 else {"mode": "disabled"}
    tracker = tracking.start(logger, config, run_dir, name=f"{cfg.model.name}-seed{cfg.seed}")
    counts = policy.parameter_counts()
    try:
        result = fit(policy, windows["train"], windows["val"], train_cfg, run_dir / "checkpoints",
                     extra={"run_config": config, "parameters": counts}, log=tracker.log,
                     progress=bool(cfg.progress))
        tracker.log_artifact(result.best, f"{cfg.model.name}-seed{cfg.seed}")
    finally:
        tracker.finish()
    if rank != 0:
        return []
    summary = run_dir / "train_summary.json"
    summary.write_text(json.dumps({"model": cfg.model.name, "seed": int(cfg.seed), **seeds, "val_episodes": val_ids,
                                   "parameters": counts,
                                   "best_val_loss": result.best_val_loss, "stopped_early": result.stopped_early,
                                   "constant_val_loss": result.constant_val_loss, "learned": result.learned,
                                   "seconds": round(time.perf_counter() - started, 1),
                                   "environment": environment(str(resolve_device(train_cfg.device))),
                                   "history": result.history}, indent=2))
    print(f"best validation loss {result.best_val_loss:.4f}")
    return [result.best, result.last, summary]
