"""Bring models from the reference package ``ncps`` into navlnn (weights and wiring, exactly)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from navlnn.liquid.cells import CfCCell, LTCCell, WiredCfCCell
from navlnn.liquid.cfc import CfC
from navlnn.liquid.ltc import LTC
from navlnn.liquid.wirings import wiring_from_ncps

__all__ = ["from_ncps", "wiring_from_ncps"]


def _copy(dst: torch.Tensor, src: torch.Tensor) -> None:
    with torch.no_grad():
        dst.copy_(src.detach().reshape(dst.shape))


_ACTIVATIONS = {"LeCun": "lecun_tanh", "Tanh": "tanh", "ReLU": "relu", "SiLU": "silu", "GELU": "gelu"}
_MAPPINGS = {"affine": "affine", "linear": "linear"}
_LTC_PARAMETERS = ("gleak", "vleak", "cm", "sigma", "mu", "w", "erev", "sensory_sigma", "sensory_mu", "sensory_w",
                   "sensory_erev", "input_w", "input_b", "output_w", "output_b")


def _heads(mode: str) -> list[str]:
    return ["ff1"] if mode == "pure" else ["ff1", "ff2", "time_a", "time_b"]


def _dense_cell_args(cell: Any) -> dict[str, Any]:
    """Our CfC arguments of an ncps ``CfCCell``."""
    backbone = list(cell.backbone) if cell.backbone is not None else []
    linears = [m for m in backbone if isinstance(m, nn.Linear)]
    dropouts = [m for m in backbone if isinstance(m, nn.Dropout)]
    return {
        "mode": cell.mode,
        "activation": _ACTIVATIONS[type(backbone[1]).__name__] if len(backbone) > 1 else "lecun_tanh",
        "backbone_units": linears[0].out_features if linears else 128,
        "backbone_layers": len(linears),
        "backbone_dropout": dropouts[0].p if dropouts else 0.0,
    }


def _copy_dense_cell(ours: CfCCell, cell: Any) -> None:
    """ncps ``CfCCell`` weights into our dense cell: backbone, the four heads stacked, ``w_tau``/``A``."""
    linears = [m for m in (cell.backbone or []) if isinstance(m, nn.Linear)]
    ours_linears = [m for m in [ours.backbone_in, *ours.backbone_rest] if isinstance(m, nn.Linear)]
    for mine, theirs in zip(ours_linears, linears):
        _copy(mine.weight, theirs.weight)
        _copy(mine.bias, theirs.bias)
    heads = _heads(cell.mode)
    _copy(ours.weight, torch.cat([getattr(cell, h).weight for h in heads], 0))
    _copy(ours.bias, torch.cat([getattr(cell, h).bias for h in heads], 0))
    if cell.mode == "pure":
        _copy(ours.w_tau, cell.w_tau)
        _copy(ours.A, cell.A)


def _copy_wired_cell(ours: WiredCfCCell, cell: Any) -> None:
    """ncps ``WiredCfCCell`` weights (one CfCCell per layer) into our cell's block matrix."""
    n_in, units, offs = ours.input_size, ours.hidden_size, ours.layer_offsets
    with torch.no_grad():
        ours.weight.zero_()
        for l, layer in enumerate(cell._layers):
            n = offs[l + 1] - offs[l]
            in_lo = 0 if l == 0 else n_in + offs[l - 1]
            in_hi = n_in if l == 0 else n_in + offs[l]
            n_layer_in = in_hi - in_lo
            for k, head in enumerate(_heads(layer.mode)):
                lin = getattr(layer, head)
                rows = slice(k * units + offs[l], k * units + offs[l + 1])
                ours.weight[rows, in_lo:in_hi] = lin.weight[:, :n_layer_in]
                ours.weight[rows, n_in + offs[l]: n_in + offs[l] + n] = lin.weight[:, n_layer_in:]
                ours.bias[rows] = lin.bias
            if layer.mode == "pure":
                ours.w_tau[offs[l]: offs[l + 1]] = layer.w_tau.reshape(-1)
                ours.A[offs[l]: offs[l + 1]] = layer.A.reshape(-1)


def _copy_ltc_cell(ours: LTCCell, cell: Any) -> None:
    for name in _LTC_PARAMETERS:
        mine = getattr(ours, name)
        if mine is not None:
            _copy(mine, cell._params[name])


def _copy_memory(ours: CfC | LTC, lstm: Any) -> None:
    _copy(ours.memory.input_map.weight, lstm.input_map.weight)
    _copy(ours.memory.input_map.bias, lstm.input_map.bias)
    _copy(ours.memory.recurrent_map.weight, lstm.recurrent_map.weight)


