"""Shared helpers of the liquid cells and sequence modules: input checks, timespans, the
mixed-memory LSTM, checkpoint keys, cached derived weights.

The helpers called from ``forward`` or ``step`` are TorchScript-compatible, so the modules that use
them can be scripted.
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Tuple, Union

import torch
from torch import Tensor, nn

from navlnn.liquid.wirings import Wiring, as_wiring


def check_input_size(input_size: Any) -> int:
    """``input_size`` if it is a positive integer; a ``ValueError`` that names it otherwise."""
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1:
        raise ValueError(f"input_size must be a positive integer, got {input_size!r}")
    return input_size


def built_wiring(wiring: Any, input_size: Optional[int], argument: str) -> Wiring:
    """``wiring`` as a navlnn wiring (an ncps one is built for ``input_size`` and converted), which must
    be built already when ``input_size`` is None (``argument`` is the caller's name for it)."""
    wiring = as_wiring(wiring, input_size)
    if not isinstance(wiring, Wiring):
        raise ValueError(f"wiring must be a navlnn or ncps Wiring, got {type(wiring).__name__}")
    if input_size is None and not wiring.is_built():
        raise ValueError(
            f"wiring is not built and {argument} is None: pass {argument} or call wiring.build(input_dim) first"
        )
    return wiring


def cell_dt(ts: Union[Tensor, float, None], x: Tensor) -> Optional[Tensor]:
    """A cell call's elapsed time ``ts`` (a number, a 0-d tensor, ``(B,)`` or ``(B, 1)``) as ``(B, 1)``."""
    if ts is None:
        return None
    if x.dim() != 2:
        raise ValueError(f"input: a cell takes one step of shape (batch, features), got {list(x.shape)}")
    if not isinstance(ts, Tensor):
        return x.new_full((x.size(0), 1), float(ts))
    ts = ts.to(dtype=x.dtype, device=x.device)
    if ts.numel() == 1:
        return ts.reshape(1, 1).expand(x.size(0), 1)
    if ts.numel() != x.size(0) or ts.dim() > 2 or (ts.dim() == 2 and ts.size(1) != 1):
        raise ValueError(
            f"ts: a cell takes one elapsed time, or one per sample ({x.size(0)},) or ({x.size(0)}, 1), "
            f"got shape {list(ts.shape)}"
        )
    return ts.reshape(x.size(0), 1)


def step_timespans(dt: Optional[Tensor]) -> Optional[Tensor]:
    """``step``'s ``dt`` (``(B,)`` or ``(B, 1)``) as the timespans of a one-step sequence, ``(B, 1, 1)``."""
    if dt is None:
        return None
    return dt.reshape(-1, 1, 1) if dt.dim() <= 1 else dt.unsqueeze(1)


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


def move_cell_keys(module: nn.Module, state_dict: dict, prefix: str) -> None:
    """Rename, in place, the keys of a state_dict saved before the sequence modules held a cell.

    Until then a ``CfC`` or ``LTC`` held its parameters and circuit buffers itself (``weight``,
    ``gleak``, ``adjacency``...); they are now its cell's (``rnn_cell.weight``...). Called from the
    sequence module's ``_load_from_state_dict``, before its children load, so both layouts load.
    """
    cell = module.rnn_cell
    moved = set(cell._parameters) | set(cell._buffers) | set(cell._modules)
    for key in [k for k in state_dict if k.startswith(prefix)]:
        name = key[len(prefix):]
        first = name.split(".", 1)[0]
        if first in moved and first not in module._modules and prefix + "rnn_cell." + name not in state_dict:
            state_dict[prefix + "rnn_cell." + name] = state_dict.pop(key)


def effective_parameter_count(module: nn.Module) -> int:
    """A sequence module's trainable numbers that can influence the output: its cell's effective count
    (masked-out and absent-synapse entries excluded) and everything outside the cell (memory, projection)."""
    cell = module.rnn_cell
    outside = sum(p.numel() for p in module.parameters() if p.requires_grad) - sum(
        p.numel() for p in cell.parameters() if p.requires_grad)
    return outside + cell.effective_parameter_count()
