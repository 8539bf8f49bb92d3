"""Liquid time-constant (LTC) networks, wired or dense.

Same mathematics as ``ncps.torch.LTC`` (Hasani et al., 2021): a semi-implicit Euler
solver unfolded ``ode_unfolds`` times per step, conductance-based synapses with
sigmoid activation, leak and membrane capacitance, affine input and output maps.
Computed faster:

* only existing synapses are evaluated (gather, sigmoid, one matrix product that sums
  them into their destination neurons), not the full ``units x units`` grid;
* the sensory synapses of all time steps, the input map and every term that does not
  depend on the state are computed once per call, outside the loop;
* parameter constraints (softplus) and masks are applied once per call.

Difference from the published equations that ncps has, and that is kept for parity:
the elapsed time enters only through ``cm / (dt / ode_unfolds)``; the output map reads
the first ``motor`` neurons of the state.
"""

from __future__ import annotations

from typing import List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from navlnn.liquid import kernels
from navlnn.liquid.recurrences import LTCRecurrence
from navlnn.liquid.sequence import (
    MixedMemory,
    batch_major,
    caller_layout,
    cached_until_params_change,
    check_same_wiring,
    merge_state,
    prepare_inputs,
    split_state,
)
from navlnn.liquid.wirings import FullyConnected, Wiring, as_wiring

MAPPINGS = ("affine", "linear", "none")

INIT_RANGES = {
    "gleak": (0.001, 1.0),
    "vleak": (-0.2, 0.2),
    "cm": (0.4, 0.6),
    "w": (0.001, 1.0),
    "sigma": (3.0, 8.0),
    "mu": (0.3, 0.8),
    "sensory_w": (0.001, 1.0),
    "sensory_sigma": (3.0, 8.0),
    "sensory_mu": (0.3, 0.8),
}


def _uniform(shape: Tuple[int, ...], name: str) -> Tensor:
    lo, hi = INIT_RANGES[name]
    return torch.rand(*shape) * (hi - lo) + lo


