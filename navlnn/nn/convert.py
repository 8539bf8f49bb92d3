"""Bring models from the reference package ``ncps`` into navlnn (weights and wiring, exactly)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from navlnn.nn.cfc import CfC
from navlnn.nn.ltc import LTC
from navlnn.nn.wirings import NCP, AutoNCP, FullyConnected, Random, Wiring

__all__ = ["from_ncps", "wiring_from_ncps"]


def wiring_from_ncps(ncps_wiring: Any) -> Wiring:
    """Our wiring with the same structure and exactly the same (built) matrices as an ncps wiring."""
    name = type(ncps_wiring).__name__
    w = ncps_wiring
    if name == "AutoNCP":
        ours: Wiring = AutoNCP(w.units, w._output_size, w._sparsity_level, w._seed)
    elif name == "NCP":
        ours = NCP(w._num_inter_neurons, w._num_command_neurons, w._num_motor_neurons, w._sensory_fanout,
                   w._inter_fanout, w._recurrent_command_synapses, w._motor_fanin)
    elif name == "FullyConnected":
        ours = FullyConnected(w.units, w.output_dim, w._erev_init_seed, w.self_connections)
    elif name == "Random":
        ours = Random(w.units, w.output_dim, w.sparsity_level, w._random_seed)
    else:
        ours = Wiring(w.units, w.output_dim)
    ours.adjacency_matrix = np.asarray(w.adjacency_matrix, dtype=np.int32).copy()
    if w.input_dim is not None:
        ours.set_input_dim(int(w.input_dim))
        ours.sensory_adjacency_matrix = np.asarray(w.sensory_adjacency_matrix, dtype=np.int32).copy()
    return ours


def _copy(dst: torch.Tensor, src: torch.Tensor) -> None:
    with torch.no_grad():
        dst.copy_(src.detach().reshape(dst.shape))


def _cfc_from_ncps(module: Any) -> CfC:
    cell = module.rnn_cell
    mixed = bool(module.use_mixed)
    proj = None if isinstance(module.fc, nn.Identity) else module.fc.out_features
    if getattr(module, "wired_mode", False):
        wiring = wiring_from_ncps(module.wiring)
        mode = cell._layers[0].mode
        ours = CfC(module.input_size, wiring, proj_size=proj, return_sequences=module.return_sequences,
                   mixed_memory=mixed, mode=mode)
        n_in, units = ours.input_size, ours.hidden_size
        offs = ours.layer_offsets
        heads = ["ff1"] if mode == "pure" else ["ff1", "ff2", "time_a", "time_b"]
        with torch.no_grad():
            ours.weight.zero_()
            for l, layer in enumerate(cell._layers):
                n = offs[l + 1] - offs[l]
                in_lo = 0 if l == 0 else n_in + offs[l - 1]
                in_hi = n_in if l == 0 else n_in + offs[l]
                n_layer_in = in_hi - in_lo
                for k, head in enumerate(heads):
                    lin = getattr(layer, head)
                    rows = slice(k * units + offs[l], k * units + offs[l + 1])
                    ours.weight[rows, in_lo:in_hi] = lin.weight[:, :n_layer_in]
                    ours.weight[rows, n_in + offs[l]: n_in + offs[l] + n] = lin.weight[:, n_layer_in:]
                    ours.bias[rows] = lin.bias
                if mode == "pure":
                    ours.w_tau[offs[l]: offs[l + 1]] = layer.w_tau.reshape(-1)
                    ours.A[offs[l]: offs[l + 1]] = layer.A.reshape(-1)
    else:
        mode = cell.mode
        activation = {"LeCun": "lecun_tanh", "Tanh": "tanh", "ReLU": "relu", "SiLU": "silu", "GELU": "gelu"}
        backbone = list(cell.backbone) if cell.backbone is not None else []
        linears = [m for m in backbone if isinstance(m, nn.Linear)]
        dropouts = [m for m in backbone if isinstance(m, nn.Dropout)]
        act_name = "lecun_tanh"
        if len(backbone) > 1:
            act_name = activation[type(backbone[1]).__name__]
        ours = CfC(module.input_size, cell.hidden_size, proj_size=proj, return_sequences=module.return_sequences,
                   mixed_memory=mixed, mode=mode, activation=act_name,
                   backbone_units=linears[0].out_features if linears else 128,
                   backbone_layers=len(linears),
                   backbone_dropout=dropouts[0].p if dropouts else 0.0)
        ours_linears = [m for m in [ours.backbone_in, *ours.backbone_rest] if isinstance(m, nn.Linear)]
        for mine, theirs in zip(ours_linears, linears):
            _copy(mine.weight, theirs.weight)
            _copy(mine.bias, theirs.bias)
        heads = ["ff1"] if mode == "pure" else ["ff1", "ff2", "time_a", "time_b"]
        _copy(ours.weight, torch.cat([getattr(cell, h).weight for h in heads], 0))
        _copy(ours.bias, torch.cat([getattr(cell, h).bias for h in heads], 0))
        if mode == "pure":
            _copy(ours.w_tau, cell.w_tau)
            _copy(ours.A, cell.A)
    if mixed:
        _copy(ours.memory.input_map.weight, module.lstm.input_map.weight)
        _copy(ours.memory.input_map.bias, module.lstm.input_map.bias)
        _copy(ours.memory.recurrent_map.weight, module.lstm.recurrent_map.weight)
    if proj is not None:
        _copy(ours.fc.weight, module.fc.weight)
        _copy(ours.fc.bias, module.fc.bias)
    return ours


def _ltc_from_ncps(module: Any) -> LTC:
    cell = module.rnn_cell
    wiring = wiring_from_ncps(module._wiring)
    mapping = {"affine": "affine", "linear": "linear"}
    ours = LTC(module.input_size, wiring, return_sequences=module.return_sequences, mixed_memory=module.use_mixed,
               input_mapping=mapping.get(cell._input_mapping, "none"),
               output_mapping=mapping.get(cell._output_mapping, "none"),
               ode_unfolds=cell._ode_unfolds, epsilon=cell._epsilon,
               implicit_param_constraints=cell._implicit_param_constraints)
    for name in ("gleak", "vleak", "cm", "sigma", "mu", "w", "erev", "sensory_sigma", "sensory_mu", "sensory_w",
                 "sensory_erev", "input_w", "input_b", "output_w", "output_b"):
        mine = getattr(ours, name)
        if mine is not None:
            _copy(mine, cell._params[name])
    if ours.use_mixed:
        _copy(ours.memory.input_map.weight, module.lstm.input_map.weight)
        _copy(ours.memory.input_map.bias, module.lstm.input_map.bias)
        _copy(ours.memory.recurrent_map.weight, module.lstm.recurrent_map.weight)
    return ours


def from_ncps(module: nn.Module) -> CfC | LTC:
    """Our module holding the weights (and wiring) of an ncps torch ``CfC`` or ``LTC``.

    The result computes the same outputs and states as ``module`` (batch-first inputs; a
    mixed-memory state ``(h, c)`` becomes one tensor ``[h, c]``). dtype and device follow ``module``.
    """
    name = type(module).__name__
    if not (type(module).__module__ or "").startswith("ncps.torch"):
        raise ValueError(f"from_ncps expects an ncps.torch CfC or LTC module, got {type(module).__module__}.{name}")
    if not module.batch_first:
        raise ValueError("from_ncps: the ncps module has batch_first=False; navlnn modules are batch-first "
                         "(transpose inputs to (B, T, C) and build the ncps module with batch_first=True)")
    if name == "CfC":
        ours = _cfc_from_ncps(module)
    elif name == "LTC":
        ours = _ltc_from_ncps(module)
    else:
        raise ValueError(f"from_ncps supports ncps.torch.CfC and ncps.torch.LTC, got {name}")
    reference = next(module.parameters())
    return ours.to(dtype=reference.dtype, device=reference.device)
