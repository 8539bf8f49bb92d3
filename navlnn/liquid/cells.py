"""Single-step cells with the constructors and call signatures of ``ncps.torch``'s cells.

``CfCCell``, ``WiredCfCCell`` and ``LTCCell`` are one step of navlnn's :class:`~navlnn.liquid.CfC` and
:class:`~navlnn.liquid.LTC` (the same fused arithmetic as :meth:`CfC.step`), called as ncps calls its
cells: ``cell(input, hx, ts) -> (output, new_hx)`` with ``input (B, C)`` and ``hx (B, state_size)``.
They are for code written against ncps's cells (custom loops); navlnn's own code uses the sequence
modules and their ``step``.

Elapsed time ``ts`` may be a number, a 0-d tensor, or one value per sample (``(B,)`` or ``(B, 1)``);
each sample keeps its own (ncps's cells broadcast a ``(B,)`` vector against the neuron axis).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from navlnn.liquid.cfc import CfC
from navlnn.liquid.ltc import LTC
from navlnn.liquid.wirings import Wiring, as_wiring

__all__ = ["CfCCell", "WiredCfCCell", "LTCCell"]


def _step_dt(ts: Union[Tensor, float, None], x: Tensor) -> Optional[Tensor]:
    """A cell's elapsed time as ``(B, 1)`` for ``step``."""
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


def _built_wiring(wiring: Any, input_size: Optional[int], argument: str) -> Wiring:
    """``wiring`` as a navlnn wiring built for ``input_size`` (or already built, when that is None)."""
    wiring = as_wiring(wiring, input_size)
    if not isinstance(wiring, Wiring):
        raise ValueError(f"wiring must be a navlnn or ncps Wiring, got {type(wiring).__name__}")
    if input_size is None and not wiring.is_built():
        raise ValueError(
            f"wiring is not built and {argument} is None: pass {argument} or call wiring.build(input_dim) first"
        )
    return wiring


class CfCCell(CfC):
    """One step of a dense CfC: ``cell(input, hx, ts=1.0) -> (h, h)``, as ``ncps.torch.CfCCell``.

    Args:
        input_size: input features.
        hidden_size: neurons (the state width).
        mode: ``"default"``, ``"pure"`` or ``"no_gate"``.
        backbone_activation: ``"lecun_tanh"``, ``"tanh"``, ``"relu"``, ``"silu"`` or ``"gelu"``.
        backbone_units, backbone_layers, backbone_dropout: the backbone (as ncps: 128, 1, 0.0).
        sparsity_mask: optional ``(in, hidden_size)`` array (``in`` = ``input_size + hidden_size``, or
            ``backbone_units`` with a backbone); the nonzero entries keep the ``ff1``/``ff2`` weights.

    Shapes:
        input: ``(B, input_size)``; hx: ``(B, hidden_size)`` (zeros when None); ts: see the module.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        mode: str = "default",
        backbone_activation: str = "lecun_tanh",
        backbone_units: int = 128,
        backbone_layers: int = 1,
        backbone_dropout: float = 0.0,
        sparsity_mask: Optional[np.ndarray] = None,
    ) -> None:
        super().__init__(input_size, hidden_size, mode=mode, activation=backbone_activation,
                         backbone_units=backbone_units, backbone_layers=backbone_layers,
                         backbone_dropout=backbone_dropout)
        if sparsity_mask is not None:
            head_in = self.weight.shape[1]
            mask = torch.from_numpy(np.abs(np.asarray(sparsity_mask, dtype=np.float64)).T.copy()).float()
            if tuple(mask.shape) != (hidden_size, head_in):
                raise ValueError(
                    f"sparsity_mask: expected shape ({head_in}, {hidden_size}) (inputs of ff1 x neurons), "
                    f"got {tuple(np.shape(sparsity_mask))}"
                )
            heads = [mask] if mode == "pure" else [mask, mask, torch.ones_like(mask), torch.ones_like(mask)]
            self.register_buffer("mask", torch.cat(heads, 0), persistent=False)
            self.masked = True

    def forward(self, input: Tensor, hx: Optional[Tensor] = None, ts: Union[Tensor, float] = 1.0
                ) -> Tuple[Tensor, Tensor]:
        """One step; returns ``(h', h')`` (ncps returns the new state twice)."""
        return self.step(input, hx, _step_dt(ts, input))


class WiredCfCCell(CfC):
    """One step of a wired CfC: ``cell(input, hx, timespans=1.0) -> (motor outputs, new state)``,
    as ``ncps.torch.WiredCfCCell``.

    Args:
        input_size: input features; ``None`` takes them from an already built wiring.
        wiring: a navlnn or ``ncps.wirings`` wiring (an ncps one is built in place and converted).
        mode: ``"default"``, ``"pure"`` or ``"no_gate"``.

    Shapes:
        input: ``(B, input_size)``; hx: ``(B, units)`` ordered by layer (inter, command, motor).
    """

    def __init__(self, input_size: Optional[int], wiring: Any, mode: str = "default") -> None:
        wiring = _built_wiring(wiring, input_size, "input_size")
        super().__init__(wiring.input_dim if input_size is None else input_size, wiring, mode=mode)

    def forward(self, input: Tensor, hx: Optional[Tensor] = None, timespans: Union[Tensor, float] = 1.0
                ) -> Tuple[Tensor, Tensor]:
        """One step; returns ``(motor outputs (B, motor), new state (B, units))``."""
        return self.step(input, hx, _step_dt(timespans, input))


class LTCCell(LTC):
    """One step of an LTC: ``cell(inputs, states, elapsed_time=1.0) -> (motor outputs, new state)``,
    as ``ncps.torch.LTCCell``.

    Args:
        wiring: a navlnn or ``ncps.wirings`` wiring (an ncps one is built in place and converted).
        in_features: input features; ``None`` takes them from an already built wiring.
        input_mapping, output_mapping: ``"affine"``, ``"linear"`` or ``"none"``.
        ode_unfolds, epsilon: solver iterations per step and the denominator's epsilon.
        implicit_param_constraints: softplus-positive weights (True) or clipping with
            :meth:`apply_weight_constraints` (False, ncps's cell default).

    Shapes:
        inputs: ``(B, in_features)``; states: ``(B, units)`` in neuron-id order.
    """

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
        wiring = _built_wiring(wiring, in_features, "in_features")
        super().__init__(wiring.input_dim if in_features is None else in_features, wiring,
                         input_mapping=input_mapping, output_mapping=output_mapping, ode_unfolds=ode_unfolds,
                         epsilon=epsilon, implicit_param_constraints=implicit_param_constraints)

    def forward(self, inputs: Tensor, states: Optional[Tensor] = None,
                elapsed_time: Union[Tensor, float] = 1.0) -> Tuple[Tensor, Tensor]:
        """One step; returns ``(motor outputs (B, motor), new state (B, units))``."""
        return self.step(inputs, states, _step_dt(elapsed_time, inputs))
