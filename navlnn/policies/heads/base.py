"""The head interface: from per-frame features and frame timing to actions, with a carried state.

Every head takes the time elapsed since the previous frame: the continuous-time heads (CfC, LTC)
use it as their timespans, the others read it as an extra input feature. All share one calling
convention, with the state as one ``(B, state_size)`` tensor (zeros at the start of an episode):

* ``forward(features (B, T, F), dt (B, T), state=None) -> (actions (B, T, A), state)``
* ``step(features (B, F), dt (B,), state) -> (actions (B, A), state)``
"""

from __future__ import annotations

from typing import Optional

from torch import Tensor, nn


class Head(nn.Module):
    """Base class: subclasses set ``state_size`` and implement :meth:`forward`."""

    state_size: int = 0

    def initial_state(self, batch: int, like: Tensor) -> Tensor:
        return like.new_zeros(batch, self.state_size)

    def step(self, features: Tensor, dt: Tensor, state: Optional[Tensor]) -> tuple[Tensor, Tensor]:
        actions, state = self.forward(features.unsqueeze(1), dt.reshape(-1, 1), state)
        return actions[:, 0], state


def feature_norm(feature_dim: int, on: bool) -> nn.Module:
    """The ``input_norm`` switch of every head that has it: a LayerNorm on the trunk's features
    (dt is never normalised), or the identity, which adds no parameters so that checkpoints
    trained without it load unchanged."""
    return nn.LayerNorm(feature_dim) if on else nn.Identity()


def positive_int(name: str, value: object) -> int:
    """``value`` if it is a positive int (not a bool), else a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


def positive_float(name: str, value: object) -> float:
    """``value`` as a float if it is a positive number, else a ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def initial_state_or_zeros(state: Optional[Tensor], features: Tensor, size: int) -> Tensor:
    """The given state, checked, or zeros ``(B, size)``."""
    if state is None:
        return features.new_zeros(features.shape[0], size)
    if tuple(state.shape) != (features.shape[0], size):
        raise ValueError(f"state: expected shape ({features.shape[0]}, {size}), got {tuple(state.shape)}")
    return state
