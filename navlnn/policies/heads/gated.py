"""The gated recurrent baselines: LSTM and GRU heads (dt appended to the features)."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from navlnn.policies.heads.base import Head, feature_norm


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
