"""Controller heads: from per-frame features and frame timing to actions, with a carried state.

Every head takes the time elapsed since the previous frame: the continuous-time heads (CfC, LTC)
use it as their timespans, the others read it as an extra input feature. All share one calling
convention, with the state as one ``(B, state_size)`` tensor (zeros at the start of an episode):

* ``forward(features (B, T, F), dt (B, T), state=None) -> (actions (B, T, A), state)``
* ``step(features (B, F), dt (B,), state) -> (actions (B, A), state)``
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import torch
from torch import Tensor, nn

from navlnn.nn.cfc import CfC
from navlnn.nn.ltc import LTC
from navlnn.nn.wirings import NCP, FullyConnected, Wiring, wiring_from_dict


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


class LiquidHead(Head):
    """A CfC or LTC controller; with an NCP wiring the motor neurons are the actions.

    Args:
        kind: ``"cfc"`` or ``"ltc"``.
        feature_dim: input features per frame.
        action_dim: number of actions.
        wiring: an NCP-style wiring (or its ``to_dict()``); None builds a dense head of ``units``
            neurons: a CfC with a linear readout, or an LTC on a fully connected wiring
            (``FullyConnected(units, output_dim=action_dim)``: every neuron and input reaches every
            neuron, the first ``action_dim`` neurons are the motor neurons, read out affinely).
        units: neurons of a dense head.
        time_scale: multiplies dt (seconds) into the neurons' time unit; 1.0 per frame at the
            policy rate keeps the dynamics of a model trained without timespans.
        input_norm: a LayerNorm on the features before the cell. The LTC's sensory synapses are
            sigmoids of ``sigma * (x - mu)`` with ``mu`` drawn in [0.3, 0.8], made for inputs of
            order 1; the trunk's linear features are unbounded, and a dense LTC (every neuron reading
            every feature) drives them to hundreds, where every sigmoid saturates and the command
            stops depending on the image.
        **cell_kwargs: passed to :class:`CfC` or :class:`LTC` (``mode``, ``mixed_memory``, ``ode_unfolds``...).
    """

    def __init__(
        self,
        kind: str,
        feature_dim: int,
        action_dim: int,
        wiring: Wiring | Mapping[str, Any] | None = None,
        units: int = 64,
        time_scale: float = 15.0,
        input_norm: bool = False,
        **cell_kwargs: Any,
    ) -> None:
        super().__init__()
        self.norm: nn.Module = feature_norm(feature_dim, input_norm)
        if isinstance(wiring, Mapping):
            wiring = _wiring_from_config(wiring)
        if kind not in ("cfc", "ltc"):
            raise ValueError(f"kind must be 'cfc' or 'ltc', got {kind!r}")
        if wiring is not None and wiring.output_dim != action_dim:
            raise ValueError(
                f"wiring: {wiring.output_dim} motor neurons, but the policy has {action_dim} actions; "
                f"set the wiring's motor neurons to {action_dim}"
            )
        self.kind = kind
        self.time_scale = float(time_scale)
        if kind == "cfc":
            if wiring is None:
                self.cell: nn.Module = CfC(feature_dim, units, proj_size=action_dim, **cell_kwargs)
            else:
                self.cell = CfC(feature_dim, wiring, **cell_kwargs)
        else:
            if wiring is None:
                if units < action_dim:
                    raise ValueError(f"units: a dense LTC head needs at least {action_dim} neurons (one per action), "
                                     f"got {units}")
                wiring = FullyConnected(units, output_dim=action_dim)
            self.cell = LTC(feature_dim, wiring, **cell_kwargs)
        self.state_size = self.cell.state_size

    @property
    def wiring(self) -> Optional[Wiring]:
        return self.cell.wiring

    def forward(self, features: Tensor, dt: Tensor, state: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        return self.cell(self.norm(features), state, dt * self.time_scale)

    def step(self, features: Tensor, dt: Tensor, state: Optional[Tensor]) -> tuple[Tensor, Tensor]:
        return self.cell.step(self.norm(features), state, dt.reshape(-1, 1) * self.time_scale)


def _wiring_from_config(config: Mapping[str, Any]) -> Wiring:
    """A wiring from a checkpoint dict (``Wiring.to_dict()``) or NCP arguments from a config."""
    config = dict(config)
    if "adjacency_matrix" in config:
        return wiring_from_dict(config)
    config.pop("_target_", None)
    return NCP(**config)


class RecurrentHead(Head):
    """An LSTM or GRU baseline; dt is appended to the features.

    ``input_norm``: a LayerNorm on the features before the cell (dt is appended after it), the same
    switch as :class:`LiquidHead`'s, so that a recipe that sets it treats every head alike.
    """

    def __init__(self, kind: str, feature_dim: int, action_dim: int, hidden_size: int = 64,
                 input_norm: bool = False) -> None:
        super().__init__()
        self.norm: nn.Module = feature_norm(feature_dim, input_norm)
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}
        if kind not in rnn:
            raise ValueError(f"kind must be one of {list(rnn)}, got {kind!r}")
        self.kind = kind
        self.hidden_size = hidden_size
        self.rnn = rnn[kind](feature_dim + 1, hidden_size, batch_first=True)
        self.readout = nn.Linear(hidden_size, action_dim)
        self.state_size = hidden_size * (2 if kind == "lstm" else 1)

    def forward(self, features: Tensor, dt: Tensor, state: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        x = torch.cat([self.norm(features), dt.unsqueeze(-1).to(features.dtype)], -1)
        hidden = None
        if state is not None:
            h = state[:, : self.hidden_size].unsqueeze(0).contiguous()
            hidden = (h, state[:, self.hidden_size:].unsqueeze(0).contiguous()) if self.kind == "lstm" else h
        out, hidden = self.rnn(x, hidden)
        new_state = torch.cat([hidden[0][0], hidden[1][0]], 1) if self.kind == "lstm" else hidden[0]
        return self.readout(out), new_state


class FeedForwardHead(Head):
    """The memory-less baseline: an MLP on each frame's features and dt.

    ``input_norm``: a LayerNorm on the features before the MLP (as in :class:`LiquidHead`).
    """

    def __init__(self, feature_dim: int, action_dim: int, hidden_size: int = 64, input_norm: bool = False) -> None:
        super().__init__()
        self.norm: nn.Module = feature_norm(feature_dim, input_norm)
        self.mlp = nn.Sequential(nn.Linear(feature_dim + 1, hidden_size), nn.GELU(), nn.Linear(hidden_size, action_dim))
        self.state_size = 1  # a placeholder column, so every policy carries a (B, S) state

    def forward(self, features: Tensor, dt: Tensor, state: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        if state is None:
            state = features.new_zeros(features.shape[0], 1)
        return self.mlp(torch.cat([self.norm(features), dt.unsqueeze(-1).to(features.dtype)], -1)), state