class LTC(nn.Module):
    """An LTC sequence module: ``forward(x, h0=None, timespans=None) -> (y, h_last)``.

    Takes ``ncps.torch.LTC``'s arguments, in its order, and its calling convention too
    (``hx=``, a ``(h, c)`` tuple state, ``batch_first=False``, ``ncps.wirings`` objects).

    Args:
        input_size: input features per step.
        units: a :class:`~navlnn.liquid.wirings.Wiring`, or an int for a fully connected circuit
            (``FullyConnected(units)``, as ncps); an ``ncps.wirings`` object is converted (same
            matrices) and built in place, as ncps does.
        return_sequences: return every step's output ``(B, T, motor)`` or only the last.
        batch_first: ``x`` is ``(B, T, C)`` (True, the default as in ncps) or ``(T, B, C)`` (False; then
            ``timespans`` is ``(T, B)`` and the output sequence ``(T, B, motor)`` too).
        mixed_memory: run an LSTM memory cell before each step (state becomes ``[h, c]``).
        input_mapping, output_mapping: ``"affine"``, ``"linear"`` or ``"none"``.
        ode_unfolds: solver iterations per step.
        epsilon: added to the denominator of the solver update.
        implicit_param_constraints: keep ``w``, ``sensory_w``, ``cm``, ``gleak`` positive through a
            softplus (True, ncps's ``LTC`` default) or by clipping after each optimiser step with
            :meth:`apply_weight_constraints` (False).

    Shapes:
        x: ``(B, T, input_size)`` or ``(T, input_size)``; h0: ``(B, state_size)``, in neuron-id order
        (with mixed memory, ncps's ``(h, c)`` tuple is taken as well, and a tuple is returned);
        timespans: ``(B, T)`` or ``(B, T, 1)`` (1.0 when omitted), any batch size.
    """

    __jit_ignored_attributes__ = ["_step_cache", "_infer_cache", "wiring"]
    __jit_unused_properties__ = ["synapse_count", "sensory_synapse_count", "sensory_size"]
    __constants__ = ["use_mixed", "return_sequences", "batch_first", "input_size", "hidden_size", "state_size",
                     "motor_size", "ode_unfolds", "epsilon", "implicit", "input_mapping", "output_mapping"]

    def __init__(
        self,
        input_size: int,
        units: int | Wiring,
        return_sequences: bool = True,
        batch_first: bool = True,
        mixed_memory: bool = False,
        input_mapping: str = "affine",
        output_mapping: str = "affine",
        ode_unfolds: int = 6,
        epsilon: float = 1e-8,
        implicit_param_constraints: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1:
            raise ValueError(f"input_size must be a positive integer, got {input_size!r}")
        for name, value in (("input_mapping", input_mapping), ("output_mapping", output_mapping)):
            if value not in MAPPINGS:
                raise ValueError(f"{name}: unknown '{value}'; valid mappings: {list(MAPPINGS)}")
        if isinstance(ode_unfolds, bool) or not isinstance(ode_unfolds, int) or ode_unfolds < 1:
            raise ValueError(f"ode_unfolds must be a positive integer, got {ode_unfolds!r}")
        units = as_wiring(units, input_size)
        if isinstance(units, Wiring):
            wiring = units
        elif isinstance(units, int) and not isinstance(units, bool) and units >= 1:
            wiring = FullyConnected(units)
        else:
            raise ValueError(f"units must be a positive integer or a Wiring, got {units!r}")
        wiring.build(input_size)
        self.wiring = wiring
        self.input_size = input_size
        self.hidden_size = wiring.units
        self.motor_size = wiring.output_dim
        self.use_mixed = bool(mixed_memory)
        self.state_size = self.hidden_size * (2 if self.use_mixed else 1)
        self.return_sequences = bool(return_sequences)
        self.batch_first = bool(batch_first)
        self.input_mapping = input_mapping
        self.output_mapping = output_mapping
        self.ode_unfolds = ode_unfolds
        self.epsilon = float(epsilon)
        self.implicit = bool(implicit_param_constraints)
        self.output_size = self.motor_size

        u, n_in = self.hidden_size, input_size
        self.gleak = nn.Parameter(_uniform((u,), "gleak"))
        self.vleak = nn.Parameter(_uniform((u,), "vleak"))
        self.cm = nn.Parameter(_uniform((u,), "cm"))
        self.sigma = nn.Parameter(_uniform((u, u), "sigma"))
        self.mu = nn.Parameter(_uniform((u, u), "mu"))
        self.w = nn.Parameter(_uniform((u, u), "w"))
        self.erev = nn.Parameter(torch.tensor(wiring.adjacency_matrix, dtype=torch.get_default_dtype()))
        self.sensory_sigma = nn.Parameter(_uniform((n_in, u), "sensory_sigma"))
        self.sensory_mu = nn.Parameter(_uniform((n_in, u), "sensory_mu"))
        self.sensory_w = nn.Parameter(_uniform((n_in, u), "sensory_w"))
        self.sensory_erev = nn.Parameter(torch.tensor(wiring.sensory_adjacency_matrix, dtype=torch.get_default_dtype()))
        self.input_w = nn.Parameter(torch.ones(n_in)) if input_mapping != "none" else None
        self.input_b = nn.Parameter(torch.zeros(n_in)) if input_mapping == "affine" else None
        self.output_w = nn.Parameter(torch.ones(self.motor_size)) if output_mapping != "none" else None
        self.output_b = nn.Parameter(torch.zeros(self.motor_size)) if output_mapping == "affine" else None

        # Kept in the state_dict so that loading weights of another circuit fails clearly.
        self.register_buffer("adjacency", torch.from_numpy(wiring.adjacency_matrix.astype(np.int8)))
        self.register_buffer("sensory_adjacency", torch.from_numpy(wiring.sensory_adjacency_matrix.astype(np.int8)))
        self._register_synapses()
        self.memory = MixedMemory(input_size, u) if self.use_mixed else nn.Identity()
        self.state_neuron_ids = list(range(u))
        # hand-written recurrence in eager mode (see navlnn.liquid.recurrences); False forces plain autograd ops
        self.fused = True
        self._step_cache = None  # (parameter versions, derived weights) for eager closed-loop steps

    def _register_synapses(self) -> None:
        u = self.hidden_size
        for prefix, matrix in (("", self.wiring.adjacency_matrix), ("sensory_", self.wiring.sensory_adjacency_matrix)):
            src, dst = np.nonzero(matrix)
            onehot = torch.zeros(len(dst), u)
            onehot[torch.arange(len(dst)), torch.from_numpy(dst)] = 1.0
            self.register_buffer(prefix + "syn_src", torch.from_numpy(src.astype(np.int64)), persistent=False)
            self.register_buffer(prefix + "syn_dst", torch.from_numpy(dst.astype(np.int64)), persistent=False)
            self.register_buffer(prefix + "syn_onehot", onehot, persistent=False)
            flat = torch.from_numpy((src * u + dst).astype(np.int64))  # row-major index into (rows, u)
            self.register_buffer(prefix + "syn_flat", flat, persistent=False)
        gather = torch.zeros(u, len(self.syn_src))
        gather[self.syn_src, torch.arange(len(self.syn_src))] = 1.0
        self.register_buffer("syn_gather", gather, persistent=False)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        check_same_wiring(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)

    def _positive(self, x: Tensor) -> Tensor:
        return F.softplus(x) if self.implicit else x

    @torch.no_grad()
    def apply_weight_constraints(self) -> None:
        """Clip ``w``, ``sensory_w``, ``cm`` and ``gleak`` at 0 (only with ``implicit_param_constraints=False``)."""
        if not self.implicit:
            for p in (self.w, self.sensory_w, self.cm, self.gleak):
                p.clamp_(min=0.0)

    def _synapse_tables(self) -> List[Tensor]:
        """State-independent tensors of one call, per existing synapse (internal, then sensory):
        ``w * erev``, ``w``, ``sigma``, ``-sigma * mu``; ``w * erev``, ``w``, ``sigma``, ``mu``;
        then the positive ``gleak`` and ``cm``."""
        idx, s_idx = self.syn_flat, self.sensory_syn_flat
        w = self._positive(self.w).reshape(-1).index_select(0, idx)
        we = w * self.erev.reshape(-1).index_select(0, idx)
        sigma = self.sigma.reshape(-1).index_select(0, idx)
        neg_sigma_mu = -sigma * self.mu.reshape(-1).index_select(0, idx)
        s_w = self._positive(self.sensory_w).reshape(-1).index_select(0, s_idx)
        s_we = s_w * self.sensory_erev.reshape(-1).index_select(0, s_idx)
        s_sigma = self.sensory_sigma.reshape(-1).index_select(0, s_idx)
        s_mu = self.sensory_mu.reshape(-1).index_select(0, s_idx)
        return [we, w, sigma, neg_sigma_mu, s_we, s_w, s_sigma, s_mu, self._positive(self.gleak),
                self._positive(self.cm)]

    def _sum_matrix(self, we: Tensor, w: Tensor, onehot: Tensor) -> Tensor:
        """``(N, 2U)``: sums synapse activations into their destinations' numerator and denominator."""
        return torch.cat([we.unsqueeze(1) * onehot, w.unsqueeze(1) * onehot], 1)

    @torch.jit.unused
    def _cached_tables(self) -> List[Tensor]:
        return cached_until_params_change(self, "_step_cache", self._synapse_tables)

    def _map_inputs(self, x: Tensor) -> Tensor:
        if self.input_w is not None:
            x = x * self.input_w
        if self.input_b is not None:
            x = x + self.input_b
        return x

    def _map_outputs(self, v: Tensor) -> Tensor:
        y = v[..., : self.motor_size]
        if self.output_w is not None:
            y = y * self.output_w
        if self.output_b is not None:
            y = y + self.output_b
        return y

    def _run(self, x: Tensor, h0: Optional[Tensor], timespans: Optional[Tensor], tables: List[Tensor]) -> Tuple[Tensor, Tensor, bool]:
        x, state, ts, batched = prepare_inputs(x, h0, timespans, self.input_size, self.state_size)
        if len(tables) == 0:
            tables = self._synapse_tables()
        we, w, sigma, neg_sigma_mu, s_we, s_w, s_sigma, s_mu, gleak, cm = tables
        u = self.hidden_size
        v = state[:, :u]
        c = state[:, u:]
        xm = self._map_inputs(x)
        cm_t = cm / (ts / self.ode_unfolds)
        if not torch.jit.is_scripting() and self.fused and not self.use_mixed and self._kernel_ready(x):
            base = torch.cat([(gleak * self.vleak).expand_as(cm_t), cm_t + gleak + self.epsilon], -1)
            seq = self._kernel(base, cm_t, v, xm, tables)
            v = seq[:, -1]
        else:
            # Sensory synapses and all state-independent terms, for every step at once.
            xs = xm.index_select(-1, self.sensory_syn_src)
            s_act = torch.sigmoid(s_sigma * (xs - s_mu))
            sensory = torch.matmul(s_act, self._sum_matrix(s_we, s_w, self.sensory_syn_onehot))  # (B, T, 2u)
            offset = torch.cat([gleak * self.vleak + sensory[..., :u], cm_t + gleak + sensory[..., u:] + self.epsilon],
                               -1)
            sum_matrix = self._sum_matrix(we, w, self.syn_onehot)
            if not torch.jit.is_scripting() and self.fused and not self.use_mixed:
                seq = self._fused(offset, cm_t, v, sum_matrix, sigma, neg_sigma_mu)
                v = seq[:, -1]
            else:
                seq, v, c = self._autograd(x, offset, cm_t, v, c, sum_matrix, sigma, neg_sigma_mu)
        ys = self._map_outputs(seq)
        state = torch.cat([v, c], 1) if self.use_mixed else v
        return ys, state, batched

    @torch.jit.unused
    def _kernel_ready(self, x):  # a type comment: TorchScript cannot resolve this stub's string annotations
        # type: (Tensor) -> bool
        return x.device.type == "cpu" and kernels.load_kernels() is not None

    @torch.jit.unused
    def _kernel(self, base: Tensor, cm_t: Tensor, v: Tensor, xm: Tensor, tables: List[Tensor]) -> Tensor:
        we, w, sigma, neg_sigma_mu, s_we, s_w, s_sigma, s_mu = tables[:8]
        base, xm = base.transpose(0, 1).contiguous(), xm.transpose(0, 1).contiguous()
        cm_t = cm_t.expand(-1, -1, self.hidden_size).transpose(0, 1).contiguous()
        seq = kernels.LTCKernel.apply(
            base, cm_t, v, xm, s_we, s_w, s_sigma, s_mu, we, w, sigma,
            neg_sigma_mu, self.sensory_syn_src, self.sensory_syn_dst, self.syn_src, self.syn_dst, self.ode_unfolds,
        )
        return seq.transpose(0, 1)

    @torch.jit.unused
    def _fused(self, offset: Tensor, cm_t: Tensor, v: Tensor, sum_matrix: Tensor, sigma: Tensor,
               neg_sigma_mu: Tensor) -> Tensor:
        seq = LTCRecurrence.apply(
            offset.transpose(0, 1).contiguous(), cm_t.expand(-1, -1, self.hidden_size).transpose(0, 1).contiguous(),
            v, sum_matrix, self.syn_gather * sigma, neg_sigma_mu, self.ode_unfolds,
        )
        return seq.transpose(0, 1)

    def _autograd(self, x: Tensor, offset: Tensor, cm_t: Tensor, v: Tensor, c: Tensor, sum_matrix: Tensor,
                  sigma: Tensor, neg_sigma_mu: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        u = self.hidden_size
        # unbind once: indexing [:, t] in the loop would zero-fill a full-size gradient per step
        memory_in = (self.memory.project_inputs(x) if self.use_mixed else x).unbind(1)
        cm_steps = cm_t.unbind(1)
        offset_steps = offset.unbind(1)
        states: List[Tensor] = []
        for t in range(x.size(1)):
            if self.use_mixed:
                v, c = self.memory(memory_in[t], v, c)
            cm_tt = cm_steps[t]
            off_t = offset_steps[t]
            for _ in range(self.ode_unfolds):
                act = torch.sigmoid(torch.addcmul(neg_sigma_mu, v.index_select(1, self.syn_src), sigma))
                nd = torch.addmm(off_t, act, sum_matrix)
                v = torch.addcmul(nd[:, :u], cm_tt, v) / nd[:, u:]
            states.append(v)
        return torch.stack(states, 1), v, c

    def forward(
        self,
        x: Tensor,
        h0: Union[Tensor, Tuple[Tensor, Tensor], None] = None,
        timespans: Optional[Tensor] = None,
        hx: Union[Tensor, Tuple[Tensor, Tensor], None] = None,
    ) -> Tuple[Tensor, Tensor]:
        """Run the sequence; returns ``(y, h_last)``; ``y`` is ``(B, T, motor)`` or ``(B, motor)``.

        ``hx`` is ncps's name for ``h0``. A ``(h, c)`` tuple state (mixed memory) gives a ``(h, c)``
        tuple back in eager mode; TorchScript returns the single tensor ``[h, c]``.
        """
        state, as_tuple = merge_state(h0, hx, self.use_mixed)
        x, timespans = batch_major(x, timespans, self.batch_first)
        ys, state, batched = self._run(x, state, timespans, [])
        y = ys if self.return_sequences else ys[:, -1]
        y, state = caller_layout(y, state, batched, self.return_sequences, self.batch_first)
        if not torch.jit.is_scripting():
            if as_tuple:
                return y, split_state(state, self.hidden_size)
        return y, state

    @torch.jit.export
    def step(self, x: Tensor, h: Optional[Tensor] = None, dt: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """One closed-loop step: ``x (B, input_size)``, ``h (B, state_size)``, ``dt (B,)`` or ``(B, 1)``."""
        ts: Optional[Tensor] = None
        if dt is not None:
            ts = dt.reshape(-1, 1, 1) if dt.dim() <= 1 else dt.unsqueeze(1)
        tables: List[Tensor] = []
        if not torch.jit.is_scripting():
            tables = self._cached_tables()
        ys, state, _ = self._run(x.unsqueeze(1), h, ts, tables)
        return ys[:, 0], state

    @torch.jit.unused
    def effective_parameter_count(self) -> int:
        """Trainable numbers that can influence the output: per-synapse entries of absent synapses excluded."""
        total = sum(p.numel() for p in self.parameters() if p.requires_grad)
        absent = self.hidden_size ** 2 - len(self.syn_src)
        absent_sensory = self.input_size * self.hidden_size - len(self.sensory_syn_src)
        return total - 4 * absent - 4 * absent_sensory  # w, erev, sigma, mu and their sensory twins

    # ncps's module attributes
    @property
    def sensory_size(self) -> int:
        """Input features (ncps's name)."""
        return self.input_size

    @property
    def synapse_count(self) -> int:
        """Synapses between the circuit's neurons."""
        return self.wiring.synapse_count

    @property
    def sensory_synapse_count(self) -> int:
        """Synapses from the inputs into the circuit (ncps 1.0.1 returns the internal count here)."""
        return self.wiring.sensory_synapse_count

    def extra_repr(self) -> str:
        return (f"input_size={self.input_size}, {self.wiring!r}, ode_unfolds={self.ode_unfolds}, "
                f"mixed_memory={self.use_mixed}")
