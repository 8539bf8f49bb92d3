"""Closed-form continuous-time (CfC) networks, dense or wired by an NCP.

Same mathematics as ``ncps.torch.CfC`` (Hasani et al., 2022), computed faster:

* the four per-layer linears (ff1, ff2, time_a, time_b) are one matrix product;
* sparsity masks are applied once per call, not once per step;
* the inputs of all time steps are projected in one matrix product outside the loop;
* a wired CfC's layers (inter -> command -> motor) are run as a *wavefront*: at loop
  step ``k`` layer ``l`` advances time ``k - l``, so every loop step is one block-sparse
  matrix product for the whole circuit instead of one per layer (``T + L - 1`` steps,
  not ``T * L``). The result is the same computation, reordered.

Differences from the published equations that ncps has, and that are kept for parity:
in a wired CfC only ff1 and ff2 are masked by the wiring; time_a and time_b are dense
within each layer's inputs, every layer's own recurrence is dense (the wiring's
recurrent command synapses are not used) and synapse polarity is ignored.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from navlnn.liquid import kernels
from navlnn.liquid.recurrences import CfCRecurrence
from navlnn.liquid.sequence import (
    MixedMemory,
    batch_major,
    caller_layout,
    cached_until_params_change,
    check_same_wiring,
    merge_state,
    prepare_inputs,
    split_state,
    xavier_bound,
)
from navlnn.liquid.wirings import Wiring, as_wiring

MODES = ("default", "pure", "no_gate")
ACTIVATIONS = ("lecun_tanh", "tanh", "relu", "silu", "gelu")


class LeCunTanh(nn.Module):
    """``1.7159 * tanh(0.666 * x)``, the backbone activation of ncps."""

    def forward(self, x: Tensor) -> Tensor:
        return 1.7159 * torch.tanh(0.666 * x)


def _activation(name: str) -> nn.Module:
    table = {"lecun_tanh": LeCunTanh, "tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU}
    if name not in table:
        raise ValueError(f"activation: unknown '{name}'; valid activations: {list(table)}")
    return table[name]()


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
    """

    __jit_ignored_attributes__ = ["_step_cache", "_infer_cache", "wiring"]
    __jit_unused_properties__ = ["synapse_count", "sensory_synapse_count", "sensory_size", "motor_size"]
    __constants__ = ["mode", "wired", "masked", "use_mixed", "has_backbone", "return_sequences", "batch_first",
                     "num_layers", "input_size", "hidden_size", "state_size"]

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
        if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 1:
            raise ValueError(f"input_size must be a positive integer, got {input_size!r}")
        if mode not in MODES:
            raise ValueError(f"mode: unknown '{mode}'; valid modes: {list(MODES)}")
        self.input_size = input_size
        self.mode = mode
        self.return_sequences = bool(return_sequences)
        self.batch_first = bool(batch_first)
        self.use_mixed = bool(mixed_memory)
        units = as_wiring(units, input_size)
        self.wired = isinstance(units, Wiring)
        self.masked = False  # a sparsity mask on a dense CfC (ncps's CfCCell(sparsity_mask=...))
        self.activation_name = activation
        heads = 1 if mode == "pure" else 4

        if self.wired:
            for name, value in (("backbone_units", backbone_units), ("backbone_layers", backbone_layers),
                                ("backbone_dropout", backbone_dropout)):
                if value is not None:
                    raise ValueError(f"{name} cannot be used with a wiring (a wired CfC has no backbone)")
            wiring = units
            wiring.build(input_size)
            self.wiring = wiring
            self.hidden_size = wiring.units
            self._setup_wired(wiring, heads)
            self.output_features = self.layer_sizes[-1]
            self.has_backbone = False
        else:
            if isinstance(units, bool) or not isinstance(units, int) or units < 1:
                raise ValueError(f"units must be a positive integer or a Wiring, got {units!r}")
            self.wiring = None
            self.hidden_size = units
            self.layer_sizes = [units]
            self.num_layers = 1
            backbone_units = 128 if backbone_units is None else int(backbone_units)
            backbone_layers = 1 if backbone_layers is None else int(backbone_layers)
            backbone_dropout = 0.0 if backbone_dropout is None else float(backbone_dropout)
            if backbone_layers < 0 or (backbone_layers > 0 and backbone_units < 1):
                raise ValueError(
                    f"backbone_layers must be >= 0 and backbone_units >= 1, got {backbone_layers}, {backbone_units}"
                )
            if not 0.0 <= backbone_dropout < 1.0:
                raise ValueError(f"backbone_dropout must be in [0, 1), got {backbone_dropout}")
            self.has_backbone = backbone_layers > 0
            self.backbone_units = backbone_units if self.has_backbone else 0
            self.backbone_layers = backbone_layers
            head_in = backbone_units if self.has_backbone else input_size + units
            self.layer_offsets = [0, units]
            # First backbone layer is applied by hand so its input half can be hoisted out of the loop.
            self.backbone_in = nn.Linear(input_size + units, backbone_units) if self.has_backbone else nn.Identity()
            rest: List[nn.Module] = [_activation(activation)] if self.has_backbone else []
            for _ in range(1, backbone_layers):
                rest.append(nn.Linear(backbone_units, backbone_units))
                rest.append(_activation(activation))
                if backbone_dropout > 0.0:
                    rest.append(nn.Dropout(backbone_dropout))
            self.backbone_rest = nn.Sequential(*rest)
            self.weight = nn.Parameter(torch.empty(heads * units, head_in))
            self.bias = nn.Parameter(torch.empty(heads * units))
            for k in range(heads):
                block = self.weight.data[k * units:(k + 1) * units]
                nn.init.xavier_uniform_(block)
                nn.init.uniform_(self.bias.data[k * units:(k + 1) * units], -head_in ** -0.5, head_in ** -0.5)
            for module in [m for m in [self.backbone_in, *self.backbone_rest] if isinstance(m, nn.Linear)]:
                nn.init.xavier_uniform_(module.weight)
            self.register_buffer("layer_of_state", torch.zeros(units, dtype=torch.long), persistent=False)
            self.output_features = units

        units_n = self.hidden_size
        # ff rows doubled for the fused recurrence, which computes tanh(a) as 2 * sigmoid(2a) - 1
        self.register_buffer("row_scale", torch.cat([torch.full((2 * units_n,), 2.0), torch.ones(2 * units_n)])
                             if mode != "pure" else torch.ones(units_n), persistent=False)
        if mode == "pure":
            bound = xavier_bound(units_n, 1)
            self.w_tau = nn.Parameter(torch.empty(units_n).uniform_(-bound, bound))
            self.A = nn.Parameter(torch.empty(units_n).uniform_(-bound, bound))
        else:
            self.register_buffer("w_tau", torch.zeros(0), persistent=False)
            self.register_buffer("A", torch.zeros(0), persistent=False)
        self.memory = MixedMemory(input_size, units_n) if self.use_mixed else nn.Identity()
        self.proj_size = proj_size
        self.fc = nn.Linear(self.output_features, proj_size) if proj_size is not None else nn.Identity()
        self.output_size = proj_size if proj_size is not None else self.output_features
        self.state_size = units_n * (2 if self.use_mixed else 1)
        # hand-written recurrences in eager mode (see navlnn.liquid.recurrences); False forces plain autograd ops
        self.fused = True
        self._step_cache = None  # (parameter versions, derived weights) for eager closed-loop steps
        self._infer_cache = None

    # ------------------------------------------------------------------ wiring
    def _setup_wired(self, wiring: Wiring, heads: int) -> None:
        units, n_in = wiring.units, wiring.input_dim
        layers = [wiring.get_neurons_of_layer(l) for l in range(wiring.num_layers)]
        self.layer_sizes = [len(ids) for ids in layers]
        self.num_layers = len(layers)
        offsets = np.cumsum([0] + self.layer_sizes)
        weight = torch.zeros(heads * units, n_in + units)
        bias = torch.zeros(heads * units)
        ff_mask = torch.zeros(units, n_in + units)
        block = torch.zeros(units, n_in + units)
        layer_of_state = torch.zeros(units, dtype=torch.long)
        for l, ids in enumerate(layers):
            rows = slice(int(offsets[l]), int(offsets[l + 1]))
            n = len(ids)
            if l == 0:
                cols_in = slice(0, n_in)
                sparsity = np.abs(wiring.sensory_adjacency_matrix[:, ids])
            else:
                cols_in = slice(n_in + int(offsets[l - 1]), n_in + int(offsets[l]))
                sparsity = np.abs(wiring.adjacency_matrix[np.ix_(layers[l - 1], ids)])
            cols_h = slice(n_in + int(offsets[l]), n_in + int(offsets[l + 1]))
            ff_mask[rows, cols_in] = torch.from_numpy(sparsity.T.astype(np.float32))
            ff_mask[rows, cols_h] = 1.0
            block[rows, cols_in] = 1.0
            block[rows, cols_h] = 1.0
            layer_of_state[rows] = l
            fan_in = (cols_in.stop - cols_in.start) + n
            for k in range(heads):
                w = torch.empty(n, fan_in)
                nn.init.xavier_uniform_(w)
                r = slice(k * units + rows.start, k * units + rows.stop)
                weight[r, cols_in] = w[:, : cols_in.stop - cols_in.start]
                weight[r, cols_h] = w[:, cols_in.stop - cols_in.start:]
                bias[r] = torch.empty(n).uniform_(-fan_in ** -0.5, fan_in ** -0.5)
        masks = [ff_mask, ff_mask, block, block][:heads]
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(bias)
        self.register_buffer("mask", torch.cat(masks, 0), persistent=False)
        self.register_buffer("layer_of_state", layer_of_state, persistent=False)
        # Kept in the state_dict so that loading weights of another circuit fails clearly.
        self.register_buffer("adjacency", torch.from_numpy(wiring.adjacency_matrix.astype(np.int8)))
        self.register_buffer("sensory_adjacency", torch.from_numpy(wiring.sensory_adjacency_matrix.astype(np.int8)))
        self.state_neuron_ids = [i for ids in layers for i in ids]
        self.layer_offsets = [int(o) for o in offsets]

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs):
        if self.wired:
            check_same_wiring(self, state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs)

    # ------------------------------------------------------------------ maths
    def _gates(self, g: Tensor, ts: Tensor, A: Tensor, w_tau: Tensor, n: int) -> Tensor:
        """New state from the fused pre-activations ``g`` (rows: ff1, ff2, time_a, time_b)."""
        if self.mode == "pure":
            return -A * torch.exp(-ts * (torch.abs(w_tau) + torch.abs(g))) * g + A
        # one unbind instead of four slices: a single backward node instead of four zero-filled buffers
        ff1, ff2, t_a, t_b = g.view(g.size(0), 4, n).unbind(1)
        t = torch.sigmoid(torch.addcmul(t_b, t_a, ts))
        if self.mode == "no_gate":
            return torch.addcmul(torch.tanh(ff1), t, torch.tanh(ff2))
        return torch.lerp(torch.tanh(ff1), torch.tanh(ff2), t)

    def _effective_weight(self) -> Tensor:
        if self.wired:
            return self.weight * self.mask
        if self.masked:
            return self.weight * self.mask
        return self.weight

    def _layer_weights(self) -> List[Tensor]:
        """Per layer: input weight, recurrent weight (both transposed), bias, A and w_tau slices."""
        w = self._effective_weight()
        n_in, units = self.input_size, self.hidden_size
        heads = 1 if self.mode == "pure" else 4
        out: List[Tensor] = []
        offs = self.layer_offsets
        for l in range(self.num_layers):
            rows = torch.cat([torch.arange(k * units + offs[l], k * units + offs[l + 1], device=w.device)
                              for k in range(heads)])
            wl = w.index_select(0, rows)
            in_lo = 0 if l == 0 else n_in + offs[l - 1]
            in_hi = n_in if l == 0 else n_in + offs[l]
            out.append(wl[:, in_lo:in_hi].t())
            out.append(wl[:, n_in + offs[l]: n_in + offs[l + 1]].t())
            out.append(self.bias.index_select(0, rows))
            if self.mode == "pure":
                out.append(self.A[offs[l]: offs[l + 1]])
                out.append(self.w_tau[offs[l]: offs[l + 1]])
            else:
                out.append(self.A)
                out.append(self.w_tau)
        return out

    @torch.jit.unused
    def _cached_layer_weights(self) -> List[Tensor]:
        return cached_until_params_change(self, "_step_cache", self._layer_weights)

    def _wired_layered(self, x: Tensor, h: Tensor, c: Tensor, ts: Tensor, lw: List[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        """Wired CfC, one layer after the other at each step (mixed memory and single steps)."""
        steps = x.size(1)
        # unbind once: indexing [:, t] inside the loop would make autograd zero-fill a full-size
        # gradient buffer per step (quadratic in T)
        gx0 = F.linear(x, lw[0].t(), lw[2]).unbind(1)
        memory_in = (self.memory.project_inputs(x) if self.use_mixed else x).unbind(1)
        ts_steps = ts.unbind(1)
        outputs: List[Tensor] = []
        offs = self.layer_offsets
        for t in range(steps):
            if self.use_mixed:
                h, c = self.memory(memory_in[t], h, c)
            ts_t = ts_steps[t]
            new: List[Tensor] = []
            inp = gx0[t]
            for l in range(self.num_layers):
                hl = h[:, offs[l]: offs[l + 1]]
                if l == 0:
                    g = torch.addmm(gx0[t], hl, lw[1])
                else:
                    g = torch.addmm(torch.addmm(lw[5 * l + 2], inp, lw[5 * l]), hl, lw[5 * l + 1])
                inp = self._gates(g, ts_t, lw[5 * l + 3], lw[5 * l + 4], offs[l + 1] - offs[l])
                new.append(inp)
            h = torch.cat(new, 1)
            outputs.append(inp)
        return torch.stack(outputs, 1), h, c

    def _wavefront(self, x: Tensor, h: Tensor, ts: Tensor) -> Tuple[Tensor, Tensor]:
        """Single-matrix recurrence: a wired CfC's layers advance together, layer ``l`` lagging ``l``
        steps (a dense CfC without backbone is the one-layer case)."""
        batch, steps = x.size(0), x.size(1)
        n_in, units, n_layers = self.input_size, self.hidden_size, self.num_layers
        if n_layers > 1:
            x = torch.cat([x, x.new_zeros(batch, n_layers - 1, n_in)], 1)
        loop_steps = steps + n_layers - 1
        k = torch.arange(loop_steps, device=x.device).unsqueeze(1)
        src_t = (k - self.layer_of_state.unsqueeze(0)).clamp(0, steps - 1)
        ts_wave = ts[:, :, 0][:, src_t]
        if not torch.jit.is_scripting() and self.fused and self.mode != "pure" and not ts.requires_grad:
            wave = self._wavefront_fused(x, h, ts_wave)
        else:
            wave = self._wavefront_autograd(x, h, ts_wave)
        # (B, T + L - 1, units); layer l at time t is at step t + l
        outputs = wave[:, n_layers - 1:, self.layer_offsets[n_layers - 1]:]
        finals = [wave[:, steps - 1 + l, self.layer_offsets[l]: self.layer_offsets[l + 1]] for l in range(n_layers)]
        return outputs, torch.cat(finals, 1)

    @torch.jit.unused
    def _wavefront_fused(self, x: Tensor, h: Tensor, ts_wave: Tensor) -> Tensor:
        n_in = self.input_size
        w = self._effective_weight() * self.row_scale.unsqueeze(1)
        w_h = w[:, n_in:].t()
        # the recurrence carries L = (h + 1) / 2: h @ W_h = L @ (2 W_h) - sum of W_h's rows
        bias = self.bias * self.row_scale - w_h.sum(0)
        gx = F.linear(x.transpose(0, 1), w[:, :n_in], bias)  # time-major (K, B, 4U)
        active = [self.layer_of_state <= k for k in range(self.num_layers - 1)]
        L = CfCRecurrence.apply(gx.contiguous(), 0.5 * (h + 1.0), 2.0 * w_h, ts_wave.transpose(0, 1).contiguous(),
                                active, self.mode == "no_gate")
        return (2.0 * L - 1.0).transpose(0, 1)

    def _wavefront_autograd(self, x: Tensor, h: Tensor, ts_wave: Tensor) -> Tensor:
        n_in, units, n_layers = self.input_size, self.hidden_size, self.num_layers
        w = self._effective_weight()
        w_h = w[:, n_in:].t()
        gx = F.linear(x, w[:, :n_in], self.bias).unbind(1)
        ts_steps = ts_wave.unbind(1)
        states: List[Tensor] = []
        for step in range(len(gx)):
            new = self._gates(torch.addmm(gx[step], h, w_h), ts_steps[step], self.A, self.w_tau, units)
            if step < n_layers - 1:
                new = torch.where(self.layer_of_state <= step, new, h)
            states.append(new)
            h = new
        return torch.stack(states, 1)

    def _dense(self, x: Tensor, h: Tensor, c: Tensor, ts: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        n_in, units = self.input_size, self.hidden_size
        weight = self._effective_weight()
        if self.has_backbone:
            w0 = self.backbone_in.weight
            xp = F.linear(x, w0[:, :n_in], self.backbone_in.bias)
            w_h = w0[:, n_in:].t()
        else:
            xp = F.linear(x, weight[:, :n_in], self.bias)
            w_h = weight[:, n_in:].t()
        memory_in = (self.memory.project_inputs(x) if self.use_mixed else x).unbind(1)
        xp_steps = xp.unbind(1)
        ts_steps = ts.unbind(1)
        w_head = weight.t()
        outputs: List[Tensor] = []
        for t in range(x.size(1)):
            if self.use_mixed:
                h, c = self.memory(memory_in[t], h, c)
            g = torch.addmm(xp_steps[t], h, w_h)
            if self.has_backbone:
                g = torch.addmm(self.bias, self.backbone_rest(g), w_head)
            h = self._gates(g, ts_steps[t], self.A, self.w_tau, units)
            outputs.append(h)
        return torch.stack(outputs, 1), h, c

    def _run(self, x: Tensor, h0: Optional[Tensor], timespans: Optional[Tensor], lw: List[Tensor]) -> Tuple[Tensor, Tensor, bool]:
        x, state, ts, batched = prepare_inputs(x, h0, timespans, self.input_size, self.state_size)
        units = self.hidden_size
        h = state[:, :units]
        c = state[:, units:]
        if not self.use_mixed and len(lw) == 0 and (self.wired or not self.has_backbone):
            ys, h = self._wavefront(x, h, ts)
        elif self.wired:
            if len(lw) == 0:
                lw = self._layer_weights()
            ys, h, c = self._wired_layered(x, h, c, ts, lw)
        else:
            ys, h, c = self._dense(x, h, c, ts)
        state = torch.cat([h, c], 1) if self.use_mixed else h
        return ys, state, batched

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

        Returns ``(y (B, out), h')``; feed ``h'`` back at the next step.
        """
        ts: Optional[Tensor] = None
        if dt is not None:
            ts = dt.reshape(-1, 1, 1) if dt.dim() <= 1 else dt.unsqueeze(1)
        lw: List[Tensor] = []
        if not torch.jit.is_scripting():
            if (self.fused and not torch.is_grad_enabled() and self.mode == "default" and not self.use_mixed
                    and (self.wired or not self.has_backbone)):
                return self._step_inference(x, h, dt)
            if self.wired:
                lw = self._cached_layer_weights()
        elif self.wired:
            lw = self._layer_weights()
        ys, state, _ = self._run(x.unsqueeze(1), h, ts, lw)
        return self.fc(ys[:, 0]), state

    @torch.jit.unused
    def _inference_weights(self) -> List[Tensor]:
        """Per layer ``(W_in, W_h, b)`` for :meth:`_step_inference`, cached until a parameter changes.

        ff rows are doubled (``tanh(a) = 2 sigmoid(2a) - 1``), and a layer fed by the previous
        layer's ``L = (h + 1) / 2`` gets ``2 W_in`` and ``b - sum(W_in)`` so that ``h`` itself
        is only formed once, for the returned state.
        """
        return cached_until_params_change(self, "_infer_cache", self._compute_inference_weights)

    @torch.jit.unused
    def _compute_inference_weights(self) -> List[Tensor]:
        lw = self._layer_weights()
        out: List[Tensor] = []
        scale = lw[2].new_tensor([2.0, 2.0, 1.0, 1.0])
        for l in range(self.num_layers):
            w_in, w_h, b = lw[5 * l], lw[5 * l + 1], lw[5 * l + 2]
            n = w_h.shape[0]
            row = scale.repeat_interleave(n)
            w_in, w_h, b = w_in * row, w_h * row, b * row
            if l > 0:
                b = b - w_in.sum(0)
                w_in = 2.0 * w_in
            out += [w_in.contiguous(), w_h.contiguous(), b.contiguous()]
        out += [scale.new_tensor(2.0), scale.new_tensor(-1.0)]
        return out

    @torch.jit.unused
    def _step_inference(self, x: Tensor, h: Optional[Tensor], dt: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
        """Inference-only step of a default-mode CfC: few, fused operations (closed-loop latency)."""
        if x.dim() != 2 or x.size(1) != self.input_size:
            raise ValueError(f"x: step() takes (B, {self.input_size}), got {list(x.shape)}")
        if h is None:
            h = x.new_zeros(x.size(0), self.state_size)
        elif h.shape != (x.size(0), self.state_size):
            raise ValueError(f"h: expected a state of shape [{x.size(0)}, {self.state_size}], got {list(h.shape)}")
        ts = None if dt is None else dt.reshape(-1, 1).to(x.dtype)
        weights = self._inference_weights()
        compiled = kernels.load_kernels() if x.device.type == "cpu" else None
        if compiled is not None:
            state = compiled.cfc_step(x, h, ts, weights, self.layer_sizes)
            return self.fc(state[:, self.layer_offsets[self.num_layers - 1]:]), state
        sizes = self.layer_sizes
        state = torch.empty_like(h)
        inp = x
        for l, (h_l, out_l) in enumerate(zip(h.split(sizes, 1), state.split(sizes, 1))):
            n = sizes[l]
            g = torch.addmm(torch.addmm(weights[3 * l + 2], inp, weights[3 * l]), h_l, weights[3 * l + 1])
            _, _, time_a, time_b = g.view(-1, 4, n).unbind(1)
            if ts is None:
                time_a.add_(time_b)
            else:
                torch.addcmul(time_b, time_a, ts, out=time_a)
            s1, s2, t = torch.sigmoid(g[:, : 3 * n]).view(-1, 3, n).unbind(1)
            inp = torch.lerp(s1, s2, t, out=out_l)
        state = torch.addcmul(weights[-1], state, weights[-2])  # h = 2 L - 1
        return self.fc(state[:, self.layer_offsets[self.num_layers - 1]:]), state

    @torch.jit.unused
    def effective_parameter_count(self) -> int:
        """Trainable numbers that can influence the output: masked-out weight entries excluded."""
        total = sum(p.numel() for p in self.parameters() if p.requires_grad)
        if self.wired or self.masked:
            total -= int((self.mask == 0).sum())
        return total

    # ncps's module attributes
    @property
    def sensory_size(self) -> int:
        """Input features (ncps's name)."""
        return self.input_size

    @property
    def motor_size(self) -> int:
        """Neurons read out: the wiring's motor neurons, or every unit of a dense CfC."""
        return self.output_features

    @property
    def synapse_count(self) -> int:
        """Synapses between the circuit's neurons (a dense CfC counts all ``units * units``)."""
        return self.wiring.synapse_count if self.wired else self.hidden_size * self.hidden_size

    @property
    def sensory_synapse_count(self) -> int:
        """Synapses from the inputs (a dense CfC counts all ``input_size * units``)."""
        return self.wiring.sensory_synapse_count if self.wired else self.input_size * self.hidden_size

    def extra_repr(self) -> str:
        kind = repr(self.wiring) if self.wired else f"units={self.hidden_size}"
        return f"input_size={self.input_size}, {kind}, mode={self.mode}, mixed_memory={self.use_mixed}"
