"""Policy checkpoints: tensors and plain data only, written atomically, checked on load.

A checkpoint loads with ``torch.load(path, weights_only=True)`` and holds everything needed to
rebuild and use the policy without the training code: the model config (wiring matrices
included), the camera size and the action space it expects, and the training state for exact
resume.

A checkpoint is data, never code: its model config and camera size are checked against the
registry of heads (:mod:`navlnn.policies.registry`: the built-in heads and those the user installed
or registered) and against the registry's bounds before anything is built or allocated, and nothing
in it is handed to Hydra's ``instantiate``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Mapping, Optional

import torch

from navlnn.constants import ACTION_NAMES
from navlnn.policies.policy import Policy, build_policy
from navlnn.policies.registry import UnsafeConfig, check_image_hw, check_model_config

FORMAT = "navlnn-policy-v1"


def action_space_spec(low: float = -1.0, high: float = 1.0) -> dict[str, Any]:
    """The normalised action space a policy outputs (the env's ``Box(-1, 1, (4,))``)."""
    return {"names": list(ACTION_NAMES), "low": [low] * len(ACTION_NAMES), "high": [high] * len(ACTION_NAMES)}


def save_checkpoint(path: str | os.PathLike, policy: Policy, extra: Optional[Mapping[str, Any]] = None) -> Path:
    """Write ``policy`` (and ``extra`` training state) to ``path`` atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "model": policy.config,
        "state_dict": {k: v.detach().cpu() for k, v in policy.state_dict().items()},
        "image_hw": list(policy.image_hw),
        "action_space": action_space_spec(),
        **dict(extra or {}),
    }
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint's contents (weights only), with one clear message for each bad case."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path}: no such file; pass checkpoint=<run>/checkpoints/best.pt")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        # torch's own message suggests weights_only=False, which would run code from the file: not given here
        raise ValueError(f"checkpoint {path}: not a readable navlnn checkpoint ({type(exc).__name__}); it is "
                         f"corrupt or truncated, or holds pickled objects, which navlnn never loads (a file "
                         f"written by navlnn train holds tensors and plain data only)") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(f"checkpoint {path}: format {found!r}, expected {FORMAT!r} (a file written by navlnn train)")
    for key in ("model", "state_dict", "image_hw", "action_space"):
        if key not in payload:
            raise ValueError(f"checkpoint {path}: no '{key}' entry; it was not written by navlnn train")
    try:
        hw = check_image_hw(payload["image_hw"])
        check_model_config(payload["model"], image_hw=hw)
    except UnsafeConfig as exc:
        raise UnsafeConfig(f"checkpoint {path}: refused, {exc}") from None
    return payload


def load_policy(path: str | os.PathLike, image_hw: Optional[tuple[int, int]] = None) -> Policy:
    """Rebuild the policy stored at ``path``; if ``image_hw`` is given, it must match the checkpoint's camera."""
    payload = read_checkpoint(path)
    stored_hw = tuple(payload["image_hw"])
    if image_hw is not None and tuple(image_hw) != stored_hw:
        raise ValueError(
            f"checkpoint {path}: trained for a {stored_hw[1]}x{stored_hw[0]} camera, the env gives "
            f"{image_hw[1]}x{image_hw[0]}; use an env with drone.camera.width={stored_hw[1]} "
            f"drone.camera.height={stored_hw[0]}, or retrain"
        )
    if payload["action_space"] != action_space_spec():
        raise ValueError(f"checkpoint {path}: action space {payload['action_space']} is not navlnn's {action_space_spec()}")
    policy = build_policy(payload["model"], stored_hw, action_dim=len(payload["action_space"]["names"]), allow_targets=False)
    state_dict = dict(payload["state_dict"])
    # checkpoints from before actions were standardised learned them unscaled: mean 0, scale 1
    state_dict.setdefault("action_mean", policy.action_mean.clone())
    state_dict.setdefault("action_std", policy.action_std.clone())
    try:
        policy.load_state_dict(state_dict)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"checkpoint {path}: weights do not fit its own model config ({exc})") from exc
    return policy
