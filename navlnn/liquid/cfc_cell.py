"""CfC cells (Hasani et al., 2022): the parameters and dynamics of a closed-form continuous-time
circuit, dense (:class:`CfCCell`) or wired by an NCP (:class:`WiredCfCCell`), as ``ncps.torch``'s cells.

Same mathematics as ncps, computed faster:

* the four per-layer linears (ff1, ff2, time_a, time_b) are one matrix product;
* sparsity masks are applied once per call, not once per step;
* a step is split into its input half (:meth:`CfCCellBase.project`), which a sequence computes for
  all time steps in one matrix product outside its loop, and its recurrent half (:meth:`CfCCellBase.recur`);
* through a block of steps (:meth:`CfCCellBase.unroll`) a wired cell's layers (inter -> command ->
  motor) are run as a *wavefront*: at loop step ``k`` layer ``l`` advances time ``k - l``, so every
  loop step is one block-sparse matrix product for the whole circuit instead of one per layer
  (``T + L - 1`` steps, not ``T * L``), through the hand-written recurrence of
  :mod:`navlnn.liquid.recurrences`. The result is the same computation, reordered;
* the closed-loop step at inference is a few fused operations (compiled, :mod:`navlnn.liquid.kernels`).

Differences from the published equations that ncps has, and that are kept for parity:
in a wired CfC only ff1 and ff2 are masked by the wiring; time_a and time_b are dense
within each layer's inputs, every layer's own recurrence is dense (the wiring's
recurrent command synapses are not used) and synapse polarity is ignored.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple, Union

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from navlnn.liquid import kernels
from navlnn.liquid.recurrences import CfCRecurrence
from navlnn.liquid.sequence import (
    built_wiring,
    cached_until_params_change,
    cell_dt,
    check_input_size,
    check_same_wiring,
    prepare_inputs,
    step_timespans,
    xavier_bound,
)
from navlnn.liquid.wirings import Wiring

__all__ = ["CfCCellBase", "CfCCell", "WiredCfCCell"]

MODES = ("default", "pure", "no_gate")
ACTIVATIONS = ("lecun_tanh", "tanh", "relu", "silu", "gelu")


def check_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`MODES`; a ``ValueError`` that lists them otherwise."""
    if mode not in MODES:
        raise ValueError(f"mode: unknown '{mode}'; valid modes: {list(MODES)}")
    return mode


class LeCunTanh(nn.Module):
    """``1.7159 * tanh(0.666 * x)``, the backbone activation of ncps."""

    def forward(self, x: Tensor) -> Tensor:
        return 1.7159 * torch.tanh(0.666 * x)


