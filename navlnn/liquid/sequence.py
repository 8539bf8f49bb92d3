"""Shared helpers of the liquid sequence modules: input checks, timespans, the mixed-memory LSTM.

Everything here is TorchScript-compatible, so the modules that use it can be scripted.
"""

from __future__ import annotations

import math
from typing import List, Optional, Tuple, Union

import torch
from torch import Tensor, nn


def prepare_inputs(
    x: Tensor, h0: Optional[Tensor], timespans: Optional[Tensor], input_size: int, state_size: int
) -> Tuple[Tensor, Tensor, Tensor, bool]:
    """Check and normalise ``(x, h0, timespans)`` to ``(B, T, C)``, ``(B, S)`` and ``(B, T, 1)``.

    ``x`` is batch-first ``(B, T, C)`` or unbatched ``(T, C)``; ``timespans`` is
    ``(B, T)`` or ``(B, T, 1)`` (``(T,)`` or ``(T, 1)`` when unbatched), in the same
    unit as the time constants (ncps: 1.0 per step when omitted).
    Returns the tensors and whether the input was batched.
    """
    if x.dim() not in (2, 3):
        raise ValueError(
            "x: expected a batch-first (B, T, {}) tensor or an unbatched (T, {}) tensor, got shape {}".format(
                input_size, input_size, list(x.shape)
            )
        )
    batched = x.dim() == 3
    if not batched:
        x = x.unsqueeze(0)
        if timespans is not None:
            timespans = timespans.unsqueeze(0)
        if h0 is not None:
            if h0.dim() != 1:
                raise ValueError(
                    "h0: unbatched input needs a 1-D state of size {}, got shape {}".format(state_size, list(h0.shape))
                )
            h0 = h0.unsqueeze(0)
    batch, steps = x.size(0), x.size(1)
    if x.size(2) != input_size:
        raise ValueError(
            "x: this module takes {} input features in the last dimension, got {} (shape {})".format(
                input_size, x.size(2), list(x.shape)
            )
        )
    if h0 is None:
        h0 = torch.zeros(batch, state_size, dtype=x.dtype, device=x.device)
    elif h0.dim() != 2 or h0.size(0) != batch or h0.size(1) != state_size:
        raise ValueError(
            "h0: expected a state of shape [{}, {}] (batch, state_size), got {}".format(
                batch, state_size, list(h0.shape)
            )
        )
    if timespans is None:
        ts = torch.ones(batch, steps, 1, dtype=x.dtype, device=x.device)
    else:
        ts = timespans
        if ts.dim() == 2:
            ts = ts.unsqueeze(-1)
        if ts.dim() != 3 or ts.size(0) != batch or ts.size(1) != steps or ts.size(2) != 1:
            raise ValueError(
                "timespans: expected shape [{}, {}] or [{}, {}, 1] (batch, time), got {}".format(
                    batch, steps, batch, steps, list(timespans.shape)
                )
            )
        ts = ts.to(x.dtype)
    return x, h0, ts, batched


def merge_state(
    h0: Union[Tensor, Tuple[Tensor, Tensor], None],
    hx: Union[Tensor, Tuple[Tensor, Tensor], None],
    mixed: bool,
) -> Tuple[Optional[Tensor], bool]:
    """The initial state as one tensor, from ``h0`` or ncps's ``hx``; and whether it came as a tuple.

    A mixed-memory state may be ncps's ``(h, c)`` tuple (each ``(B, units)``); it becomes ``[h, c]``.
    """
    if hx is not None:
        if h0 is not None:
            raise ValueError("give the initial state as h0 or as hx (ncps's name for it), not both")
        h0 = hx
    if h0 is None:
        return None, False
    if isinstance(h0, Tensor):
        return h0, False
    if not mixed:
        raise ValueError(
            "a (h, c) tuple state is for mixed_memory=True; without mixed memory the state is one tensor"
        )
    h, c = h0
    if h.shape != c.shape:
        raise ValueError(
            "the (h, c) state needs h and c of the same shape, got {} and {}".format(list(h.shape), list(c.shape))
        )
    return torch.cat([h, c], -1), True


def split_state(state: Tensor, units: int) -> Tuple[Tensor, Tensor]:
    """``[h, c]`` back to ncps's ``(h, c)`` tuple."""
    return state[..., :units], state[..., units:]


