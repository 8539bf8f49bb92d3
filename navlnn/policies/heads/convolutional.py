"""Per-frame and temporal-convolution baselines: the memory-less CNN head (an MLP on each frame's
features) and the TCN (causal dilated convolutions over past frames, its state the frame buffer)."""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from navlnn.policies.heads.base import Head, feature_norm, initial_state_or_zeros, positive_int


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


class _CausalBlock(nn.Module):
    """Two dilated causal convolutions with ReLU and a residual path (Bai et al., 2018), without padding.

    ``(B, C_in, L) -> (B, C_out, L - 2 * dilation * (kernel_size - 1))``: each output sees the
    ``2 * dilation * (kernel_size - 1) + 1`` inputs ending at its own position.
    """

    def __init__(self, in_channels: int, channels: int, kernel_size: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(in_channels, channels, kernel_size, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size, dilation=dilation)
        self.skip = nn.Conv1d(in_channels, channels, 1) if in_channels != channels else nn.Identity()
        self.trim = 2 * dilation * (kernel_size - 1)

    def forward(self, x: Tensor) -> Tensor:
        y = F.relu(self.conv2(F.relu(self.conv1(x))))
        return F.relu(y + self.skip(x[:, :, self.trim:]))


class TCNHead(Head):
    """Temporal convolutional network over the frame features (and dt), causal and dilated.

    Residual blocks of two dilated causal convolutions (Bai et al., 2018; the MIT drone code's
    ``keras-tcn`` baseline), one block per dilation, then a linear readout of the last block's
    channels at every frame. The action at frame ``t`` depends on the ``receptive_field`` frames
    ending at ``t``: ``1 + 2 * (kernel_size - 1) * sum(dilations)`` (63 for the defaults).

    In closed loop the state is the buffer of the last ``receptive_field - 1`` input frames
    (features and dt), flattened to ``(B, (receptive_field - 1) * (feature_dim + 1))``, oldest
    first; zeros at the start of an episode are the same zeros a causal convolution pads with.
    The sequence call prepends that buffer to its frames, so a sequence and the same frames
    stepped one by one compute the same convolutions.

    Args:
        feature_dim: input features per frame.
        action_dim: number of actions.
        channels: convolution channels of every block.
        kernel_size: taps of each convolution (2 or more).
        dilations: one residual block per entry, e.g. ``[1, 2, 4, 8, 16]``.

    Shapes:
        features ``(B, T, feature_dim)``, dt ``(B, T)`` seconds, state ``(B, state_size)``
        -> actions ``(B, T, action_dim)``, state ``(B, state_size)``.
    """

    def __init__(self, feature_dim: int, action_dim: int, channels: int = 32, kernel_size: int = 2,
                 dilations: Sequence[int] = (1, 2, 4, 8, 16)) -> None:
        super().__init__()
        self.channels = positive_int("channels", channels)
        self.kernel_size = positive_int("kernel_size", kernel_size)
        if self.kernel_size < 2:
            raise ValueError(f"kernel_size must be 2 or more (1 sees no past frame), got {kernel_size!r}")
        if isinstance(dilations, (str, bytes)) or not isinstance(dilations, Sequence) or len(dilations) == 0:
            raise ValueError(f"dilations must be a non-empty list of positive integers, got {dilations!r}")
        self.dilations = tuple(positive_int("dilations[]", d) for d in dilations)
        self.input_size = feature_dim + 1
        self.receptive_field = 1 + 2 * (self.kernel_size - 1) * sum(self.dilations)
        self.memory = self.receptive_field - 1
        sizes = [self.input_size] + [self.channels] * len(self.dilations)
        self.blocks = nn.ModuleList(
            _CausalBlock(sizes[i], self.channels, self.kernel_size, d) for i, d in enumerate(self.dilations)
        )
        self.readout = nn.Linear(self.channels, action_dim)
        self.state_size = self.memory * self.input_size

    def forward(self, features: Tensor, dt: Tensor, state: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        frames = torch.cat([features, dt.unsqueeze(-1).to(features.dtype)], -1)  # (B, T, F + 1)
        past = initial_state_or_zeros(state, features, self.state_size).reshape(-1, self.memory, self.input_size)
        window = torch.cat([past, frames], 1)  # (B, memory + T, F + 1)
        y = window.transpose(1, 2)
        for block in self.blocks:
            y = block(y)  # the sequence shortens by each block's reach; T frames remain
        actions = self.readout(y.transpose(1, 2))
        return actions, window[:, -self.memory:].reshape(-1, self.state_size)
