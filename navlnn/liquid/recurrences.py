"""Hand-written forward and backward passes of the CfC and LTC recurrences.

Eager autograd records every small operation of every time step, and in backward it
computes one tiny weight-gradient matrix product per step. On CPU, at the sizes of an
NCP (tens of neurons), that per-operation overhead *is* the cost. These functions run
the recurrence loop without recording, write what the backward pass needs into
preallocated time-major buffers (each step's slice contiguous), run backpropagation
through time with a handful of operations per step, and compute every weight gradient
in one matrix product over all steps.

They are used by the cells (:class:`~navlnn.liquid.cells.WiredCfCCell`, :class:`~navlnn.liquid.cells.CfCCell`
and :class:`~navlnn.liquid.cells.LTCCell`, and so by the sequence modules that hold them) in eager mode;
a TorchScript-compiled module falls back to plain autograd (same results, slower).
The tests check outputs and all gradients against ncps and against plain autograd.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

import torch
from torch import Tensor

from navlnn.liquid import kernels


class CfCRecurrence(torch.autograd.Function):
    """CfC recurrence in the variable ``L = (h + 1) / 2`` for modes ``default`` and ``no_gate``.

    With ff rows doubled, ``tanh(a) = 2 * sigmoid(2a) - 1``, so ``h = 2 L - 1`` where
    ``L = lerp(s1, s2, t)`` (default) or ``L = s1 + t * (s2 - 1/2)`` (no_gate) and
    ``s1, s2, t = sigmoid([2*ff1, 2*ff2, time_a * ts + time_b])``. Carrying ``L`` keeps the affine
    map out of the loop: the caller folds it into ``gx`` and ``w_l`` (``h @ W = L @ 2W - 1 @ W``).

    ``gx`` is ``(K, B, 4U)`` time-major, ``L0`` is ``(B, U)``, ``w_l`` is ``(U, 4U)``, ``ts`` is
    ``(K, B, U)`` (per neuron). For the NCP wavefront, the first ``len(active)`` steps update only
    the neurons marked in ``active[k]``. Returns ``L`` after each step, ``(K, B, U)``.
    """

    @staticmethod
    def forward(ctx: Any, gx: Tensor, L0: Tensor, w_l: Tensor, ts: Tensor, active: List[Tensor], no_gate: bool) -> Tensor:
        steps, batch, rows = gx.shape
        units = rows // 4
        sig = gx.new_empty(steps, batch, 3 * units)
        out = gx.new_empty(steps, batch, units)
        compiled = kernels.load_kernels() if gx.device.type == "cpu" else None
        if compiled is not None:
            out, sig = compiled.cfc_forward_loop(gx, L0, w_l, ts, active, no_gate)
            ctx.save_for_backward(L0, w_l, ts, sig, out)
            ctx.active, ctx.no_gate = active, no_gate
            return out
        L = L0
        gx_k, ts_k, sig_k, out_k = gx.unbind(0), ts.unbind(0), sig.unbind(0), out.unbind(0)
        for k in range(steps):
            g = torch.addmm(gx_k[k], L, w_l)
            time_pre = g[:, 2 * units: 3 * units]
            torch.addcmul(g[:, 3 * units:], time_pre, ts_k[k], out=time_pre)
            s = torch.sigmoid(g[:, : 3 * units], out=sig_k[k])
            new = out_k[k]
            if no_gate:
                torch.addcmul(s[:, :units], s[:, 2 * units:], s[:, units: 2 * units] - 0.5, out=new)
            else:
                torch.lerp(s[:, :units], s[:, units: 2 * units], s[:, 2 * units:], out=new)
            if k < len(active):
                new.copy_(torch.where(active[k], new, L))
            L = new
        ctx.save_for_backward(L0, w_l, ts, sig, out)
        ctx.active = active
        ctx.no_gate = no_gate
        return out

    @staticmethod
    def backward(ctx: Any, d_out: Tensor) -> Tuple[Optional[Tensor], ...]:
        L0, w_l, ts, sig, out = ctx.saved_tensors
        steps, batch, units = out.shape
        s1, s2, t = sig[..., :units], sig[..., units: 2 * units], sig[..., 2 * units:]
        dsig = sig * (1.0 - sig)  # sigmoid derivative, all three blocks at once
        d1, d2, dt = dsig[..., :units], dsig[..., units: 2 * units], dsig[..., 2 * units:]
        # d g_k = dL_k * coef_k for the row blocks [2*ff1, 2*ff2, time_a, time_b]
        coef = sig.new_empty(steps, batch, 4, units)
        if ctx.no_gate:
            coef[:, :, 0].copy_(d1)
            torch.mul(t, d2, out=coef[:, :, 1])
            torch.mul(s2 - 0.5, dt, out=coef[:, :, 3])
        else:
            torch.mul(1.0 - t, d1, out=coef[:, :, 0])
            torch.mul(t, d2, out=coef[:, :, 1])
            torch.mul(s2 - s1, dt, out=coef[:, :, 3])
        torch.mul(coef[:, :, 3], ts, out=coef[:, :, 2])
        w_t = w_l.t().contiguous()
        d_out = d_out.contiguous()
        active = ctx.active
        compiled = kernels.load_kernels() if coef.device.type == "cpu" else None
        if compiled is not None:
            d_g, carry = compiled.cfc_backward_loop(d_out, coef, w_t, active)
            return CfCRecurrence._weight_grads(L0, out, d_g, carry)
        d_g = torch.empty_like(coef)
        carry = d_out[steps - 1]
        d_out_k, coef_k, d_g_k = d_out.unbind(0), coef.unbind(0), d_g.unbind(0)
        d_g_flat_k = d_g.view(steps, batch, 4 * units).unbind(0)
        for k in range(steps - 1, -1, -1):
            dL = carry
            through: Optional[Tensor] = None
            if k < len(active):
                through = torch.where(active[k], torch.zeros_like(dL), dL)
                dL = torch.where(active[k], dL, torch.zeros_like(dL))
            torch.mul(dL.unsqueeze(1), coef_k[k], out=d_g_k[k])
            if k > 0:
                carry = torch.addmm(d_out_k[k - 1], d_g_flat_k[k], w_t)
            else:
                carry = torch.mm(d_g_flat_k[k], w_t)
            if through is not None:
                carry = carry + through
        return CfCRecurrence._weight_grads(L0, out, d_g, carry)

    @staticmethod
    def _weight_grads(L0: Tensor, out: Tensor, d_g: Tensor, d_L0: Tensor) -> Tuple[Optional[Tensor], ...]:
        steps, batch, units = out.shape
        d_g = d_g.view(steps, batch, 4 * units)
        L_prev = torch.cat([L0.unsqueeze(0), out[:-1]], 0).view(-1, units)
        d_w = L_prev.t() @ d_g.view(-1, 4 * units)
        return d_g, d_L0, d_w, None, None, None


class LTCRecurrence(torch.autograd.Function):
    """LTC fused semi-implicit Euler steps over existing synapses only (time-major).

    Per solver iteration: ``act = sigmoid(v @ gather_sigma + neg_sigma_mu)`` (``gather_sigma`` is
    the ``(U, N)`` one-hot of each synapse's source scaled by its sigma), ``[num, den] =
    offset_t + act @ sum_matrix`` and ``v = (num + cm_t * v) / den``.
    ``offset`` is ``(T, B, 2U)``, ``cm_t`` is ``(T, B, U)``, ``sum_matrix`` is ``(N, 2U)``.
    Returns the states ``(T, B, U)`` at the end of each step.
    """

    @staticmethod
    def forward(ctx: Any, offset: Tensor, cm_t: Tensor, v0: Tensor, sum_matrix: Tensor, gather_sigma: Tensor,
                neg_sigma_mu: Tensor, unfolds: int) -> Tensor:
        steps, batch, units = cm_t.shape
        n_syn = neg_sigma_mu.shape[0]
        total = steps * unfolds
        acts = offset.new_empty(total, batch, n_syn)
        nds = offset.new_empty(total, batch, 2 * units)
        vs = offset.new_empty(total + 1, batch, units)
        vs[0] = v0
        # views made once: indexing inside the loop costs a dispatcher call per view per iteration
        act_q, nd_q, v_q = acts.unbind(0), nds.unbind(0), vs.unbind(0)
        num_q, den_q = nds[..., :units].unbind(0), nds[..., units:].unbind(0)
        off_t, cm_steps = offset.unbind(0), cm_t.unbind(0)
        q = 0
        for t in range(steps):
            for _ in range(unfolds):
                torch.sigmoid(torch.addmm(neg_sigma_mu, v_q[q], gather_sigma), out=act_q[q])
                torch.addmm(off_t[t], act_q[q], sum_matrix, out=nd_q[q])
                torch.addcmul(num_q[q], cm_steps[t], v_q[q], out=v_q[q + 1]).div_(den_q[q])
                q += 1
        ctx.save_for_backward(cm_t, sum_matrix, gather_sigma, acts, nds, vs)
        ctx.unfolds = unfolds
        return vs[unfolds::unfolds].clone()

    @staticmethod
    def backward(ctx: Any, d_out: Tensor) -> Tuple[Optional[Tensor], ...]:
        cm_t, sum_matrix, gather_sigma, acts, nds, vs = ctx.saved_tensors
        unfolds = ctx.unfolds
        steps, batch, units = cm_t.shape
        total = steps * unfolds
        inv_den = 1.0 / nds[..., units:]
        v_prev = vs[:-1]
        # per unit of dv: d num = inv_den, d den = -v_new * inv_den
        factor = torch.stack([inv_den, -vs[1:] * inv_den], 2)  # (Q, B, 2, U)
        carry_factor = inv_den * cm_t.repeat_interleave(unfolds, dim=0)
        act_factor = acts * (1 - acts)
        d_nd = torch.empty_like(factor)
        d_pre = torch.empty_like(acts)
        sum_t = sum_matrix.t().contiguous()
        scatter = gather_sigma.t().contiguous()
        d_out = d_out.contiguous()
        carry = torch.zeros_like(d_out[0])
        d_nd_q, d_nd_flat_q, d_pre_q = d_nd.unbind(0), d_nd.view(total, batch, 2 * units).unbind(0), d_pre.unbind(0)
        factor_q, carry_q, act_q, d_out_t = factor.unbind(0), carry_factor.unbind(0), act_factor.unbind(0), d_out.unbind(0)
        for q in range(total - 1, -1, -1):
            if (q + 1) % unfolds == 0:
                carry = carry + d_out_t[q // unfolds]
            torch.mul(carry.unsqueeze(1), factor_q[q], out=d_nd_q[q])
            torch.mul(torch.mm(d_nd_flat_q[q], sum_t), act_q[q], out=d_pre_q[q])
            carry = torch.addmm(carry * carry_q[q], d_pre_q[q], scatter)
        d_nd_flat = d_nd.view(total, batch, 2 * units)
        d_offset = d_nd_flat.view(steps, unfolds, batch, 2 * units).sum(1)
        d_cm = (d_nd[:, :, 0] * v_prev).view(steps, unfolds, batch, units).sum(1)
        d_sum = acts.view(-1, acts.shape[-1]).t() @ d_nd_flat.view(-1, 2 * units)
        d_gather_sigma = v_prev.reshape(-1, units).t() @ d_pre.view(-1, d_pre.shape[-1])
        d_neg_sigma_mu = d_pre.sum((0, 1))
        return d_offset, d_cm, carry, d_sum, d_gather_sigma, d_neg_sigma_mu, None
