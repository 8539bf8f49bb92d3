"""One behaviour-cloning loop for every policy: windows of frames in, expert actions as labels.

Exact resume: the order of windows and the augmentation of each batch are functions of
``(augment seed, epoch, batch index)``, and the checkpoint holds the optimiser, schedule and random
states, so a run interrupted at any checkpoint and resumed ends with the same weights as an
uninterrupted one.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Protocol, Sequence

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel

from navlnn.policies.policy import Policy
from navlnn.training.augment import ImageAugment
from navlnn.training.augment_reference import ReferenceAugment
from navlnn.policies.checkpoint import read_checkpoint, save_checkpoint


class WindowDataset(Protocol):
    """Sequence windows: item ``i`` is a dict with ``images`` uint8 (T, H, W, 3), ``actions``
    float32 (T, 4) in the normalised action space and ``dt`` float32 (T,) seconds, and optionally
    ``mask`` bool (T,): the steps the loss counts (False on padding)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> Mapping[str, Tensor]: ...


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`fit` (``conf/train/*.yaml``)."""

    epochs: int = 10
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    min_lr_ratio: float = 0.05
    grad_clip: float = 1.0
    loss: str = "mse"  # or "huber"
    huber_delta: float = 0.2
    seed: int = 0                     # the run's seed: every role below left None takes it
    split_seed: Optional[int] = None  # which episodes are held out for validation (and so for best.pt)
    init_seed: Optional[int] = None   # the initial weights (and the global torch generator after them)
    augment_seed: Optional[int] = None  # the batch order, every augmentation draw and the noise bank
    log_every: int = 10
    standardize_actions: bool = True  # learn each action dimension in units of its spread in the data
    action_scale_stds: float = 3.0    # the unit: this many standard deviations (bounded heads reach +-1 there)
    min_action_std: float = 0.05
    augment: dict = field(default_factory=lambda: {"brightness": 0.3, "contrast": 0.3, "saturation": 0.3,
                                                   "noise_std": 4.0})
    patience: Optional[int] = None    # early stopping: stop after this many epochs without improvement; None: off
    min_delta: float = 0.0            # an improvement must lower the best validation loss by more than this
    trunk_weight_decay: Optional[float] = None   # AdamW decay of the perception trunk alone; None: weight_decay
    device: str = "cpu"               # where the network trains: cpu, cuda, cuda:N, or auto (cuda when present)
    learned_ratio: float = 0.9        # a best validation loss above this share of the mean action's did not learn
    segment_windows: int = 1          # windows of one episode that share one pass of their frames through the trunk
    augment_impl: str = "fast"        # fast | reference (the implementation before it, for repeating old runs)
    channels_last: bool = False       # the trunk's convolutions in channels-last memory format
    augment_on: str = "device"        # device: where the network trains (uint8 frames travel, a GPU augments) | cpu
    lr_scaling: str = "none"          # none | sqrt | linear: lr x (global windows per step / lr_reference_batch)^(1/2 or 1)
    lr_reference_batch: int = 8       # the windows per step that ``lr`` was tuned for

    def role_seeds(self) -> dict[str, int]:
        """The effective seed of each role (:data:`ROLE_SEEDS`): the role's own, or ``seed`` where it is None."""
        seeds = {}
        for name in ("seed", *ROLE_SEEDS):
            value = getattr(self, name)
            if name != "seed" and value is None:
                value = seeds["seed"]
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                fix = "a non-negative integer" + ("" if name == "seed" else " or null (the run's seed)")
                raise ValueError(f"train.{name}: must be {fix}, got {value!r}")
            seeds[name] = int(value)
        del seeds["seed"]
        return seeds


ROLE_SEEDS = ("split_seed", "init_seed", "augment_seed")
"""The seeds of a training run by role: the validation split, the initial weights, and the batch
order with the augmentation draws. Each defaults to the run's ``seed`` (``docs/training.md``)."""


def resolve_device(name: str) -> torch.device:
    """The torch device for ``train.device`` (``auto``: the first GPU when one is visible, else the CPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ValueError(f"train.device: unknown device '{name}'; use cpu, cuda, cuda:N or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"train.device={name}: no CUDA device is visible to torch {torch.__version__}; "
                         f"use train.device=cpu (or auto)")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"train.device: '{name}' is not supported; use cpu, cuda, cuda:N or auto")
    return device


def epochs_without_improvement(history: Sequence[Mapping[str, float]], min_delta: float = 0.0) -> int:
    """Epochs since the validation loss last improved by more than ``min_delta`` (0 if the last one did).

    A function of the recorded history only, so a resumed run stops at the same epoch as an
    uninterrupted one.
    """
    best, since = math.inf, 0
    for record in history:
        if record["val_loss"] < best - min_delta:
            best, since = record["val_loss"], 0
        else:
            since += 1
    return since


def should_stop(history: Sequence[Mapping[str, float]], cfg: "TrainConfig") -> bool:
    """Whether early stopping ends training after ``history`` (never when ``cfg.patience`` is None)."""
    return cfg.patience is not None and bool(history) and \
        epochs_without_improvement(history, cfg.min_delta) >= int(cfg.patience)


def _param_groups(policy: Policy, cfg: "TrainConfig") -> list[dict] | Any:
    """The optimiser's parameters: one group (as always) unless the trunk has its own weight decay."""
    if cfg.trunk_weight_decay is None:
        return policy.parameters()
    trunk = {id(p) for p in policy.trunk.parameters()}
    return [{"params": [p for p in policy.parameters() if id(p) in trunk], "weight_decay": float(cfg.trunk_weight_decay)},
            {"params": [p for p in policy.parameters() if id(p) not in trunk], "weight_decay": cfg.weight_decay}]


class NonFiniteLoss(RuntimeError):
    """Training produced a NaN or infinite loss; the last good checkpoint is left untouched."""


def _world() -> tuple[int, int]:
    """``(rank, world size)``; ``(0, 1)`` without torch.distributed (e.g. not under torchrun)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _all_finite(value: float) -> bool:
    """Whether the loss is finite on every rank (so all ranks stop together)."""
    finite = torch.tensor([1.0 if math.isfinite(value) else 0.0])
    if _world()[1] > 1:
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    return bool(finite.item() > 0)


LossFn = Callable[[Tensor, Tensor, Optional[Tensor]], Tensor]


def _loss_fn(cfg: TrainConfig) -> LossFn:
    """``loss(pred, target, mask)``: the mean over the steps where ``mask`` (B, T) is True (all if None)."""
    if cfg.loss == "mse":
        elementwise = lambda pred, target: F.mse_loss(pred, target, reduction="none")  # noqa: E731
    elif cfg.loss == "huber":
        elementwise = lambda pred, target: F.huber_loss(pred, target, reduction="none", delta=cfg.huber_delta)  # noqa: E731
    else:
        raise ValueError(f"train.loss: unknown '{cfg.loss}'; valid: 'mse', 'huber'")

    def loss(pred: Tensor, target: Tensor, mask: Optional[Tensor] = None) -> Tensor:
        values = elementwise(pred, target)
        if mask is None:
            return values.mean()
        weight = mask.to(values.dtype).unsqueeze(-1)
        return (values * weight).sum() / (weight.sum() * values.shape[-1]).clamp_min(1.0)

    return loss


def _batches(n_items: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> list[list[int]]:
    """This rank's share of each global batch (``batch_size`` windows per rank), in a seeded order."""
    order = torch.randperm(n_items, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch)).tolist()
    if world == 1:
        return [order[i:i + batch_size] for i in range(0, n_items, batch_size)]
    step = batch_size * world  # every process takes batch_size windows of each global batch
    usable = (n_items // step) * step
    if usable == 0:
        raise ValueError(f"train: {n_items} windows cannot fill one batch of {batch_size} per process x {world} "
                         f"processes; lower train.batch_size or collect more data")
    return [order[i:i + step][rank::world] for i in range(0, usable, step)]


def _collate(data: WindowDataset, indices: Sequence[int]) -> dict[str, Tensor]:
    batch_fn = getattr(data, "batch", None)
    if batch_fn is not None:  # navlnn.data.SequenceWindows: one gather for the whole batch
        batch = batch_fn(np.asarray(indices, dtype=np.int64))
        out = {"images": batch["image"], "actions": batch["label"], "dt": batch["dt"]}
        if "mask" in batch:
            out["mask"] = batch["mask"]
        return out
    items = [data[i] for i in indices]
    keys = ("images", "actions", "dt") + (("mask",) if "mask" in items[0] else ())
    return {key: torch.stack([torch.as_tensor(item[key]) for item in items]) for key in keys}


def _to(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """The batch's tensors on ``device`` (a no-op on the CPU), from pinned memory without waiting."""
    if device.type == "cpu":
        return batch
    return {key: value.pin_memory().to(device, non_blocking=True) if isinstance(value, Tensor) else value
            for key, value in batch.items()}


def segments_of(data: WindowDataset, windows_per_segment: int) -> np.ndarray:
    """``(S, 2)``: first window and window count of each training segment of ``data``.

    A segment's windows share one pass of their frames through the trunk. Datasets without
    segments (any map-style window dataset) train one window per segment.
    """
    if hasattr(data, "segments"):
        return data.segments(windows_per_segment)
    if int(windows_per_segment) != 1:
        raise ValueError(f"train.segment_windows={windows_per_segment} needs a dataset with segments "
                         f"(navlnn.data.SequenceWindows); use train.segment_windows=1 with {type(data).__name__}")
    return np.stack([np.arange(len(data)), np.ones(len(data), dtype=np.int64)], axis=1).astype(np.int64)


def segment_batch(data: WindowDataset, segments: np.ndarray) -> dict[str, Any]:
    """A training batch of ``segments``: ``frames`` (N, H, W, 3), ``lengths``, ``index`` (W, T) of each
    window's steps in ``frames``, ``actions`` and ``dt`` (W, T) and optionally ``mask``."""
    if hasattr(data, "segment_batch"):
        batch = data.segment_batch(segments)
        out = {"frames": batch["frames"], "lengths": batch["lengths"], "index": batch["index"],
               "actions": batch["label"], "dt": batch["dt"]}
        if "mask" in batch:
            out["mask"] = batch["mask"]
        return out
    windows = _collate(data, [int(i) for i in segments[:, 0]])
    images = windows.pop("images")
    count, steps = images.shape[:2]
    return {"frames": images.flatten(0, 1), "lengths": [steps] * count,
            "index": torch.arange(count * steps).view(count, steps), **windows}


def build_augment(cfg: "TrainConfig") -> ImageAugment:
    """The run's augmentation (``train.augment``, ``train.augment_impl``), its noise bank seeded by the
    augmentation seed (``train.augment_seed``, the run's seed by default)."""
    impls = {"fast": ImageAugment, "reference": ReferenceAugment}
    if cfg.augment_impl not in impls:
        raise ValueError(f"train.augment_impl: unknown '{cfg.augment_impl}'; valid: {', '.join(impls)}")
    return impls[cfg.augment_impl](**{"noise_seed": cfg.role_seeds()["augment_seed"], **dict(cfg.augment)})


def segments_per_batch(cfg: "TrainConfig") -> int:
    """Segments in a step: ``batch_size`` windows in segments of ``segment_windows``."""
    k, size = int(cfg.segment_windows), int(cfg.batch_size)
    if k < 1 or size < 1 or size % k:
        raise ValueError(f"train.segment_windows={cfg.segment_windows} must be >= 1 and divide "
                         f"train.batch_size={cfg.batch_size} (windows per step)")
    return size // k


def _schedule(cfg: TrainConfig, total_steps: int) -> Callable[[int], float]:
    """Linear warm-up, then cosine decay to ``min_lr_ratio`` of the peak."""

    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = min(1.0, (step - cfg.warmup_steps) / max(1, total_steps - cfg.warmup_steps))
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


@torch.no_grad()
def action_statistics(data: WindowDataset, batch_size: int = 256) -> tuple[Tensor, Tensor]:
    """Per-dimension mean and standard deviation of the labels of all windows (padding left out)."""
    total, total_sq, count = 0.0, 0.0, 0
    for start in range(0, len(data), batch_size):
        batch = _collate(data, range(start, min(len(data), start + batch_size)))
        actions = batch["actions"].double()
        flat = actions[batch["mask"]] if "mask" in batch else actions.reshape(-1, actions.shape[-1])
        total = total + flat.sum(0)
        total_sq = total_sq + flat.square().sum(0)
        count += flat.shape[0]
    mean = total / count
    std = (total_sq / count - mean.square()).clamp_min(0).sqrt()
    return mean.float(), std.float()


def _standardized(loss_fn: LossFn, policy: Policy) -> LossFn:
    """The loss in units of each action dimension's spread (so small but important commands count)."""
    return lambda pred, target, mask=None: loss_fn((pred - policy.action_mean) / policy.action_std,
                                                   (target - policy.action_mean) / policy.action_std, mask)


@torch.no_grad()
def validation_loss(policy: Policy, data: WindowDataset, batch_size: int, loss_fn: LossFn,
                    segment_windows: int = 1) -> float:
    """Mean loss over all valid steps of ``data`` (no augmentation), on the policy's device;
    ``batch_size`` windows at a time, in segments of ``segment_windows`` (the same loss, less trunk work)."""
    policy.eval()
    device = policy.action_mean.device
    total, count = 0.0, 0.0
    segments = segments_of(data, segment_windows)
    per_batch = max(1, batch_size // segment_windows)
    for start in range(0, len(segments), per_batch):
        batch = _to(segment_batch(data, segments[start:start + per_batch]), device)
        pred, _ = policy(batch["frames"], batch["dt"], None, batch["index"])
        mask = batch.get("mask")
        steps = float(mask.sum()) if mask is not None else float(batch["actions"].shape[0] * batch["actions"].shape[1])
        total += float(loss_fn(pred, batch["actions"], mask)) * steps
        count += steps
    policy.train()
    return total / max(1.0, count)


def evaluate(policy: Policy, data: WindowDataset, batch_size: int, loss_fn: LossFn,
             segment_windows: int = 1) -> float:
    """Deprecated name of :func:`validation_loss` (kept for one release)."""
    warnings.warn("navlnn.training.loop.evaluate is deprecated and will be removed in the next release; use "
                  "validation_loss", DeprecationWarning, stacklevel=2)
    return validation_loss(policy, data, batch_size, loss_fn, segment_windows)


@torch.no_grad()
def constant_loss(policy: Policy, data: WindowDataset, batch_size: int, loss_fn: LossFn) -> float:
    """The validation loss of always answering the training labels' mean action: the floor any
    policy that reads its images must get under (a run that stays at it learned nothing)."""
    total, count = 0.0, 0.0
    for start in range(0, len(data), batch_size):
        batch = _collate(data, range(start, min(len(data), start + batch_size)))
        actions = batch["actions"]
        pred = policy.action_mean.detach().cpu().expand_as(actions)
        mask = batch.get("mask")
        steps = float(mask.sum()) if mask is not None else float(actions.shape[0] * actions.shape[1])
        total += float(loss_fn(pred, actions, mask)) * steps
        count += steps
    return total / max(1.0, count)


@dataclass
class FitResult:
    """What :func:`fit` leaves behind."""

    last: Path
    best: Path
    best_val_loss: float
    history: list[dict[str, float]]
    stopped_early: bool = False
    constant_val_loss: float = math.nan   # the validation loss of always answering the mean action
    learned: bool = True                  # best_val_loss under learned_ratio x constant_val_loss


def fit(
    policy: Policy,
    train_data: WindowDataset,
    val_data: WindowDataset,
    cfg: TrainConfig,
    checkpoint_dir: str | Path,
    extra: Optional[Mapping[str, Any]] = None,
    log: Optional[Callable[[dict[str, float], int], None]] = None,
    progress: bool = True,
    stop_after_epochs: Optional[int] = None,
) -> FitResult:
    """Train ``policy`` by behaviour cloning; resume from ``checkpoint_dir/last.pt`` if it exists.

    Writes ``last.pt`` after every epoch and ``best.pt`` when the validation loss improves (both
    atomically). ``extra`` (plain data, e.g. the run config) is stored in every checkpoint; ``log``
    receives metrics and the step. ``stop_after_epochs`` ends early (as an interruption would).
    """
    run = _prepare(policy, train_data, val_data, cfg, Path(checkpoint_dir))
    start_epoch, best_val, history = _resume_or_start(policy, run.optimizer, run.scheduler, train_data, cfg,
                                                      run.last_path, run.rank)
    constant_val = constant_loss(policy, val_data, cfg.batch_size, run.loss_fn)
    if run.rank == 0 and not run.last_path.exists():
        print(f"validation loss of always answering the mean action: {constant_val:.4f}")
    _to_training_device(run, cfg)
    end_epoch = cfg.epochs if stop_after_epochs is None else min(cfg.epochs, start_epoch + stop_after_epochs)
    for epoch in range(start_epoch, end_epoch):
        if should_stop(history, cfg):
            break
        record = _train_epoch(run, train_data, cfg, epoch, log, progress)
        record["val_loss"] = validation_loss(policy, val_data, cfg.batch_size, run.loss_fn, cfg.segment_windows)
        history.append(record)
        _report_epoch(run, cfg, record, log)
        improved = record["val_loss"] < best_val
        best_val = min(best_val, record["val_loss"])
        _save_epoch(run, epoch, best_val, history, improved, extra)
    policy.trunk.to(memory_format=torch.contiguous_format)
    policy.to("cpu")
    return _result(history, cfg, best_val, constant_val, run.last_path, run.best_path, run.rank)


@dataclass
class _Run:
    """What the epochs of one :func:`fit` share."""

    policy: Policy
    model: nn.Module             # the policy, or its DDP wrapper
    optimizer: torch.optim.Optimizer
    scheduler: Any
    loss_fn: LossFn
    augment: ImageAugment
    device: torch.device
    augment_on_device: bool
    segments: np.ndarray         # (first window, windows) of each training segment
    per_batch: int               # segments per step
    steps_per_epoch: int
    rank: int
    world: int
    last_path: Path
    best_path: Path
    seeds: dict                  # the effective seed of each role (TrainConfig.role_seeds)


def _prepare(policy: Policy, train_data: WindowDataset, val_data: WindowDataset, cfg: TrainConfig,
             checkpoint_dir: Path) -> _Run:
    """Check the inputs and build the loss, augmentation, segments, optimiser and schedule of a run."""
    rank, world = _world()
    if len(train_data) == 0 or len(val_data) == 0:
        raise ValueError(f"train needs windows in both splits, got {len(train_data)} train and {len(val_data)} val; "
                         "collect more episodes or shorten train.seq_len")
    _check_config(cfg)
    device = resolve_device(cfg.device)
    segments = segments_of(train_data, cfg.segment_windows)
    per_batch = segments_per_batch(cfg)
    optimizer = torch.optim.AdamW(_param_groups(policy, cfg), lr=scaled_lr(cfg, world), weight_decay=cfg.weight_decay)
    seeds = cfg.role_seeds()
    steps_per_epoch = len(_batches(len(segments), per_batch, seeds["augment_seed"], 0, rank, world))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(cfg, cfg.epochs * steps_per_epoch))
    return _Run(
        policy=policy, model=policy, optimizer=optimizer, scheduler=scheduler,
        loss_fn=_standardized(_loss_fn(cfg), policy), augment=build_augment(cfg), device=device,
        augment_on_device=device.type != "cpu" and cfg.augment_on == "device" and cfg.augment_impl == "fast",
        segments=segments, per_batch=per_batch, steps_per_epoch=steps_per_epoch, rank=rank, world=world,
        last_path=checkpoint_dir / "last.pt", best_path=checkpoint_dir / "best.pt", seeds=seeds,
    )


def _to_training_device(run: _Run, cfg: TrainConfig) -> None:
    """Move the (possibly resumed) policy and optimiser state to the device, set the memory format,
    wrap in DDP when there are several processes, and enter training mode."""
    if run.device.type != "cpu":
        run.policy.to(run.device)
        run.optimizer.load_state_dict(run.optimizer.state_dict())  # moves a resumed optimiser's state to the device
    if cfg.channels_last:   # the frames enter as (N, H, W, 3), channels-last already
        run.policy.trunk.to(memory_format=torch.channels_last)
    run.model = DistributedDataParallel(run.policy) if run.world > 1 else run.policy
    run.policy.train()


def _train_epoch(run: _Run, train_data: WindowDataset, cfg: TrainConfig, epoch: int,
                 log: Optional[Callable[[dict[str, float], int], None]], progress: bool) -> dict[str, float]:
    """One pass over the training segments; returns the epoch's record (its losses, frames/s, seconds)."""
    seed = run.seeds["augment_seed"]
    batches = _batches(len(run.segments), run.per_batch, seed, epoch, run.rank, run.world)
    bar = _progress(len(batches), f"epoch {epoch + 1}/{cfg.epochs}", progress and run.rank == 0)
    epoch_loss, windows, frames, fps, started = 0.0, 0, 0, 0.0, time.perf_counter()
    gathered = _prefetch((lambda ids=ids: segment_batch(train_data, run.segments[ids])) for ids in batches)
    for index, (ids, batch) in enumerate(zip(batches, gathered)):
        gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch * 10_007 + index)
        batch = _augmented(batch, run.augment, gen, run.device, run.augment_on_device)
        loss_value, grad_norm = _step(run.model, run.policy, run.optimizer, run.scheduler, batch, run.loss_fn, cfg)
        if not _all_finite(loss_value):
            raise NonFiniteLoss(
                f"loss is {loss_value} at epoch {epoch + 1}, batch {index} (windows "
                f"{[w for first, n in run.segments[ids].tolist() for w in range(first, first + n)]}, rank {run.rank}); "
                f"{run.last_path if run.last_path.exists() else 'no checkpoint yet'} holds the last good weights; "
                f"lower train.lr or check the data"
            )
        count = int(batch["index"].shape[0])
        epoch_loss += loss_value * count
        windows += count
        frames += count * int(batch["index"].shape[1]) * run.world
        fps = frames / max(1e-9, time.perf_counter() - started)
        step = epoch * run.steps_per_epoch + index
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.4f}", fps=f"{fps:.0f}")
        if log is not None and run.rank == 0 and step % cfg.log_every == 0:
            log({"train/loss": loss_value, "train/lr": run.scheduler.get_last_lr()[0], "train/grad_norm": grad_norm,
                 "train/frames_per_s": fps}, step)
    bar.close()
    return {"epoch": epoch + 1, "train_loss": epoch_loss / max(1, windows), "val_loss": math.nan,  # set by fit
            "frames_per_s": fps, "seconds": time.perf_counter() - started}


def _report_epoch(run: _Run, cfg: TrainConfig, record: Mapping[str, float],
                  log: Optional[Callable[[dict[str, float], int], None]]) -> None:
    """Print the epoch's line and log its validation loss (rank 0 only)."""
    if run.rank != 0:
        return
    print(f"epoch {record['epoch']}/{cfg.epochs}: train {record['train_loss']:.4f}, val {record['val_loss']:.4f}, "
          f"{record['frames_per_s']:.0f} frames/s, {record['seconds']:.0f} s")
    if log is not None:
        log({"val/loss": record["val_loss"], "train/epoch_loss": record["train_loss"]},
            int(record["epoch"]) * run.steps_per_epoch)


def _save_epoch(run: _Run, epoch: int, best_val: float, history: list, improved: bool,
                extra: Optional[Mapping[str, Any]]) -> None:
    """Write ``last.pt`` (and ``best.pt`` if the validation loss improved) with everything resume needs."""
    state = {
        "epoch": epoch,
        "best_val_loss": best_val,
        "history": history,
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "seeds": dict(run.seeds),
        **dict(extra or {}),
    }
    if run.rank == 0:
        if improved:
            save_checkpoint(run.best_path, run.policy, state)
        save_checkpoint(run.last_path, run.policy, state)
    if run.world > 1:
        dist.barrier()  # every rank resumes from the same files


def scaled_lr(cfg: TrainConfig, world: int = 1) -> float:
    """The peak learning rate for this run's global batch (``train.lr_scaling``).

    ``lr`` is tuned at ``lr_reference_batch`` windows per step; a larger global batch
    (``batch_size`` x processes) takes ``lr`` x ratio (``linear``, Goyal et al. 2017) or x
    sqrt(ratio) (``sqrt``, the rule for adaptive optimisers such as AdamW; Malladi et al. 2022).
    """
    ratio = int(cfg.batch_size) * int(world) / int(cfg.lr_reference_batch)
    rules = {"none": 1.0, "sqrt": math.sqrt(ratio), "linear": ratio}
    if cfg.lr_scaling not in rules:
        raise ValueError(f"train.lr_scaling: unknown '{cfg.lr_scaling}'; valid: {', '.join(rules)}")
    return float(cfg.lr) * rules[cfg.lr_scaling]


def _prefetch(jobs: Iterable[Callable[[], Any]]) -> Iterator[Any]:
    """The results of ``jobs`` in order, each computed in a background thread while the previous one is
    used (the batch gather, mostly numpy copies that release the GIL, overlaps the training step)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="navlnn-gather") as pool:
        pending = None
        for job in jobs:
            future = pool.submit(job)
            if pending is not None:
                yield pending.result()
            pending = future
        if pending is not None:
            yield pending.result()


def _augmented(batch: dict[str, Any], augment: ImageAugment, generator: torch.Generator, device: torch.device,
               on_device: bool) -> dict[str, Any]:
    """The batch on ``device`` with its frames augmented: there (``uint8`` frames travel) or on the CPU
    first. The draws come from the CPU ``generator`` either way."""
    if on_device:
        batch = _to(batch, device)
        batch["frames"] = augment.frames(batch["frames"], batch["lengths"], generator)
        return batch
    batch["frames"] = augment.frames(batch["frames"], batch["lengths"], generator)
    return _to(batch, device)


def _check_config(cfg: TrainConfig) -> None:
    """One clear message for a training setting out of range, before anything is built."""
    cfg.role_seeds()
    if cfg.augment_on not in ("device", "cpu"):
        raise ValueError(f"train.augment_on: unknown '{cfg.augment_on}'; valid: device, cpu")
    if int(cfg.epochs) < 1:
        raise ValueError(f"train.epochs: must be >= 1, got {cfg.epochs}")
    if cfg.patience is not None and int(cfg.patience) < 1:
        raise ValueError(f"train.patience: must be >= 1 epoch or null (off), got {cfg.patience}")
    segments_per_batch(cfg)


def _resume_or_start(policy: Policy, optimizer, scheduler, train_data: WindowDataset, cfg: TrainConfig,
                     last_path: Path, rank: int) -> tuple[int, float, list]:
    """Load ``last_path`` into the policy, optimiser and schedule if it exists (the first epoch to run,
    the best validation loss and the history so far); else set the action standardisation from the data."""
    if not last_path.exists():
        if cfg.standardize_actions:
            mean, std = action_statistics(train_data)
            policy.action_mean.copy_(mean)
            policy.action_std.copy_((cfg.action_scale_stds * std).clamp_min(cfg.min_action_std))
        return 0, math.inf, []
    state = read_checkpoint(last_path)
    if state["model"] != policy.config or tuple(state["image_hw"]) != tuple(policy.image_hw):
        raise ValueError(
            f"{last_path} was written for model {state['model'].get('name')!r} on a "
            f"{state['image_hw'][1]}x{state['image_hw'][0]} camera, not for this run's "
            f"{policy.config.get('name')!r} on {policy.image_hw[1]}x{policy.image_hw[0]}; "
            f"train into another folder (hydra.run.dir=...) or remove it to start over"
        )
    _check_resumed_seeds(state, cfg, last_path)
    policy.load_state_dict(state["state_dict"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    if rank == 0:
        print(f"resuming from {last_path} after epoch {state['epoch'] + 1}/{cfg.epochs}")
    return state["epoch"] + 1, state["best_val_loss"], list(state["history"])


def _check_resumed_seeds(state: Mapping[str, Any], cfg: TrainConfig, last_path: Path) -> None:
    """Refuse to resume a checkpoint written with other role seeds (checkpoints from before the
    roles, without ``seeds``, resume as before)."""
    written, ours = state.get("seeds"), cfg.role_seeds()
    if written is not None and dict(written) != ours:
        changed = ", ".join(f"{k}={written.get(k)} there, {ours[k]} here" for k in ours if written.get(k) != ours[k])
        raise ValueError(f"{last_path} was written with other seeds ({changed}); train into another folder "
                         f"(hydra.run.dir=...) or remove it to start over")


def _step(model: nn.Module, policy: Policy, optimizer, scheduler, batch: dict[str, Any], loss_fn: LossFn,
          cfg: TrainConfig) -> tuple[float, float]:
    """One optimiser step on ``batch``; returns the loss and the gradient norm before clipping.

    A non-finite loss is returned before the weights change, so the caller can stop cleanly.
    """
    pred, _ = model(batch["frames"], batch["dt"], None, batch["index"])
    loss = loss_fn(pred, batch["actions"], batch.get("mask"))
    loss_value = loss.item()
    if not _all_finite(loss_value):
        return loss_value, math.nan
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = float(nn.utils.clip_grad_norm_(policy.parameters(), cfg.grad_clip))
    optimizer.step()
    scheduler.step()
    return loss_value, grad_norm


def _result(history: list, cfg: TrainConfig, best_val: float, constant_val: float, last_path: Path,
            best_path: Path, rank: int) -> FitResult:
    """The run's :class:`FitResult`, with the early-stopping and did-not-learn messages."""
    stopped = should_stop(history, cfg) and len(history) < cfg.epochs
    if stopped and rank == 0:
        print(f"early stopping after epoch {len(history)}: no improvement of the validation loss by more than "
              f"{cfg.min_delta} in {cfg.patience} epochs (best {best_val:.4f})")
    learned = best_val < cfg.learned_ratio * constant_val
    if not learned and rank == 0:
        print(f"warning: this run did not learn: its best validation loss {best_val:.4f} is no better than "
              f"{cfg.learned_ratio} x {constant_val:.4f}, the loss of always answering the mean action (its "
              f"output hardly depends on the images); train it again with another seed or a lower train.lr, or, "
              f"with model.head.input_norm=true (a LayerNorm on the trunk's features)",
              file=sys.stderr)
    return FitResult(last_path, best_path, best_val, history, stopped, constant_val, learned)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, disable=not enabled, dynamic_ncols=True, leave=False)
