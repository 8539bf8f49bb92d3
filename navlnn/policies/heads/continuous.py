"""Continuous-time baseline heads: GRU-ODE and CT-RNN.

The comparison heads of the MIT liquid-network drone work beside LSTM and GRU. They follow the
calling convention of :mod:`navlnn.policies.heads.base` (one ``(B, state_size)`` state, zeros at the start of
an episode) and are plain autograd modules (no hand-written backward), so they train, step and
export to ONNX like every other head.

* :class:`GRUODEHead`: a GRU whose update is an ODE integrated over the time between frames.
* :class:`CTRNNHead`: a continuous-time RNN with learned per-neuron time constants.
* :class:`TCNHead`: causal dilated temporal convolutions; its state is the buffer of past frames.

The two ODE heads take the time between frames as their integration span, in seconds times
``time_scale`` (as the liquid heads do); the TCN reads it as an extra input channel.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from navlnn.policies.heads.base import Head, initial_state_or_zeros, positive_float, positive_int


class GRUODEHead(Head):
    """GRU-ODE (De Brouwer et al., 2019), as in the MIT drone code's ``GRUODE`` cell.

    Between frames the hidden state follows ``dh/dt = (1 - z) * (g - h)`` with the GRU's gates
    ``r = sigmoid(W_r x + U_r h + b_r)``, ``z = sigmoid(W_z x + U_z h + b_z)`` and candidate
    ``g = tanh(W_g x + U_g (r * h) + b_g)``, the frame's features ``x`` held over the interval.
    It is integrated over ``dt * time_scale`` in ``ode_unfolds`` sub-steps, each exact for gates
    held over the sub-step: ``h += (1 - exp(-delta * (1 - z))) * (g - h)`` (first order like
    Euler, and stable for any dt). A linear readout maps ``h`` to the actions.

    Args:
        feature_dim: input features per frame.
        action_dim: number of actions.
        hidden_size: neurons of the hidden state.
        time_scale: multiplies dt (seconds) into the ODE's time unit (15.0: one unit per frame at 15 Hz).
        ode_unfolds: integration sub-steps per frame.

    Shapes:
        features ``(B, T, feature_dim)``, dt ``(B, T)`` seconds, state ``(B, hidden_size)``
        -> actions ``(B, T, action_dim)``, state ``(B, hidden_size)``.
    """

    def __init__(self, feature_dim: int, action_dim: int, hidden_size: int = 64, time_scale: float = 15.0,
                 ode_unfolds: int = 4) -> None:
        super().__init__()
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.time_scale = positive_float("time_scale", time_scale)
        self.ode_unfolds = positive_int("ode_unfolds", ode_unfolds)
        h = self.hidden_size
        self.input_map = nn.Linear(feature_dim, 3 * h)  # W_r, W_z, W_g and the biases
        self.recurrent_gates = nn.Linear(h, 2 * h, bias=False)  # U_r, U_z
        self.recurrent_candidate = nn.Linear(h, h, bias=False)  # U_g
        self.readout = nn.Linear(h, action_dim)
        with torch.no_grad():
            self.input_map.bias[:h].fill_(1.0)  # reset gate open at the start, as in the MIT cell
            nn.init.orthogonal_(self.recurrent_candidate.weight)
        self.state_size = h

    def forward(self, features: Tensor, dt: Tensor, state: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        h = initial_state_or_zeros(state, features, self.hidden_size)
        n = self.hidden_size
        drive = self.input_map(features)  # (B, T, 3H): every frame's input terms at once
        delta = (dt * (self.time_scale / self.ode_unfolds)).unsqueeze(-1)  # (B, T, 1)
        outputs = []
        for t in range(features.shape[1]):
            x_rz, x_g = drive[:, t, : 2 * n], drive[:, t, 2 * n:]
            span = delta[:, t]
            for _ in range(self.ode_unfolds):
                rz = torch.sigmoid(x_rz + self.recurrent_gates(h))
                r, z = rz[:, :n], rz[:, n:]
                g = torch.tanh(x_g + self.recurrent_candidate(r * h))
                h = h + (1.0 - torch.exp(-span * (1.0 - z))) * (g - h)
            outputs.append(h)
        return self.readout(torch.stack(outputs, 1)), h


class CTRNNHead(Head):
    """Continuous-time RNN: ``tau * dh/dt = -h + tanh(W h + U x + b)``, unfolded over dt.

    ``tau`` is a learned time constant per neuron (positive through a softplus, 1.0 at the
    start). Each of the ``ode_unfolds`` sub-steps of ``delta = dt * time_scale / ode_unfolds``
    holds the drive ``f = tanh(W h + U x + b)`` and integrates the leak exactly:
    ``h += (1 - exp(-delta / tau)) * (f - h)`` (exponential Euler: first order, stable for any dt,
    ``h`` stays in [-1, 1] once there). A linear readout maps ``h`` to the actions.

    Args:
        feature_dim: input features per frame.
        action_dim: number of actions.
        hidden_size: neurons.
        time_scale: multiplies dt (seconds) into the ODE's time unit.
        ode_unfolds: integration sub-steps per frame.

    Shapes:
        features ``(B, T, feature_dim)``, dt ``(B, T)`` seconds, state ``(B, hidden_size)``
        -> actions ``(B, T, action_dim)``, state ``(B, hidden_size)``.
    """

    def __init__(self, feature_dim: int, action_dim: int, hidden_size: int = 64, time_scale: float = 15.0,
                 ode_unfolds: int = 6) -> None:
        super().__init__()
        self.hidden_size = positive_int("hidden_size", hidden_size)
        self.time_scale = positive_float("time_scale", time_scale)
        self.ode_unfolds = positive_int("ode_unfolds", ode_unfolds)
        h = self.hidden_size
        self.input_map = nn.Linear(feature_dim, h)  # U x + b
        self.recurrent = nn.Linear(h, h, bias=False)  # W h
        self.tau_raw = nn.Parameter(torch.full((h,), torch.log(torch.expm1(torch.tensor(1.0))).item()))
        self.readout = nn.Linear(h, action_dim)
        with torch.no_grad():
            nn.init.orthogonal_(self.recurrent.weight)
        self.state_size = h

    @property
    def tau(self) -> Tensor:
        """Time constants ``(hidden_size,)``, in the ODE's time unit."""
        return F.softplus(self.tau_raw)

    def forward(self, features: Tensor, dt: Tensor, state: Optional[Tensor] = None) -> tuple[Tensor, Tensor]:
        h = initial_state_or_zeros(state, features, self.hidden_size)
        drive = self.input_map(features)  # (B, T, H)
        delta = (dt * (self.time_scale / self.ode_unfolds)).unsqueeze(-1)  # (B, T, 1)
        gain = 1.0 - torch.exp(-delta / self.tau)  # (B, T, H): per frame and neuron
        outputs = []
        for t in range(features.shape[1]):
            x, step_gain = drive[:, t], gain[:, t]
            for _ in range(self.ode_unfolds):
                f = torch.tanh(x + self.recurrent(h))
                h = h + step_gain * (f - h)
            outputs.append(h)
        return self.readout(torch.stack(outputs, 1)), h
