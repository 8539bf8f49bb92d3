"""The LTC sequence module: an LTC cell (wired, or fully connected) run over a sequence.

:class:`LTC` holds its cell as ``rnn_cell`` (an :class:`~navlnn.liquid.cells.LTCCell`, as ncps's LTC
does) and adds what belongs to a sequence: the layouts and calling conventions of ``ncps.torch.LTC``,
timespans, the mixed-memory LSTM before each step and ``return_sequences``. The cell's parameters,
its solver and its fast paths are in :mod:`navlnn.liquid.ltc_cell`.

A sequence without mixed memory is handed to the cell as one block (:meth:`LTCCell.unroll`: the
compiled kernel or the hand-written recurrence); with mixed memory the loop runs here, one memory
step and one solver step (:meth:`LTCCell.solve`) at a time.
"""

from __future__ import annotations

from typing import List, Optional, Tuple, Union

import torch
from torch import Tensor, nn

from navlnn.liquid.ltc_cell import LTCCell, check_ltc_options
from navlnn.liquid.sequence import (
    MixedMemory,
    batch_major,
    caller_layout,
    check_input_size,
    effective_parameter_count,
    merge_state,
    move_cell_keys,
    prepare_inputs,
    split_state,
    step_timespans,
)
from navlnn.liquid.wirings import FullyConnected, Wiring, as_wiring


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

    The cell, with the parameters, is ``rnn_cell``; ``fused`` (compiled kernel and hand-written
    recurrence in eager mode, or plain autograd operations when False) is the cell's setting.
    """

    __jit_ignored_attributes__ = ["wiring"]
    __jit_unused_properties__ = ["synapse_count", "sensory_synapse_count", "sensory_size", "fused"]
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
        check_input_size(input_size)
        check_ltc_options(input_mapping, output_mapping, ode_unfolds)
        units = as_wiring(units, input_size)
        if isinstance(units, Wiring):
            wiring = units
        elif isinstance(units, int) and not isinstance(units, bool) and units >= 1:
            wiring = FullyConnected(units)
        else:
            raise ValueError(f"units must be a positive integer or a Wiring, got {units!r}")
        self.rnn_cell = LTCCell(wiring, input_size, input_mapping, output_mapping, ode_unfolds, epsilon,
                                implicit_param_constraints)
        self.wiring = self.rnn_cell.wiring
        self.input_size = input_size
        self.hidden_size = self.rnn_cell.hidden_size
        self.motor_size = self.rnn_cell.motor_size
        self.output_size = self.motor_size
        self.use_mixed = bool(mixed_memory)
        self.state_size = self.hidden_size * (2 if self.use_mixed else 1)
        self.return_sequences = bool(return_sequences)
        self.batch_first = bool(batch_first)
        self.input_mapping = input_mapping
        self.output_mapping = output_mapping
        self.ode_unfolds = ode_unfolds
        self.epsilon = self.rnn_cell.epsilon
        self.implicit = self.rnn_cell.implicit
        self.state_neuron_ids = self.rnn_cell.state_neuron_ids
        self.memory = MixedMemory(input_size, self.hidden_size) if self.use_mixed else nn.Identity()

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        move_cell_keys(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)

    @property
    def fused(self) -> bool:
        """Compiled kernel and hand-written recurrence in eager mode (the cell's setting)."""
        return self.rnn_cell.fused

    @fused.setter
    def fused(self, value: bool) -> None:
        self.rnn_cell.fused = bool(value)

    def apply_weight_constraints(self) -> None:
        """Clip ``w``, ``sensory_w``, ``cm`` and ``gleak`` at 0 (only with ``implicit_param_constraints=False``)."""
        self.rnn_cell.apply_weight_constraints()

    # ------------------------------------------------------------------ the sequence
    def _run(self, x: Tensor, h0: Optional[Tensor], timespans: Optional[Tensor], tables: List[Tensor]
             ) -> Tuple[Tensor, Tensor, bool]:
        x, state, ts, batched = prepare_inputs(x, h0, timespans, self.input_size, self.state_size)
        if len(tables) == 0:
            tables = self.rnn_cell.synapse_tables()
        u = self.hidden_size
        v = state[:, :u]
        c = state[:, u:]
        if self.use_mixed:
            seq, v, c = self._loop(x, v, c, ts, tables)
        else:
            seq = self.rnn_cell.unroll(x, v, ts, tables)
            v = seq[:, -1]
        ys = self.rnn_cell.map_outputs(seq)
        state = torch.cat([v, c], 1) if self.use_mixed else v
        return ys, state, batched

    def _loop(self, x: Tensor, v: Tensor, c: Tensor, ts: Tensor, tables: List[Tensor]
              ) -> Tuple[Tensor, Tensor, Tensor]:
        """Step by step: the memory cell, then the LTC solver; everything that does not depend on the
        state is computed for all steps at once, outside the loop."""
        offset, cm_t, sum_matrix = self.rnn_cell.drive(x, ts, tables)
        # unbind once: indexing [:, t] in the loop would zero-fill a full-size gradient per step
        memory_in = self.memory.project_inputs(x).unbind(1)
        cm_steps = cm_t.unbind(1)
        offset_steps = offset.unbind(1)
        states: List[Tensor] = []
        for t in range(x.size(1)):
            v, c = self.memory(memory_in[t], v, c)
            v = self.rnn_cell.solve(v, offset_steps[t], cm_steps[t], sum_matrix, tables)
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
        """One closed-loop step: ``x (B, input_size)``, ``h (B, state_size)``, ``dt (B,)`` or ``(B, 1)``.

        Without mixed memory this is the cell's step."""
        if not self.use_mixed:
            return self.rnn_cell.step(x, h, dt)
        if torch.jit.is_scripting():
            tables = self.rnn_cell.synapse_tables()
        else:
            tables = self.rnn_cell.cached_synapse_tables()
        ys, state, _ = self._run(x.unsqueeze(1), h, step_timespans(dt), tables)
        return ys[:, 0], state

    # ------------------------------------------------------------------ counts and ncps's attributes
    @torch.jit.unused
    def effective_parameter_count(self) -> int:
        """Trainable numbers that can influence the output: per-synapse entries of absent synapses excluded."""
        return effective_parameter_count(self)

    @property
    def sensory_size(self) -> int:
        """Input features (ncps's name)."""
        return self.input_size

    @property
    def synapse_count(self) -> int:
        """Synapses between the circuit's neurons."""
        return self.rnn_cell.synapse_count

    @property
    def sensory_synapse_count(self) -> int:
        """Synapses from the inputs into the circuit (ncps 1.0.1 returns the internal count here)."""
        return self.rnn_cell.sensory_synapse_count

    def extra_repr(self) -> str:
        return (f"input_size={self.input_size}, {self.wiring!r}, ode_unfolds={self.ode_unfolds}, "
                f"mixed_memory={self.use_mixed}")