def _activation(name: str) -> nn.Module:
    table = {"lecun_tanh": LeCunTanh, "tanh": nn.Tanh, "relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU}
    if name not in table:
        raise ValueError(f"activation: unknown '{name}'; valid activations: {list(table)}")
    return table[name]()


class CfCCellBase(nn.Module):
    """What :class:`CfCCell` (dense) and :class:`WiredCfCCell` share: the CfC nonlinearity, the
    weights in the forms each path uses, one step, a block of steps and the closed-loop step.

    The four heads (ff1, ff2, time_a, time_b; only ff1 in mode ``"pure"``) are the row blocks of
    one ``weight`` (``(heads * units, inputs)``) and ``bias``; a wired cell's are block matrices,
    one block per layer, masked by the wiring (``mask``).
    """

    __jit_ignored_attributes__ = ["_step_cache", "_infer_cache", "wiring"]
    __jit_unused_properties__ = ["synapse_count", "sensory_synapse_count", "sensory_size", "motor_size"]
    __constants__ = ["mode", "wired", "masked", "has_backbone", "num_layers", "input_size", "hidden_size",
                     "state_size"]

    def _configure(self, input_size: int, mode: str, wired: bool) -> None:
        """The settings every CfC cell has; called first by the subclasses' constructors."""
        self.input_size = check_input_size(input_size)
        self.mode = check_mode(mode)
        self.wired = wired
        self.masked = False  # a sparsity mask on a dense cell (ncps's CfCCell(sparsity_mask=...))
        self.has_backbone = False
        self.wiring: Optional[Wiring] = None

    def _finish(self) -> None:
        """The time constants of mode ``"pure"`` and the derived settings; called last by the constructors."""
        units, mode = self.hidden_size, self.mode
        # ff rows doubled for the fused recurrence, which computes tanh(a) as 2 * sigmoid(2a) - 1
        self.register_buffer("row_scale", torch.cat([torch.full((2 * units,), 2.0), torch.ones(2 * units)])
                             if mode != "pure" else torch.ones(units), persistent=False)
        if mode == "pure":
            bound = xavier_bound(units, 1)
            self.w_tau = nn.Parameter(torch.empty(units).uniform_(-bound, bound))
            self.A = nn.Parameter(torch.empty(units).uniform_(-bound, bound))
        else:
            self.register_buffer("w_tau", torch.zeros(0), persistent=False)
            self.register_buffer("A", torch.zeros(0), persistent=False)
        self.state_size = units
        self.output_size = self.output_features
        # hand-written recurrences and compiled kernels in eager mode; False forces plain autograd ops
        self.fused = True
        self._step_cache = None  # (parameter versions, derived weights) for eager closed-loop steps
        self._infer_cache = None

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

    # ------------------------------------------------------------------ one step, from projected inputs
    # A step is split in two so that sequences can hoist the input half out of their loop:
    # ``project`` (inputs of any number of steps at once) and ``recur`` (one step from its projection).
    def step_weights(self) -> List[Tensor]:
        """The weights ``project`` and ``recur`` use, derived from the parameters once per call."""
        raise NotImplementedError

    def project(self, x: Tensor, weights: List[Tensor]) -> Tensor:
        """The input half of a step, for inputs ``(..., input_size)`` of any number of steps."""
        raise NotImplementedError

    def recur(self, xp: Tensor, h: Tensor, ts: Tensor, weights: List[Tensor]) -> Tuple[Tensor, Tensor]:
        """One step from its projected input ``xp``; returns ``(output, new state)``."""
        raise NotImplementedError

    @torch.jit.unused
    def cached_step_weights(self) -> List[Tensor]:
        """:meth:`step_weights`, kept between closed-loop steps until a parameter changes (autograd off)."""
        return cached_until_params_change(self, "_step_cache", self.step_weights)

    def forward(self, input: Tensor, hx: Optional[Tensor] = None, ts: Union[Tensor, float] = 1.0
                ) -> Tuple[Tensor, Tensor]:
        """One step (ncps's cell call); returns ``(output, new state)``."""
        return self.step(input, hx, cell_dt(ts, input))

    @torch.jit.export
    def step(self, x: Tensor, h: Optional[Tensor] = None, dt: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """One closed-loop step: ``x (B, input_size)``, state ``h (B, state_size)``, ``dt (B,)`` or ``(B, 1)``.

        Returns ``(y (B, output_size), h')``; feed ``h'`` back at the next step.
        """
        if not torch.jit.is_scripting():
            if (self.fused and not torch.is_grad_enabled() and self.mode == "default"
                    and (self.wired or not self.has_backbone)):
                return self._step_inference(x, h, dt)
        xs, state, ts, _ = prepare_inputs(x.unsqueeze(1), h, step_timespans(dt), self.input_size, self.state_size)
        if not self.wired and not self.has_backbone:
            ys, state = self.unroll(xs, state, ts)
            return ys[:, 0], state
        if torch.jit.is_scripting():
            weights = self.step_weights()
        else:
            weights = self.cached_step_weights()
        return self.recur(self.project(xs, weights)[:, 0], state, ts[:, 0], weights)

    # ------------------------------------------------------------------ a block of steps
    def unroll(self, x: Tensor, h: Tensor, ts: Tensor) -> Tuple[Tensor, Tensor]:
        """Steps through inputs ``x (B, T, input_size)`` known in advance, from state ``h (B, units)``
        with elapsed times ``ts (B, T, 1)``; returns the outputs ``(B, T, output_size)`` and the last state.

        Single-matrix recurrence: a wired cell's layers advance together, layer ``l`` lagging ``l``
        steps (a dense cell without backbone is the one-layer case; a backbone is not a single matrix).
        """
        if self.has_backbone:
            raise ValueError("unroll: a CfC cell with a backbone runs step by step (project, then recur)")
        batch, steps = x.size(0), x.size(1)
        n_in, n_layers = self.input_size, self.num_layers
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

    # ------------------------------------------------------------------ the closed-loop step
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
        """Inference-only step of a default-mode cell: few, fused operations (closed-loop latency)."""
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
            return state[:, self.layer_offsets[self.num_layers - 1]:], state
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
        return state[:, self.layer_offsets[self.num_layers - 1]:], state

    # ------------------------------------------------------------------ counts and ncps's attributes
    @torch.jit.unused
    def effective_parameter_count(self) -> int:
        """Trainable numbers that can influence the output: masked-out weight entries excluded."""
        total = sum(p.numel() for p in self.parameters() if p.requires_grad)
        if self.wired or self.masked:
            total -= int((self.mask == 0).sum())
        return total

    @property
    def sensory_size(self) -> int:
        """Input features (ncps's name)."""
        return self.input_size

    @property
    def motor_size(self) -> int:
        """Neurons read out: the wiring's motor neurons, or every unit of a dense cell."""
        return self.output_features

    @property
    def synapse_count(self) -> int:
        """Synapses between the circuit's neurons (a dense cell counts all ``units * units``)."""
        return self.wiring.synapse_count if self.wired else self.hidden_size * self.hidden_size

    @property
    def sensory_synapse_count(self) -> int:
        """Synapses from the inputs (a dense cell counts all ``input_size * units``)."""
        return self.wiring.sensory_synapse_count if self.wired else self.input_size * self.hidden_size

    def extra_repr(self) -> str:
        kind = repr(self.wiring) if self.wired else f"units={self.hidden_size}"
        return f"input_size={self.input_size}, {kind}, mode={self.mode}"


class CfCCell(CfCCellBase):
    """A dense CfC cell, ``cell(input, hx, ts=1.0) -> (h, h)``, as ``ncps.torch.CfCCell``.

    Args:
        input_size: input features.
        hidden_size: neurons (the state width).
        mode: ``"default"``, ``"pure"`` or ``"no_gate"``.
        backbone_activation: ``"lecun_tanh"``, ``"tanh"``, ``"relu"``, ``"silu"`` or ``"gelu"``.
        backbone_units, backbone_layers, backbone_dropout: the backbone (as ncps: 128, 1, 0.0; None
            means the default).
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
        backbone_units: Optional[int] = 128,
        backbone_layers: Optional[int] = 1,
        backbone_dropout: Optional[float] = 0.0,
        sparsity_mask: Optional[np.ndarray] = None,
    ) -> None:
        super().__init__()
        self._configure(input_size, mode, wired=False)
        if isinstance(hidden_size, bool) or not isinstance(hidden_size, int) or hidden_size < 1:
            raise ValueError(f"hidden_size must be a positive integer, got {hidden_size!r}")
        self.hidden_size = hidden_size
        self.layer_sizes = [hidden_size]
        self.layer_offsets = [0, hidden_size]
        self.num_layers = 1
        self.activation_name = backbone_activation
        self._build_weights(backbone_activation, backbone_units, backbone_layers, backbone_dropout)
        self.output_features = hidden_size
        self._finish()
        if sparsity_mask is not None:
            self._set_sparsity_mask(sparsity_mask)

    def _build_weights(self, activation: str, backbone_units: Optional[int], backbone_layers: Optional[int],
                       backbone_dropout: Optional[float]) -> None:
        input_size, units = self.input_size, self.hidden_size
        heads = 1 if self.mode == "pure" else 4
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

    def _set_sparsity_mask(self, sparsity_mask: np.ndarray) -> None:
        head_in, hidden_size = self.weight.shape[1], self.hidden_size
        mask = torch.from_numpy(np.abs(np.asarray(sparsity_mask, dtype=np.float64)).T.copy()).float()
        if tuple(mask.shape) != (hidden_size, head_in):
            raise ValueError(
                f"sparsity_mask: expected shape ({head_in}, {hidden_size}) (inputs of ff1 x neurons), "
                f"got {tuple(np.shape(sparsity_mask))}"
            )
        heads = [mask] if self.mode == "pure" else [mask, mask, torch.ones_like(mask), torch.ones_like(mask)]
        self.register_buffer("mask", torch.cat(heads, 0), persistent=False)
        self.masked = True

    def step_weights(self) -> List[Tensor]:
        """``[W_x, b_x, W_h^T, W_head^T]``: the input and recurrent halves of the first matrix product
        (the backbone's first layer, or the heads without backbone) and the heads after a backbone."""
        n_in = self.input_size
        weight = self._effective_weight()
        if self.has_backbone:
            w0 = self.backbone_in.weight
            return [w0[:, :n_in], self.backbone_in.bias, w0[:, n_in:].t(), weight.t()]
        return [weight[:, :n_in], self.bias, weight[:, n_in:].t(), weight.t()]

    def project(self, x: Tensor, weights: List[Tensor]) -> Tensor:
        return F.linear(x, weights[0], weights[1])

    def recur(self, xp: Tensor, h: Tensor, ts: Tensor, weights: List[Tensor]) -> Tuple[Tensor, Tensor]:
        g = torch.addmm(xp, h, weights[2])
        if self.has_backbone:
            g = torch.addmm(self.bias, self.backbone_rest(g), weights[3])
        h = self._gates(g, ts, self.A, self.w_tau, self.hidden_size)
        return h, h


class WiredCfCCell(CfCCellBase):
    """A CfC cell on a wiring, ``cell(input, hx, timespans=1.0) -> (motor outputs, new state)``,
    as ``ncps.torch.WiredCfCCell``: one CfC layer per layer of the wiring (inter, command, motor).

    Args:
        input_size: input features; ``None`` takes them from an already built wiring.
        wiring: a navlnn or ``ncps.wirings`` wiring (an ncps one is built in place and converted).
        mode: ``"default"``, ``"pure"`` or ``"no_gate"``.

    Shapes:
        input: ``(B, input_size)``; hx: ``(B, units)`` ordered by layer (inter, command, motor);
        :attr:`state_neuron_ids` maps it to neuron ids.
    """

    def __init__(self, input_size: Optional[int], wiring: Any, mode: str = "default") -> None:
        super().__init__()
        wiring = built_wiring(wiring, input_size, "input_size")
        self._configure(wiring.input_dim if input_size is None else input_size, mode, wired=True)
        wiring.build(self.input_size)
        self.wiring = wiring
        self.hidden_size = wiring.units
        self._build_weights(wiring)
        self.output_features = self.layer_sizes[-1]
        self._finish()

    def _build_weights(self, wiring: Wiring) -> None:
        """Block matrices, one block per layer: its inputs (the previous layer, or the sensory inputs)
        masked by the wiring, and its own recurrence, dense."""
        units, n_in = wiring.units, wiring.input_dim
        heads = 1 if self.mode == "pure" else 4
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

    def step_weights(self) -> List[Tensor]:
        """Per layer, five tensors: see :meth:`_layer_weights`."""
        return self._layer_weights()

    def project(self, x: Tensor, weights: List[Tensor]) -> Tensor:
        """The first layer's input half (later layers are fed by the layer before, within the step)."""
        return F.linear(x, weights[0].t(), weights[2])

    def recur(self, xp: Tensor, h: Tensor, ts: Tensor, weights: List[Tensor]) -> Tuple[Tensor, Tensor]:
        """One step, one layer after the other; the output is the motor layer's new state."""
        offs = self.layer_offsets
        new: List[Tensor] = []
        inp = xp
        for l in range(self.num_layers):
            hl = h[:, offs[l]: offs[l + 1]]
            if l == 0:
                g = torch.addmm(xp, hl, weights[1])
            else:
                g = torch.addmm(torch.addmm(weights[5 * l + 2], inp, weights[5 * l]), hl, weights[5 * l + 1])
            inp = self._gates(g, ts, weights[5 * l + 3], weights[5 * l + 4], offs[l + 1] - offs[l])
            new.append(inp)
        return inp, torch.cat(new, 1)
