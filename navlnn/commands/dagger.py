"""``navlnn dagger``: DAgger rounds on top of an expert dataset (Ross et al., 2011)."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from navlnn import tracking
from navlnn.commands.train import split_episodes, training_config
from navlnn.data.concat import ConcatWindows
from navlnn.data.format import read_manifest
from navlnn.data.loader import Demonstrations, SequenceWindows
from navlnn.policies.policy import build_policy
from navlnn.policies.checkpoint import action_space_spec, load_policy
from navlnn.rollout.collect import CollectSpec, collect
from navlnn.training.loop import fit

DAGGER_SEED_OFFSET = 1_000_003  # round r collects with seed (seed + 1) * offset + r: disjoint from the expert data


def round_spec(expert_spec: dict, seed: int, round_index: int, checkpoint: Path, beta: float) -> CollectSpec:
    """The collection spec of DAgger round ``round_index``: the expert data's scene, task, camera and
    expert; no injected noise and no widened starts; control shared with ``checkpoint``."""
    known = {f.name for f in fields(CollectSpec)}
    spec = {k: v for k, v in expert_spec.items() if k in known}
    spec["noise"] = {**spec["noise"], "episode_fraction": 0.0}
    spec["start"] = {**spec["start"], "fraction": 0.0}
    spec["seed"] = (int(seed) + 1) * DAGGER_SEED_OFFSET + int(round_index)
    spec["extra"] = {**dict(spec.get("extra") or {}),
                     "dagger": {"round": int(round_index), "beta": float(beta), "checkpoint": str(checkpoint)}}
    return CollectSpec(**spec)


def _windows(folders: list[Path], cfg: DictConfig, split_seed: int) -> tuple[ConcatWindows, ConcatWindows,
                                                                          tuple[int, int]]:
    train, val, camera = [], [], None
    for folder in folders:
        everything = Demonstrations(folder, action_space=action_space_spec())
        train_ids, val_ids = split_episodes([int(r["index"]) for r in everything.episodes],
                                            float(cfg.train.val_fraction), split_seed)
        for ids, out in ((train_ids, train), (val_ids, val)):
            demos = Demonstrations(folder, camera=camera, episodes=ids, action_space=action_space_spec())
            camera = demos.camera
            out.append(SequenceWindows(demos, int(cfg.train.seq_len), int(cfg.train.stride),
                                      pad_short=bool(cfg.train.get("pad_short", True))))
    return ConcatWindows(train), ConcatWindows(val), camera


def run(cfg: DictConfig) -> list[Path]:
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    if int(cfg.rounds) < 0 or int(cfg.episodes_per_round) < 1:
        raise ValueError(f"rounds must be >= 0 and episodes_per_round >= 1, got {cfg.rounds}, {cfg.episodes_per_round}")
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    expert_data = Path(str(cfg.data))
    expert_spec = read_manifest(expert_data)["spec"]
    config, train_cfg = training_config(cfg)
    seeds = train_cfg.role_seeds()
    torch.manual_seed(seeds["init_seed"])  # round 0's initial weights; later rounds start from the last best.pt
    tracker = tracking.start(config["logger"], config, run_dir, name=f"dagger-{cfg.model.name}-seed{cfg.seed}")
    folders, rounds, best = [expert_data], [], None
    try:
        for r in range(int(cfg.rounds) + 1):
            round_dir = run_dir / f"round{r}"
            beta = None
            if r > 0:
                beta = float(cfg.beta.initial) * float(cfg.beta.decay) ** (r - 1)
                spec = round_spec(expert_spec, int(cfg.seed), r, best, beta)
                manifest = collect(spec, round_dir / "data", int(cfg.episodes_per_round), workers=cfg.workers,
                                   config=config, progress=bool(cfg.progress))
                folders.append(round_dir / "data")
                print(f"round {r}: beta {beta:.3f}, flown episodes' success "
                      f"{manifest['summary']['success_rate']:.2f} ({manifest['summary']['episodes']} episodes)")
            train_windows, val_windows, camera = _windows(folders, cfg, seeds["split_seed"])
            policy = build_policy(cfg.model, camera, allow_targets=True) if best is None else load_policy(best, camera)
            if r == 0:
                print(policy.describe())
            result = fit(policy, train_windows, val_windows, train_cfg, round_dir / "checkpoints",
                         extra={"run_config": config, "dagger_round": r}, progress=bool(cfg.progress),
                         log=lambda metrics, step, r=r: tracker.log({f"round{r}/{k}": v for k, v in metrics.items()},
                                                                    step))
            best = result.best
            record = {"round": r, "beta": beta, "datasets": [str(f) for f in folders],
                      "train_windows": len(train_windows), "best_val_loss": result.best_val_loss,
                      "constant_val_loss": result.constant_val_loss, "learned": result.learned}
            if r > 0:
                record["flown_success_rate"] = manifest["summary"]["success_rate"]
            rounds.append(record)
            tracker.log({"dagger/best_val_loss": result.best_val_loss}, r)
        tracker.log_artifact(best, f"dagger-{cfg.model.name}-seed{cfg.seed}")
    finally:
        tracker.finish()
    summary = run_dir / "dagger_summary.json"
    summary.write_text(json.dumps({"model": cfg.model.name, "seed": int(cfg.seed), **seeds, "rounds": rounds}, indent=2))
    return [best, summary]