def _ltc_cell_args(cell: Any) -> dict[str, Any]:
    return {
        "input_mapping": _MAPPINGS.get(cell._input_mapping, "none"),
        "output_mapping": _MAPPINGS.get(cell._output_mapping, "none"),
        "ode_unfolds": cell._ode_unfolds,
        "epsilon": cell._epsilon,
        "implicit_param_constraints": cell._implicit_param_constraints,
    }


def _cfc(module: Any, reference: torch.Tensor) -> CfC:
    cell = module.rnn_cell
    proj = None if isinstance(module.fc, nn.Identity) else module.fc.out_features
    common = dict(proj_size=proj, return_sequences=module.return_sequences, batch_first=module.batch_first,
                  mixed_memory=bool(module.use_mixed))
    if type(cell).__name__ == "WiredCfCCell":
        ours = CfC(module.input_size, wiring_from_ncps(module.wiring), mode=cell._layers[0].mode, **common)
        _in_dtype_of(ours, reference)
        _copy_wired_cell(ours.rnn_cell, cell)
    else:
        ours = CfC(module.input_size, cell.hidden_size, **common, **_dense_cell_args(cell))
        _in_dtype_of(ours, reference)
        _copy_dense_cell(ours.rnn_cell, cell)
    if ours.use_mixed:
        _copy_memory(ours, module.lstm)
    if proj is not None:
        _copy(ours.fc.weight, module.fc.weight)
        _copy(ours.fc.bias, module.fc.bias)
    return ours


def _ltc(module: Any, reference: torch.Tensor) -> LTC:
    cell = module.rnn_cell
    ours = LTC(module.input_size, wiring_from_ncps(module._wiring), return_sequences=module.return_sequences,
               batch_first=module.batch_first, mixed_memory=bool(module.use_mixed), **_ltc_cell_args(cell))
    _in_dtype_of(ours, reference)
    _copy_ltc_cell(ours.rnn_cell, cell)
    if ours.use_mixed:
        _copy_memory(ours, module.lstm)
    return ours


def _cfc_cell(cell: Any, reference: torch.Tensor) -> CfCCell:
    args = _dense_cell_args(cell)
    mask = None if cell.sparsity_mask is None else cell.sparsity_mask.detach().cpu().numpy().T
    ours = CfCCell(cell.input_size, cell.hidden_size, args["mode"], args["activation"], args["backbone_units"],
                   args["backbone_layers"], args["backbone_dropout"], sparsity_mask=mask)
    _in_dtype_of(ours, reference)
    _copy_dense_cell(ours, cell)
    return ours


def _wired_cfc_cell(cell: Any, reference: torch.Tensor) -> WiredCfCCell:
    ours = WiredCfCCell(None, wiring_from_ncps(cell._wiring), mode=cell._layers[0].mode)
    _in_dtype_of(ours, reference)
    _copy_wired_cell(ours, cell)
    return ours


def _ltc_cell(cell: Any, reference: torch.Tensor) -> LTCCell:
    ours = LTCCell(wiring_from_ncps(cell._wiring), None, **_ltc_cell_args(cell))
    _in_dtype_of(ours, reference)
    _copy_ltc_cell(ours, cell)
    return ours


def _in_dtype_of(ours: nn.Module, reference: torch.Tensor) -> None:
    """Cast a freshly built module to the source's dtype and device, before any weight is copied in,
    so float64 weights arrive unrounded."""
    ours.to(dtype=reference.dtype, device=reference.device)


_CONVERTERS = {"CfC": _cfc, "LTC": _ltc, "CfCCell": _cfc_cell, "WiredCfCCell": _wired_cfc_cell, "LTCCell": _ltc_cell}


def from_ncps(module: nn.Module) -> CfC | LTC | CfCCell | WiredCfCCell | LTCCell:
    """Our module holding the weights (and wiring) of an ``ncps.torch`` module, computing the same outputs.

    ``CfC`` and ``LTC`` become :class:`CfC` and :class:`LTC` (same ``batch_first``, ``return_sequences``,
    mixed memory and projection); the cells ``CfCCell``, ``WiredCfCCell`` and ``LTCCell`` become
    navlnn's cells of the same names. The module is built in the source's dtype and device before the
    weights are copied, so a float64 model converts exactly.
    """
    klass = type(module)
    name = klass.__name__
    if not (klass.__module__ or "").startswith("ncps.torch") or name not in _CONVERTERS:
        raise ValueError(
            f"from_ncps supports ncps.torch's {', '.join(_CONVERTERS)}, got {klass.__module__}.{name}"
        )
    reference = next(module.parameters())
    return _CONVERTERS[name](module, reference)
