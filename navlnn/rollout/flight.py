"""A flight: the trajectory and commands of one closed-loop episode, as evaluation and video use it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields
from typing import Any, Optional

import numpy as np


@dataclass
class Flight:
    """One closed-loop episode.

    State arrays have ``T + 1`` rows (row ``t``: the state before action ``t``; the last row: the
    final state); action arrays have ``T`` rows. Positions are in the world frame (m).
    """

    seed: int
    scene: str
    task: str
    outcome: str
    env_dt: float
    time_s: np.ndarray  # (T+1,)
    pos_world: np.ndarray  # (T+1, 3)
    yaw: np.ndarray  # (T+1,)
    vel_world: np.ndarray  # (T+1, 3)
    distance_to_approach: np.ndarray  # (T+1,)
    clearance: np.ndarray  # (T+1,) distance to the nearest obstacle surface (m)
    target_pos_world: np.ndarray  # (T+1, 3)
    target_yaw: np.ndarray  # (T+1,)
    approach_world: np.ndarray  # (T+1, 3)
    action: np.ndarray  # (T, 4) executed commands
    policy_action: np.ndarray  # (T, 4) the policy's commands (NaN without a policy)
    dt: np.ndarray  # (T,) the dt the policy was told (0 where its frame was dropped)
    frame_used: np.ndarray  # (T,) bool, False where the frame was dropped
    expert_label: Optional[np.ndarray] = None  # (T, 4) the expert's command at each visited state
    expert_executed: Optional[np.ndarray] = None  # (T,) bool, True where the expert's command flew
    images: Optional[np.ndarray] = None  # (T, H, W, 3) uint8, the frames as the policy saw them
    chase: Optional[np.ndarray] = None  # (T+1, h, w, 3) uint8, the chase camera
    policy_state: Optional[np.ndarray] = None  # (T, S) the policy's state after each step
    target_mask: Optional[np.ndarray] = None  # (T, H, W) bool, the target's pixels in each frame
    target_attention: Optional[np.ndarray] = None  # (T,) saliency on the target over chance (NaN: not measured)
    saliency_ssim: Optional[np.ndarray] = None  # (T,) SSIM of clean and perturbed saliency (NaN: not measured)
    obstacles: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (N, 3) x, y, reach
    obstacle_boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))  # (M, 5) x, y, half x, half y, yaw:
    # the last M rows of ``obstacles`` are these boxes (buildings), the others round (trees, posts, rocks)
    targets_reached: int = 0
    targets: int = 1
    tags: dict = field(default_factory=dict)  # passed through from the job (model, stress, ...)

    @property
    def steps(self) -> int:
        return int(len(self.action))

    @property
    def success(self) -> bool:
        return self.outcome == "success"


def plain_json(value: Any) -> Any:
    """``json.dumps(default=...)`` for numpy arrays and scalars."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def save_flight(path: str | os.PathLike, flight: Flight) -> None:
    """Write a flight as ``.npz`` (arrays, plus its scalars and tags as JSON), atomically."""
    arrays, meta = {}, {}
    for f in fields(Flight):
        value = getattr(flight, f.name)
        if isinstance(value, np.ndarray):
            arrays[f.name] = value
        elif value is not None:
            meta[f.name] = value
    tmp = f"{os.fspath(path)}.tmp.npz"
    np.savez_compressed(tmp, _meta=np.array(json.dumps(meta, default=plain_json)), **arrays)
    os.replace(tmp, path)


def load_flight(path: str | os.PathLike) -> Flight:
    """Read a flight written by :func:`save_flight`."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["_meta"]))
        arrays = {k: data[k] for k in data.files if k != "_meta"}
    return Flight(**meta, **arrays)
