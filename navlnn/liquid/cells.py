"""The liquid cells, with the constructors and call signatures of ``ncps.torch``'s cells.

A cell is the building block: it holds a circuit's parameters and advances its state by one step,
``cell(input, hx, ts) -> (output, new_hx)`` with ``input (B, C)`` and ``hx (B, state_size)`` as
ncps calls its cells, or ``cell.step(x, h, dt)``. The sequence modules :class:`~navlnn.liquid.CfC`
and :class:`~navlnn.liquid.LTC` hold a cell as ``rnn_cell`` (as ncps's do) and run it over a sequence.

For speed, a cell also advances through a block of steps whose inputs are all known in advance
(``unroll``): that is where the hand-written recurrences (:mod:`navlnn.liquid.recurrences`) and the
compiled kernels (:mod:`navlnn.liquid.kernels`) run. A sequence without mixed memory is one block;
a cell's own step is a block of one, or at inference the compiled closed-loop step.

* :class:`CfCCell` (dense, with ncps's backbone and ``sparsity_mask``) and :class:`WiredCfCCell` (one
  CfC layer per layer of a wiring): :mod:`navlnn.liquid.cfc_cell`.
* :class:`LTCCell`: :mod:`navlnn.liquid.ltc_cell`.

Elapsed time ``ts`` may be a number, a 0-d tensor, or one value per sample (``(B,)`` or ``(B, 1)``);
each sample keeps its own (ncps's cells broadcast a ``(B,)`` vector against the neuron axis).
"""

from __future__ import annotations

from navlnn.liquid.cfc_cell import CfCCell, CfCCellBase, WiredCfCCell
from navlnn.liquid.ltc_cell import LTCCell

__all__ = ["CfCCellBase", "CfCCell", "WiredCfCCell", "LTCCell"]
