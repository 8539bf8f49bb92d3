"""Policies: camera frames -> perception trunk -> controller head -> actions.

One interface for training on sequences and for closed-loop control:

* ``policy(images, dt, state=None) -> (actions, state)`` on ``uint8 (B, T, H, W, 3)`` frames and
  ``dt (B, T)`` seconds: the training call;
* ``policy.step(image, state, dt) -> (action, state)`` on one frame per batch row: the functional
  closed-loop call (what the ONNX export contains);
* ``policy.reset()`` then ``policy.act(frame, dt)`` per env step: the stateful convenience for
  closed-loop evaluation of one episode.

Actions are in the env's normalised action space ``[-1, 1]^4`` (``[vx, vy, vz, yaw_rate]``).
"""

from __future__ import annotations

import copy
import numbers
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from navlnn.policies.heads import Head, LiquidHead
from navlnn.policies.trunk import ConvTrunk
from navlnn.policies.bounds import TARGET_KEY, check_action_dim, check_image_hw, check_trunk_config
from navlnn.policies.registry import check_model_config, find_head, head_entry


class Policy(nn.Module):
    """A trunk and a head, plus the config that rebuilds them (see :func:`build_policy`)."""

    def __init__(self, trunk: ConvTrunk, head: Head, action_dim: int, config: Mapping[str, Any]) -> None:
        super().__init__()
        self.trunk = trunk
        self.head = head
        self.action_dim = int(action_dim)
        self.image_hw = trunk.image_hw
        self.config = dict(config)
        # the head predicts standardised actions; training sets these from the data (navlnn.training.loop)
        self.register_buffer("action_mean", torch.zeros(self.action_dim))
        self.register_buffer("action_std", torch.ones(self.action_dim))
        self._state: Optional[Tensor] = None

    @property
    def state_size(self) -> int:
        return self.head.state_size

    def initial_state(self, batch: int) -> Tensor:
        """Zeros ``(batch, state_size)``: the state at the start of an episode."""
        return self.head.initial_state(batch, next(self.parameters()))

    def forward(self, images: Tensor, dt: Tensor, state: Optional[Tensor] = None,
                index: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        """``uint8 (B, T, H, W, 3)``, ``dt (B, T)`` -> ``actions (B, T, A)``, ``state (B, S)``.

        With ``index`` (int64 ``(B, T)``), ``images`` are frames ``(N, H, W, 3)`` and step ``t`` of
        sequence ``b`` is frame ``index[b, t]``: each frame goes through the trunk once, however
        many overlapping windows share it (training's segments).
        """
        if index is not None:
            if images.dim() != 4 or index.dim() != 2:
                raise ValueError(f"with index, images: expected (N, H, W, 3) frames and index (B, T), got "
                                 f"{tuple(images.shape)} and {tuple(index.shape)}")
            batch, steps = index.shape
        elif images.dim() != 5:
            raise ValueError(f"images: expected (B, T, H, W, 3) uint8 frames, got shape {tuple(images.shape)}")
        else:
            batch, steps = images.shape[:2]
        if tuple(dt.shape) != (batch, steps):
            raise ValueError(f"dt: expected shape ({batch}, {steps}) seconds per frame, got {tuple(dt.shape)}")
        if index is not None:
            features = self.trunk(images)[index]
        else:
            features = self.trunk(images.flatten(0, 1)).view(batch, steps, -1)
        actions, state = self.head(features, dt.to(features.dtype), state)
        return torch.addcmul(self.action_mean, actions, self.action_std), state

    def step(self, image: Tensor, state: Optional[Tensor], dt: Tensor) -> tuple[Tensor, Tensor]:
        """``uint8 (B, H, W, 3)``, ``state (B, S)`` or None, ``dt (B,)`` or ``(B, 1)`` -> ``(action, state)``."""
        features = self.trunk(image)
        actions, state = self.head.step(features, dt.reshape(-1).to(features.dtype), state)
        return torch.addcmul(self.action_mean, actions, self.action_std), state

    def reset(self) -> None:
        """Forget the carried state: call at the start of every episode."""
        self._state = None

    @torch.inference_mode()
    def act(self, image: np.ndarray | Tensor, dt: float) -> np.ndarray:
        """One closed-loop action for one frame ``(H, W, 3)`` uint8, carrying the state between calls."""
        frame = torch.as_tensor(np.ascontiguousarray(image) if isinstance(image, np.ndarray) else image)
        device = next(self.parameters()).device
        frame = frame.to(device).unsqueeze(0)
        dt_t = torch.tensor([float(dt)], device=device)
        action, self._state = self.step(frame, self._state, dt_t)
        return action[0].clamp(-1.0, 1.0).cpu().numpy()

    def parameter_counts(self) -> dict[str, int]:
        """Trainable parameters of trunk, head and total (``head_effective``: without masked-out synapses)."""
        trunk = sum(p.numel() for p in self.trunk.parameters() if p.requires_grad)
        head = sum(p.numel() for p in self.head.parameters() if p.requires_grad)
        counts = {"trunk": trunk, "head": head, "total": trunk + head}
        cell = getattr(self.head, "cell", None)
        if cell is not None and hasattr(cell, "effective_parameter_count"):
            counts["head_effective"] = cell.effective_parameter_count()
        return counts

    def describe(self) -> str:
        counts = self.parameter_counts()
        name = self.config.get("name", type(self.head).__name__)
        effective = f" ({counts['head_effective']:,} with synapses)" if "head_effective" in counts else ""
        return (f"{name}: trunk {counts['trunk']:,} + head {counts['head']:,}{effective} = "
                f"{counts['total']:,} parameters; camera {self.image_hw[1]}x{self.image_hw[0]}, "
                f"state {self.state_size}")


def build_policy(
    model: Mapping[str, Any], image_hw: Sequence[int], action_dim: int = 4, *, allow_targets: bool = False
) -> Policy:
    """Build a policy from a model config: ``trunk`` kwargs and a ``head`` naming a registered head.

    The head's ``_target_`` is looked up in :mod:`navlnn.policies.registry` (by name or class path:
    the built-in heads, those of installed packages' ``navlnn.heads`` entry points, those registered
    in code) and the whole config is checked there before anything is allocated: known keys, plain
    values inside their bounds, the trunk's size at ``image_hw``. Only a config a person wrote in
    ``conf/`` (``allow_targets=True``, what ``navlnn train`` passes) may name an unregistered class,
    which Hydra then instantiates (its trunk, camera and action count are still checked); a config
    read from a file never may (see :func:`navlnn.policies.checkpoint.load_policy`).

    The policy keeps a plain-data copy of the config whose head ``_target_`` is the registered
    class path and in which an NCP wiring is replaced by its exact matrices, so that a checkpoint
    rebuilds the very same circuit.
    """
    model = _plain(model)
    image_hw = check_image_hw(_python_ints(image_hw))
    action_dim = check_action_dim(_python_ints(action_dim))
    head_cfg = dict(model.get("head") or {})
    target = head_cfg.get(TARGET_KEY)
    if allow_targets and target is not None and find_head(target) is None:
        trunk, head = _instantiated(model, image_hw, action_dim)
    else:
        check_model_config(model, image_hw=image_hw)
        entry = head_entry(target)
        trunk = ConvTrunk(image_hw, **model["trunk"])
        settings = {k: v for k, v in head_cfg.items() if k != TARGET_KEY}
        try:
            head = entry.cls(feature_dim=trunk.feature_dim, action_dim=action_dim, **settings)
        except TypeError as exc:
            raise ValueError(f"model.head ({entry.name}): {exc}") from exc
        except ValueError as exc:  # a head of one's own: its message, as one line naming the head
            if entry.builtin:
                raise
            raise ValueError(f"model.head ({entry.name}, {entry.target}): {exc}") from exc
        head_cfg[TARGET_KEY] = entry.target
    if isinstance(head, LiquidHead) and head.wiring is not None:
        head_cfg["wiring"] = head.wiring.to_dict()
    config = {**model, "head": head_cfg}
    return Policy(trunk, head, action_dim, config)


def _instantiated(model: dict[str, Any], image_hw: tuple[int, int], action_dim: int) -> tuple[ConvTrunk, Head]:
    """Trunk and head of a ``conf/`` config whose head names a class of the user's own (Hydra instantiate)."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    if "trunk" not in model or "head" not in model:
        raise ValueError(f"model config needs 'trunk' and 'head' sections, got keys {sorted(model)}")
    check_trunk_config(model["trunk"], "model.trunk", image_hw)
    trunk = ConvTrunk(image_hw, **model["trunk"])
    head_cfg = dict(model["head"])
    try:
        head = instantiate(head_cfg, feature_dim=trunk.feature_dim, action_dim=action_dim, _convert_="all")
    except InstantiationException as exc:  # surface the head's own message, not Hydra's wrapper
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        raise ValueError(f"model.head ({head_cfg[TARGET_KEY]}): {cause}") from cause
    if not isinstance(head, Head):
        raise ValueError(f"model.head._target_ must build a navlnn.policies.heads.Head, got {type(head).__name__}")
    return trunk, head


def _python_ints(value: Any) -> Any:
    """numpy integers (a camera size read from a manifest) as Python ints; everything else as it is."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_python_ints(v) for v in value]
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


def _plain(config: Any) -> Any:
    """A deep copy with omegaconf containers (anywhere inside) turned into dicts and lists."""
    from omegaconf import Container, OmegaConf

    if isinstance(config, Container):
        return OmegaConf.to_container(config, resolve=True)
    if isinstance(config, Mapping):
        return {key: _plain(value) for key, value in config.items()}
    if isinstance(config, (list, tuple)):
        return [_plain(value) for value in config]
    return copy.deepcopy(config)
