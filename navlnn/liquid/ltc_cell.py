"""The LTC cell (Hasani et al., 2021): the parameters and dynamics of a liquid time-constant
circuit, as ``ncps.torch.LTCCell``.

Same mathematics as ncps: a semi-implicit Euler solver unfolded ``ode_unfolds`` times per step,
conductance-based synapses with sigmoid activation, leak and membrane capacitance, affine input and
output maps. Computed faster:

* only existing synapses are evaluated (gather, sigmoid, one matrix product that sums
  them into their destination neurons), not the full ``units x units`` grid;
* the sensory synapses of all time steps of a block, the input map and every term that does not
  depend on the state are computed once per call, outside the loop (:meth:`LTCCell.drive`);
* parameter constraints (softplus) and masks are applied once per call;
* through a block of steps (:meth:`LTCCell.unroll`, also a single step) the solver runs as compiled
  C++ loops (:mod:`navlnn.liquid.kernels`) or the hand-written recurrence of
  :mod:`navlnn.liquid.recurrences`.

Difference from the published equations that ncps has, and that is kept for parity:
the elapsed time enters only through ``cm / (dt / ode_unfolds)``; the output map reads
the first ``motor`` neurons of the state.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from navlnn.liquid import kernels
from navlnn.liquid.recurrences import LTCRecurrence
from navlnn.liquid.sequence import (
    built_wiring,
    cached_until_params_change,
    cell_dt,
    check_input_size,
    check_same_wiring,
    prepare_inputs,
    step_timespans,
)

__all__ = ["LTCCell"]

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


def check_ltc_options(input_mapping: str, output_mapping: str, ode_unfolds: Any) -> None:
    """``ValueError`` naming the argument if a mapping is not one of :data:`MAPPINGS` or
    ``ode_unfolds`` is not a positive integer."""
    for name, value in (("input_mapping", input_mapping), ("output_mapping", output_mapping)):
        if value not in MAPPINGS:
            raise ValueError(f"{name}: unknown '{value}'; valid mappings: {list(MAPPINGS)}")
    if isinstance(ode_unfolds, bool) or not isinstance(ode_unfolds, int) or ode_unfolds < 1:
        raise ValueError(f"ode_unfolds must be a positive integer, got {ode_unfolds!r}")


def _uniform(shape: Tuple[int, ...], name: str) -> Tensor:
    lo, hi = INIT_RANGES[name]
    return torch.rand(*shape) * (hi - lo) + lo


class LTCCell(nn.Module):
    """An LTC cell, ``cell(inputs, states, elapsed_time=1.0) -> (motor outputs, new state)``,
    as ``ncps.torch.LTCCell``.

    Args:
        wiring: a navlnn or ``ncps.wirings`` wiring (an ncps one is built in place and converted).
        in_features: input features; ``None`` takes them from an already built wiring.
        input_mapping, output_mapping: ``"affine"``, ``"linear"`` or ``"none"``.
        ode_unfolds, epsilon: solver iterations per step and the denominator's epsilon.
        implicit_param_constraints: keep ``w``, ``sensory_w``, ``cm``, ``gleak`` positive through a
            softplus (True) or by clipping after each optimiser step with
            :meth:`apply_weight_constraints` (False, ncps's cell default).

    Shapes:
        inputs: ``(B, in_features)``; states: ``(B, units)`` in neuron-id order.
    """

    __jit_ignored_attributes__ = ["_step_cache", "wiring"]
    __jit_unused_properties__ = ["synapse_count", "sensory_synapse_count", "sensory_size"]
    __constants__ = ["input_size", "hidden_size", "state_size", "motor_size", "ode_unfolds", "epsilon", "implicit",
                     "input_mapping", "output_mapping"]

    def __init__(
        self,
        wiring: Any,
        in_features: Optional[int] = None,
        input_mapping: str = "affine",
        output_mapping: str = "affine",
        ode_unfolds: int = 6,
        epsilon: float = 1e-8,
        implicit_param_constraints: bool = False,
    ) -> None:
        super().__init__()
        wiring = built_wiring(wiring, in_features, "in_features")
        input_size = check_input_size(wiring.input_dim if in_features is None else in_features)
        check_ltc_options(input_mapping, output_mapping, ode_unfolds)
        wiring.build(input_size)
        self.wiring = wiring
        self.input_size = input_size
        self.hidden_size = wiring.units
        self.state_size = wiring.units
        self.motor_size = wiring.output_dim
        self.output_size = self.motor_size
        self.input_mapping = input_mapping
        self.output_mapping = output_mapping
        self.ode_unfolds = ode_unfolds
        self.epsilon = float(epsilon)
        self.implicit = bool(implicit_param_constraints)
        self._build_parameters()
        # Kept in the state_dict so that loading weights of another circuit fails clearly.
        self.register_buffer("adjacency", torch.from_numpy(wiring.adjacency_matrix.astype(np.int8)))
        self.register_buffer("sensory_adjacency", torch.from_numpy(wiring.sensory_adjacency_matrix.astype(np.int8)))
        self._register_synapses()
        self.state_neuron_ids = list(range(self.hidden_size))
        # hand-written recurrence and compiled kernel in eager mode; False forces plain autograd ops
        self.fused = True
        self._step_cache = None  # (parameter versions, derived tables) for eager closed-loop steps

    def _build_parameters(self) -> None:
        u, n_in, wiring = self.hidden_size, self.input_size, self.wiring
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
        self.input_w = nn.Parameter(torch.ones(n_in)) if self.input_mapping != "none" else None
        self.input_b = nn.Parameter(torch.zeros(n_in)) if self.input_mapping == "affine" else None
        self.output_w = nn.Parameter(torch.ones(self.motor_size)) if self.output_mapping != "none" else None
        self.output_b = nn.Parameter(torch.zeros(self.motor_size)) if self.output_mapping == "affine" else None

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

    # ------------------------------------------------------------------ state-independent terms
    def synapse_tables(self) -> List[Tensor]:
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

    @torch.jit.unused
    def cached_synapse_tables(self) -> List[Tensor]:
        """:meth:`synapse_tables`, kept between closed-loop steps until a parameter changes (autograd off)."""
        return cached_until_params_change(self, "_step_cache", self.synapse_tables)

    def _sum_matrix(self, we: Tensor, w: Tensor, onehot: Tensor) -> Tensor:
        """``(N, 2U)``: sums synapse activations into their destinations' numerator and denominator."""
        return torch.cat([we.unsqueeze(1) * onehot, w.unsqueeze(1) * onehot], 1)

    def _map_inputs(self, x: Tensor) -> Tensor:
        if self.input_w is not None:
            x = x * self.input_w
        if self.input_b is not None:
            x = x + self.input_b
        return x

    def map_outputs(self, v: Tensor) -> Tensor:
        """The outputs of states ``v (..., units)``: the motor neurons through the output map."""
        y = v[..., : self.motor_size]
        if self.output_w is not None:
            y = y * self.output_w
        if self.output_b is not None:
            y = y + self.output_b
        return y

    def drive(self, x: Tensor, ts: Tensor, tables: List[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        """What a block of steps needs besides the state, for inputs ``x (B, T, C)`` and elapsed times
        ``ts (B, T, 1)``: ``offset (B, T, 2U)``, the numerator and denominator terms that do not depend
        on the state (leak, capacitance, sensory synapses, epsilon); ``cm_t (B, T, 1)``, the capacitance
        over the solver's time step; and the ``(N, 2U)`` matrix that sums synapses into neurons."""
        we, w, _, _, s_we, s_w, s_sigma, s_mu, gleak, cm = tables
        u = self.hidden_size
        xm = self._map_inputs(x)
        cm_t = cm / (ts / self.ode_unfolds)
        xs = xm.index_select(-1, self.sensory_syn_src)
        s_act = torch.sigmoid(s_sigma * (xs - s_mu))
        sensory = torch.matmul(s_act, self._sum_matrix(s_we, s_w, self.sensory_syn_onehot))  # (B, T, 2u)
        offset = torch.cat([gleak * self.vleak + sensory[..., :u], cm_t + gleak + sensory[..., u:] + self.epsilon], -1)
        return offset, cm_t, self._sum_matrix(we, w, self.syn_onehot)

    def solve(self, v: Tensor, offset: Tensor, cm_t: Tensor, sum_matrix: Tensor, tables: List[Tensor]) -> Tensor:
        """One step of the solver with plain operations: ``v (B, U)`` after ``ode_unfolds`` semi-implicit
        Euler iterations, given one step's ``offset (B, 2U)`` and ``cm_t (B, 1)`` from :meth:`drive`."""
        sigma, neg_sigma_mu = tables[2], tables[3]
        u = self.hidden_size
        for _ in range(self.ode_unfolds):
            act = torch.sigmoid(torch.addcmul(neg_sigma_mu, v.index_select(1, self.syn_src), sigma))
            nd = torch.addmm(offset, act, sum_matrix)
            v = torch.addcmul(nd[:, :u], cm_t, v) / nd[:, u:]
        return v

    # ------------------------------------------------------------------ one step
    def forward(self, inputs: Tensor, states: Optional[Tensor] = None,
                elapsed_time: Union[Tensor, float] = 1.0) -> Tuple[Tensor, Tensor]:
        """One step (ncps's cell call); returns ``(motor outputs (B, motor), new state (B, units))``."""
        return self.step(inputs, states, cell_dt(elapsed_time, inputs))

    @torch.jit.export
    def step(self, x: Tensor, h: Optional[Tensor] = None, dt: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """One closed-loop step: ``x (B, input_size)``, ``h (B, state_size)``, ``dt (B,)`` or ``(B, 1)``."""
        xs, v, ts, _ = prepare_inputs(x.unsqueeze(1), h, step_timespans(dt), self.input_size, self.state_size)
        if torch.jit.is_scripting():
            tables = self.synapse_tables()
        else:
            tables = self.cached_synapse_tables()
        seq = self.unroll(xs, v, ts, tables)
        return self.map_outputs(seq)[:, 0], seq[:, -1]

    # ------------------------------------------------------------------ a block of steps
    def unroll(self, x: Tensor, v: Tensor, ts: Tensor, tables: List[Tensor]) -> Tensor:
        """The states ``(B, T, U)`` after each step through inputs ``x (B, T, C)`` known in advance,
        from ``v (B, U)``, with elapsed times ``ts (B, T, 1)`` and :meth:`synapse_tables`."""
        if not torch.jit.is_scripting() and self.fused and self._kernel_ready(x):
            gleak, cm = tables[8], tables[9]
            xm = self._map_inputs(x)
            cm_t = cm / (ts / self.ode_unfolds)
            base = torch.cat([(gleak * self.vleak).expand_as(cm_t), cm_t + gleak + self.epsilon], -1)
            return self._kernel(base, cm_t, v, xm, tables)
        offset, cm_t, sum_matrix = self.drive(x, ts, tables)
        if not torch.jit.is_scripting() and self.fused:
            return self._fused(offset, cm_t, v, sum_matrix, tables[2], tables[3])
        # unbind once: indexing [:, t] in the loop would zero-fill a full-size gradient per step
        cm_steps = cm_t.unbind(1)
        offset_steps = offset.unbind(1)
        states: List[Tensor] = []
        for t in range(x.size(1)):
            v = self.solve(v, offset_steps[t], cm_steps[t], sum_matrix, tables)
            states.append(v)
        return torch.stack(states, 1)

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

    # ------------------------------------------------------------------ counts and ncps's attributes
    @torch.jit.unused
    def effective_parameter_count(self) -> int:
        """Trainable numbers that can influence the output: per-synapse entries of absent synapses excluded."""
        total = sum(p.numel() for p in self.parameters() if p.requires_grad)
        absent = self.hidden_size ** 2 - len(self.syn_src)
        absent_sensory = self.input_size * self.hidden_size - len(self.sensory_syn_src)
        return total - 4 * absent - 4 * absent_sensory  # w, erev, sigma, mu and their sensory twins

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
        """Synapses from the inputs into the circuit (ncps 1.0.1's LTC returns the internal count here)."""
        return self.wiring.sensory_synapse_count

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, {self.wiring!r}, ode_unfolds={self.ode_unfolds}"
