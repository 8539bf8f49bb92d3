"""The CfC sequence module: a CfC cell (dense or wired by an NCP) run over a sequence.

:class:`CfC` holds its cell as ``rnn_cell`` (a :class:`~navlnn.liquid.cells.CfCCell` or
:class:`~navlnn.liquid.cells.WiredCfCCell`, as ncps's CfC does) and adds what belongs to a sequence:
the layouts and calling conventions of ``ncps.torch.CfC``, timespans, the mixed-memory LSTM before
each step, ``return_sequences`` and the optional projection. The cell's parameters, its maths and
its fast paths are in :mod:`navlnn.liquid.cfc_cell`.

A sequence without mixed memory is handed to the cell as one block (:meth:`CfCCellBase.unroll`: the
wavefront and the hand-written recurrence), unless the cell has a backbone; otherwise the inputs of
all steps are projected at once and the loop runs here, one cell step (and memory step) at a time.
"""

from __future__ import annotations

from typing import List, Optional, Tuple, Union

import torch
from torch import Tensor, nn

from navlnn.liquid.cfc_cell import CfCCell, WiredCfCCell, check_mode
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
from navlnn.liquid.wirings import Wiring, as_wiring


class CfC(nn.Module):
    """A CfC sequence module: ``forward(x, h0=None, timespans=None) -> (y, h_last)``.

    Takes ``ncps.torch.CfC``'s arguments, in its order, and its calling convention too
    (``hx=``, a ``(h, c)`` tuple state, ``batch_first=False``, ``ncps.wirings`` objects).

    Args:
        input_size: input features per step.
        units: number of neurons (dense CfC) or a :class:`~navlnn.liquid.wirings.Wiring` (wired CfC,
            whose last layer's neurons are the outputs); an ``ncps.wirings`` object is converted
            (same matrices) and built in place, as ncps does.
        proj_size: if set, a linear readout maps the outputs to ``proj_size`` features.
        return_sequences: return the outputs of every step (``(B, T, out)``) or only the last (``(B, out)``).
        batch_first: ``x`` is ``(B, T, C)`` (True, the default as in ncps) or ``(T, B, C)`` (False; then
            ``timespans`` is ``(T, B)`` and the output sequence ``(T, B, out)`` too).
        mixed_memory: run an LSTM memory cell before each CfC step (state becomes ``[h, c]``).
        mode: ``"default"`` (gated), ``"pure"`` (direct solution) or ``"no_gate"``.
        activation: backbone activation (dense only).
        backbone_units, backbone_layers, backbone_dropout: the dense backbone (default 128, 1, 0.0);
            not allowed with a wiring.

    Shapes:
        x: ``(B, T, input_size)`` batch-first, or ``(T, input_size)`` unbatched.
        h0: ``(B, state_size)``; zeros when omitted. A wired CfC's state is ordered by layer
            (inter, command, motor) as in ncps; :attr:`state_neuron_ids` maps it to neuron ids.
            With mixed memory, ncps's ``(h, c)`` tuple is taken as well (and a tuple is returned).
        timespans: ``(B, T)`` or ``(B, T, 1)``, elapsed time per step (1.0 when omitted); any batch size.

    The cell is ``rnn_cell``; ``fused`` (hand-written recurrences and compiled kernels in eager mode,
    or plain autograd operations when False) is the cell's setting.
    """

    __jit_ignored_attributes__ = ["wiring"]
    __jit_unused_properties__ = ["synapse_count", "sensory_synapse_count", "sensory_size", "motor_size", "fused"]
    __constants__ = ["mode", "wired", "use_mixed", "has_backbone", "return_sequences", "batch_first", "input_size",
                     "hidden_size", "state_size"]

    def __init__(
        self,
        input_size: int,
        units: int | Wiring,
        proj_size: Optional[int] = None,
        return_sequences: bool = True,
        batch_first: bool = True,
        mixed_memory: bool = False,
        mode: str = "default",
        activation: str = "lecun_tanh",
        backbone_units: Optional[int] = None,
        backbone_layers: Optional[int] = None,
        backbone_dropout: Optional[float] = None,
    ) -> None:
        super().__init__()
        check_input_size(input_size)
        check_mode(mode)
        units = as_wiring(units, input_size)
        if isinstance(units, Wiring):
            for name, value in (("backbone_units", backbone_units), ("backbone_layers", backbone_layers),
                                ("backbone_dropout", backbone_dropout)):
                if value is not None:
                    raise ValueError(f"{name} cannot be used with a wiring (a wired CfC has no backbone)")
            cell: nn.Module = WiredCfCCell(input_size, units, mode)
        elif isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"units must be a positive integer or a Wiring, got {units!r}")
        else:
            cell = CfCCell(input_size, units, mode, activation, backbone_units, backbone_layers, backbone_dropout)
        self.rnn_cell = cell
        self.input_size = input_size
        self.mode = mode
        self.wired = cell.wired
        self.has_backbone = cell.has_backbone
        self.hidden_size = cell.hidden_size
        self.wiring = cell.wiring
        if self.wired:
            self.state_neuron_ids = cell.state_neuron_ids
        self.return_sequences = bool(return_sequences)
        self.batch_first = bool(batch_first)
        self.use_mixed = bool(mixed_memory)
        self.memory = MixedMemory(input_size, self.hidden_size) if self.use_mixed else nn.Identity()
        self.proj_size = proj_size
        self.fc = nn.Linear(cell.output_size, proj_size) if proj_size is not None else nn.Identity()
        self.output_size = proj_size if proj_size is not None else cell.output_size
        self.state_size = self.hidden_size * (2 if self.use_mixed else 1)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        move_cell_keys(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)

    @property
    def fused(self) -> bool:
        """Hand-written recurrences and compiled kernels in eager mode (the cell's setting)."""
        return self.rnn_cell.fused

    @fused.setter
    def fused(self, value: bool) -> None:
        self.rnn_cell.fused = bool(value)

    # ------------------------------------------------------------------ the sequence
    def _run(self, x: Tensor, h0: Optional[Tensor], timespans: Optional[Tensor], weights: List[Tensor]
             ) -> Tuple[Tensor, Tensor, bool]:
        x, state, ts, batched = prepare_inputs(x, h0, timespans, self.input_size, self.state_size)
        units = self.hidden_size
        h = state[:, :units]
        c = state[:, units:]
        if not self.use_mixed and not self.has_backbone:
            ys, h = self.rnn_cell.unroll(x, h, ts)
        else:
            ys, h, c = self._loop(x, h, c, ts, weights)
        state = torch.cat([h, c], 1) if self.use_mixed else h
        return ys, state, batched

    def _loop(self, x: Tensor, h: Tensor, c: Tensor, ts: Tensor, weights: List[Tensor]
              ) -> Tuple[Tensor, Tensor, Tensor]:
        """Step by step: the memory cell (with mixed memory), then the CfC cell; the inputs of all
        steps are projected at once, outside the loop."""
        if len(weights) == 0:
            weights = self.rnn_cell.step_weights()
        # unbind once: indexing [:, t] inside the loop would make autograd zero-fill a full-size
        # gradient buffer per step (quadratic in T)
        xp = self.rnn_cell.project(x, weights).unbind(1)
        memory_in = (self.memory.project_inputs(x) if self.use_mixed else x).unbind(1)
        ts_steps = ts.unbind(1)
        outputs: List[Tensor] = []
        for t in range(x.size(1)):
            if self.use_mixed:
                h, c = self.memory(memory_in[t], h, c)
            y, h = self.rnn_cell.recur(xp[t], h, ts_steps[t], weights)
            outputs.append(y)
        return torch.stack(outputs, 1), h, c

    def forward(
        self,
        x: Tensor,
        h0: Union[Tensor, Tuple[Tensor, Tensor], None] = None,
        timespans: Optional[Tensor] = None,
        hx: Union[Tensor, Tuple[Tensor, Tensor], None] = None,
    ) -> Tuple[Tensor, Tensor]:
        """Run the sequence; returns ``(y, h_last)``; ``y`` is ``(B, T, out)`` or ``(B, out)``.

        ``hx`` is ncps's name for ``h0``. A ``(h, c)`` tuple state (mixed memory) gives a ``(h, c)``
        tuple back in eager mode; TorchScript returns the single tensor ``[h, c]``.
        """
        state, as_tuple = merge_state(h0, hx, self.use_mixed)
        x, timespans = batch_major(x, timespans, self.batch_first)
        ys, state, batched = self._run(x, state, timespans, [])
        y = self.fc(ys) if self.return_sequences else self.fc(ys[:, -1])
        y, state = caller_layout(y, state, batched, self.return_sequences, self.batch_first)
        if not torch.jit.is_scripting():
            if as_tuple:
                return y, split_state(state, self.hidden_size)
        return y, state

    @torch.jit.export
    def step(self, x: Tensor, h: Optional[Tensor] = None, dt: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """One closed-loop step: ``x (B, input_size)``, state ``h (B, state_size)``, ``dt (B,)`` or ``(B, 1)``.

        Returns ``(y (B, out), h')``; feed ``h'`` back at the next step. Without mixed memory this is
        the cell's step (and the projection).
        """
        if not self.use_mixed:
            y, state = self.rnn_cell.step(x, h, dt)
            return self.fc(y), state
        if torch.jit.is_scripting():
            weights = self.rnn_cell.step_weights()
        else:
            weights = self.rnn_cell.cached_step_weights()
        ys, state, _ = self._run(x.unsqueeze(1), h, step_timespans(dt), weights)
        return self.fc(ys[:, 0]), state

    # ------------------------------------------------------------------ counts and ncps's attributes
    @torch.jit.unused
    def effective_parameter_count(self) -> int:
        """Trainable numbers that can influence the output: masked-out weight entries excluded."""
        return effective_parameter_count(self)

    @property
    def sensory_size(self) -> int:
        """Input features (ncps's name)."""
        return self.input_size

    @property
    def motor_size(self) -> int:
        """Neurons read out: the wiring's motor neurons, or every unit of a dense CfC."""
        return self.rnn_cell.motor_size

    @property
    def synapse_count(self) -> int:
        """Synapses between the circuit's neurons (a dense CfC counts all ``units * units``)."""
        return self.rnn_cell.synapse_count

    @property
    def sensory_synapse_count(self) -> int:
        """Synapses from the inputs (a dense CfC counts all ``input_size * units``)."""
        return self.rnn_cell.sensory_synapse_count

    def extra_repr(self) -> str:
        kind = repr(self.wiring) if self.wired else f"units={self.hidden_size}"
        return f"input_size={self.input_size}, {kind}, mode={self.mode}, mixed_memory={self.use_mixed}"