def batch_major(x: Tensor, timespans: Optional[Tensor], batch_first: bool) -> Tuple[Tensor, Optional[Tensor]]:
    """Time-major ``(T, B, C)`` input and ``(T, B[, 1])`` timespans as batch-first (no-op otherwise)."""
    if batch_first or x.dim() != 3:
        return x, timespans
    if timespans is not None and timespans.dim() >= 2:
        timespans = timespans.transpose(0, 1)
    return x.transpose(0, 1), timespans


def caller_layout(y: Tensor, state: Tensor, batched: bool, return_sequences: bool,
                  batch_first: bool) -> Tuple[Tensor, Tensor]:
    """Outputs back in the caller's layout: unbatched input gives unbatched ``(y, state)``, and a
    time-major call gets its output sequence time-major (the inverse of :func:`batch_major`)."""
    if not batched:
        return y.squeeze(0), state.squeeze(0)
    if return_sequences and not batch_first:
        return y.transpose(0, 1), state
    return y, state


class MixedMemory(nn.Module):
    """The LSTM memory cell that ncps's ``mixed_memory=True`` runs before each liquid step.

    Same equations and initialisation as ``ncps.torch.lstm.LSTMCell`` (forget-gate bias +1).
    The input projection is exposed separately so sequence modules can apply it to all
    time steps in one matrix product.
    """

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.input_map = nn.Linear(input_size, 4 * hidden_size, bias=True)
        self.recurrent_map = nn.Linear(hidden_size, 4 * hidden_size, bias=False)
        nn.init.xavier_uniform_(self.input_map.weight)
        nn.init.uniform_(self.input_map.bias, -0.1, 0.1)
        nn.init.orthogonal_(self.recurrent_map.weight)

    def project_inputs(self, x: Tensor) -> Tensor:
        """``(..., input_size) -> (..., 4 * hidden)``: the input half of the gates."""
        return self.input_map(x)

    def forward(self, x_proj: Tensor, h: Tensor, c: Tensor) -> Tuple[Tensor, Tensor]:
        """One step from pre-projected inputs; returns ``(h', c')``."""
        z = torch.addmm(x_proj, h, self.recurrent_map.weight.t())
        i, ig, fg, og = z.chunk(4, 1)
        new_c = c * torch.sigmoid(fg + 1.0) + torch.tanh(i) * torch.sigmoid(ig)
        new_h = torch.tanh(new_c) * torch.sigmoid(og)
        return new_h, new_c


def check_same_wiring(module: nn.Module, state_dict: dict, prefix: str) -> None:
    """Raise a clear ``ValueError`` if ``state_dict`` holds another circuit's adjacency than ``module``.

    Called from a wired module's ``_load_from_state_dict``; the adjacency buffers are persistent so
    that a checkpoint carries the circuit its weights belong to.
    """
    for name in ("adjacency", "sensory_adjacency"):
        key = prefix + name
        if key in state_dict:
            theirs, ours = state_dict[key], getattr(module, name)
            if theirs.shape != ours.shape or not torch.equal(theirs.to(ours.dtype), ours):
                raise ValueError(
                    f"{key}: this state_dict was saved from a {type(module).__name__} with a different wiring "
                    f"({tuple(theirs.shape)} vs {tuple(ours.shape)}, or other synapses); rebuild the module "
                    f"with the checkpoint's wiring (navlnn.liquid.wiring_from_dict) before loading"
                )


def xavier_bound(fan_in: int, fan_out: int) -> float:
    """The bound of ``torch.nn.init.xavier_uniform_`` for a ``fan_out x fan_in`` matrix."""
    return math.sqrt(6.0 / float(fan_in + fan_out))


def cached_until_params_change(module: nn.Module, slot: str, compute):
    """``compute()``, kept in ``module.<slot>`` until a parameter is changed, moved or replaced.

    Closed-loop steps reuse the weights derived from the parameters (masks applied, slices taken);
    with autograd on, they are recomputed so gradients reach the parameters.
    """
    if torch.is_grad_enabled():
        return compute()
    key = param_versions(list(module.parameters()))
    cached = getattr(module, slot)
    if cached is None or cached[0] != key:
        cached = (key, compute())
        setattr(module, slot, cached)
    return cached[1]


def param_versions(params: List[Tensor]) -> Tuple[int, ...]:
    """A key that changes whenever a parameter is modified in place, moved or replaced."""
    key: List[int] = []
    for p in params:
        key.append(p._version)
        key.append(p.data_ptr())
    return tuple(key)
