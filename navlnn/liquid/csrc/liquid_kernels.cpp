// Compiled parts of navlnn's liquid core. First, the LTC recurrence on CPU: the semi-implicit Euler unfolds of Hasani et al.'s liquid time-constant
// cell over the synapses that exist, sensory synapses included, forward and backward, one sample
// per loop iteration. Python side: navlnn/liquid/kernels.py (build, dispatch, autograd Function).
// Layouts are time-major and contiguous: offset (T, B, 2U) holds the state- and input-independent
// terms [gleak * vleak, cm_t + gleak + eps], cm (T, B, U), x (T, B, I) the mapped inputs,
// acts (Q, B, N), den (Q, B, U), vs (Q + 1, B, U) with Q = T * unfolds.
#include <torch/extension.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <thread>
#include <vector>

namespace {

// Samples are independent: split the batch over torch's intra-op thread count (1 thread: inline).
int64_t num_chunks(int64_t B) { return std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), B)); }

template <typename F>
void for_batch_chunks(int64_t B, int64_t chunks, const F& f) {  // f(chunk, b_begin, b_end)
  if (chunks == 1) {
    f(0, 0, B);
    return;
  }
  const int64_t per = (B + chunks - 1) / chunks;
  std::vector<std::thread> pool;
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t b0 = c * per, b1 = std::min(B, b0 + per);
    if (b0 < b1) pool.emplace_back([&f, c, b0, b1] { f(c, b0, b1); });
  }
  for (auto& t : pool) t.join();
}

template <typename scalar_t>
inline scalar_t sigmoid(scalar_t z) {
  return scalar_t(1) / (scalar_t(1) + std::exp(-z));
}

// Sensory synapse m: input s_src[m] -> neuron s_dst[m]; adds its numerator and denominator terms.
template <typename scalar_t>
void add_sensory(const scalar_t* x, const int64_t* s_src, const int64_t* s_dst, const scalar_t* s_we,
                 const scalar_t* s_w, const scalar_t* s_sigma, const scalar_t* s_mu, int64_t M, scalar_t* num,
                 scalar_t* den) {
  for (int64_t m = 0; m < M; ++m) {
    const scalar_t a = sigmoid(s_sigma[m] * (x[s_src[m]] - s_mu[m]));
    num[s_dst[m]] += a * s_we[m];
    den[s_dst[m]] += a * s_w[m];
  }
}

template <typename scalar_t>
void forward_kernel(const scalar_t* offset, const scalar_t* cm, const scalar_t* v0, const scalar_t* x,
                    const int64_t* s_src, const int64_t* s_dst, const scalar_t* s_we, const scalar_t* s_w,
                    const scalar_t* s_sigma, const scalar_t* s_mu, int64_t I, int64_t M, const int64_t* src,
                    const int64_t* dst, const scalar_t* we, const scalar_t* w, const scalar_t* sigma,
                    const scalar_t* nsm, scalar_t* acts, scalar_t* den_out, scalar_t* vs, scalar_t* out,
                    int64_t T, int64_t B, int64_t U, int64_t N, int64_t unfolds, int64_t b0, int64_t b1) {
  std::vector<scalar_t> num(U), den(U), off(2 * U);
  for (int64_t b = b0; b < b1; ++b) {
    for (int64_t j = 0; j < U; ++j) vs[b * U + j] = v0[b * U + j];
    int64_t q = 0;
    for (int64_t t = 0; t < T; ++t) {
      const scalar_t* base_tb = offset + (t * B + b) * 2 * U;
      for (int64_t j = 0; j < 2 * U; ++j) off[j] = base_tb[j];
      add_sensory(x + (t * B + b) * I, s_src, s_dst, s_we, s_w, s_sigma, s_mu, M, off.data(), off.data() + U);
      const scalar_t* cm_tb = cm + (t * B + b) * U;
      for (int64_t k = 0; k < unfolds; ++k, ++q) {
        const scalar_t* v = vs + (q * B + b) * U;
        scalar_t* act = acts + (q * B + b) * N;
        for (int64_t j = 0; j < U; ++j) {
          num[j] = off[j];
          den[j] = off[U + j];
        }
        for (int64_t n = 0; n < N; ++n) {
          const scalar_t a = sigmoid(sigma[n] * v[src[n]] + nsm[n]);
          act[n] = a;
          num[dst[n]] += a * we[n];
          den[dst[n]] += a * w[n];
        }
        scalar_t* v_new = vs + ((q + 1) * B + b) * U;
        scalar_t* den_q = den_out + (q * B + b) * U;
        for (int64_t j = 0; j < U; ++j) {
          v_new[j] = (num[j] + cm_tb[j] * v[j]) / den[j];
          den_q[j] = den[j];
        }
      }
      const scalar_t* v_last = vs + (q * B + b) * U;
      for (int64_t j = 0; j < U; ++j) out[(t * B + b) * U + j] = v_last[j];
    }
  }
}

template <typename scalar_t>
void backward_kernel(const scalar_t* d_out, const scalar_t* cm, const scalar_t* x, const int64_t* s_src,
                     const int64_t* s_dst, const scalar_t* s_we, const scalar_t* s_w, const scalar_t* s_sigma,
                     const scalar_t* s_mu, int64_t I, int64_t M, scalar_t* d_x,
                     scalar_t* d_sens,  // (4, M): s_we, s_w, s_sigma, s_mu
                     const int64_t* src, const int64_t* dst,
                     const scalar_t* we, const scalar_t* w, const scalar_t* sigma, const scalar_t* acts,
                     const scalar_t* den, const scalar_t* vs, scalar_t* d_offset, scalar_t* d_cm, scalar_t* d_v0,
                     scalar_t* d_syn,  // (4, N): we, w, sigma, nsm
                     int64_t T, int64_t B, int64_t U, int64_t N, int64_t unfolds, int64_t b0, int64_t b1) {
  std::vector<scalar_t> carry(U), next(U), dnum(U), dden(U);
  scalar_t* d_we = d_syn;
  scalar_t* d_w = d_syn + N;
  scalar_t* d_sigma = d_syn + 2 * N;
  scalar_t* d_nsm = d_syn + 3 * N;
  for (int64_t b = b0; b < b1; ++b) {
    for (int64_t j = 0; j < U; ++j) carry[j] = 0;
    for (int64_t t = T - 1; t >= 0; --t) {
      const scalar_t* d_out_tb = d_out + (t * B + b) * U;
      for (int64_t j = 0; j < U; ++j) carry[j] += d_out_tb[j];
      const scalar_t* cm_tb = cm + (t * B + b) * U;
      scalar_t* d_off_tb = d_offset + (t * B + b) * 2 * U;
      scalar_t* d_cm_tb = d_cm + (t * B + b) * U;
      for (int64_t k = unfolds - 1; k >= 0; --k) {
        const int64_t q = t * unfolds + k;
        const scalar_t* v_prev = vs + (q * B + b) * U;
        const scalar_t* v_new = vs + ((q + 1) * B + b) * U;
        const scalar_t* den_q = den + (q * B + b) * U;
        const scalar_t* act = acts + (q * B + b) * N;
        for (int64_t j = 0; j < U; ++j) {
          const scalar_t inv = scalar_t(1) / den_q[j];
          dnum[j] = carry[j] * inv;
          dden[j] = -carry[j] * v_new[j] * inv;
          d_off_tb[j] += dnum[j];
          d_off_tb[U + j] += dden[j];
          d_cm_tb[j] += dnum[j] * v_prev[j];
          next[j] = dnum[j] * cm_tb[j];
        }
        for (int64_t n = 0; n < N; ++n) {
          const scalar_t a = act[n];
          const scalar_t gn = dnum[dst[n]], gd = dden[dst[n]];
          d_we[n] += a * gn;
          d_w[n] += a * gd;
          const scalar_t d_pre = (gn * we[n] + gd * w[n]) * a * (scalar_t(1) - a);
          d_sigma[n] += d_pre * v_prev[src[n]];
          d_nsm[n] += d_pre;
          next[src[n]] += d_pre * sigma[n];
        }
        carry.swap(next);
      }
      // sensory synapses of step t, recomputed: their terms entered this step's offset
      const scalar_t* x_tb = x + (t * B + b) * I;
      scalar_t* d_x_tb = d_x + (t * B + b) * I;
      for (int64_t m = 0; m < M; ++m) {
        const scalar_t diff = x_tb[s_src[m]] - s_mu[m];
        const scalar_t a = sigmoid(s_sigma[m] * diff);
        const scalar_t gn = d_off_tb[s_dst[m]], gd = d_off_tb[U + s_dst[m]];
        d_sens[m] += a * gn;
        d_sens[M + m] += a * gd;
        const scalar_t d_pre = (gn * s_we[m] + gd * s_w[m]) * a * (scalar_t(1) - a);
        d_sens[2 * M + m] += d_pre * diff;
        d_sens[3 * M + m] -= d_pre * s_sigma[m];
        d_x_tb[s_src[m]] += d_pre * s_sigma[m];
      }
    }
    for (int64_t j = 0; j < U; ++j) d_v0[b * U + j] = carry[j];
  }
}

}  // namespace

std::vector<at::Tensor> ltc_forward(at::Tensor offset, at::Tensor cm, at::Tensor v0, at::Tensor x, at::Tensor s_src,
                                    at::Tensor s_dst, at::Tensor s_we, at::Tensor s_w, at::Tensor s_sigma,
                                    at::Tensor s_mu, at::Tensor src, at::Tensor dst, at::Tensor we, at::Tensor w,
                                    at::Tensor sigma, at::Tensor nsm, int64_t unfolds) {
  const int64_t T = cm.size(0), B = cm.size(1), U = cm.size(2), N = src.size(0), Q = T * unfolds;
  const int64_t I = x.size(2), M = s_src.size(0);
  auto opts = offset.options();
  auto acts = at::empty({Q, B, N}, opts);
  auto den = at::empty({Q, B, U}, opts);
  auto vs = at::empty({Q + 1, B, U}, opts);
  auto out = at::empty({T, B, U}, opts);
  const int64_t chunks = num_chunks(B);
  AT_DISPATCH_FLOATING_TYPES(offset.scalar_type(), "ltc_forward", [&] {
    for_batch_chunks(B, chunks, [&](int64_t, int64_t b0, int64_t b1) {
    forward_kernel<scalar_t>(offset.data_ptr<scalar_t>(), cm.data_ptr<scalar_t>(), v0.data_ptr<scalar_t>(),
                             x.data_ptr<scalar_t>(), s_src.data_ptr<int64_t>(), s_dst.data_ptr<int64_t>(),
                             s_we.data_ptr<scalar_t>(), s_w.data_ptr<scalar_t>(), s_sigma.data_ptr<scalar_t>(),
                             s_mu.data_ptr<scalar_t>(), I, M, src.data_ptr<int64_t>(), dst.data_ptr<int64_t>(), we.data_ptr<scalar_t>(),
                             w.data_ptr<scalar_t>(), sigma.data_ptr<scalar_t>(), nsm.data_ptr<scalar_t>(),
                             acts.data_ptr<scalar_t>(), den.data_ptr<scalar_t>(), vs.data_ptr<scalar_t>(),
                             out.data_ptr<scalar_t>(), T, B, U, N, unfolds, b0, b1);
    });
  });
  return {out, acts, den, vs};
}

std::vector<at::Tensor> ltc_backward(at::Tensor d_out, at::Tensor cm, at::Tensor x, at::Tensor s_src,
                                     at::Tensor s_dst, at::Tensor s_we, at::Tensor s_w, at::Tensor s_sigma,
                                     at::Tensor s_mu, at::Tensor src, at::Tensor dst, at::Tensor we, at::Tensor w,
                                     at::Tensor sigma, at::Tensor acts, at::Tensor den, at::Tensor vs,
                                     int64_t unfolds) {
  const int64_t T = cm.size(0), B = cm.size(1), U = cm.size(2), N = src.size(0);
  const int64_t I = x.size(2), M = s_src.size(0);
  auto opts = cm.options();
  auto d_x = at::zeros({T, B, I}, opts);
  const int64_t chunks = num_chunks(B);
  auto d_sens = at::zeros({chunks, 4, M}, opts);  // per-chunk partial sums, reduced below
  auto d_offset = at::zeros({T, B, 2 * U}, opts);
  auto d_cm = at::zeros({T, B, U}, opts);
  auto d_v0 = at::empty({B, U}, opts);
  auto d_syn = at::zeros({chunks, 4, N}, opts);
  AT_DISPATCH_FLOATING_TYPES(cm.scalar_type(), "ltc_backward", [&] {
    for_batch_chunks(B, chunks, [&](int64_t c, int64_t b0, int64_t b1) {
    backward_kernel<scalar_t>(d_out.data_ptr<scalar_t>(), cm.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(),
                              s_src.data_ptr<int64_t>(), s_dst.data_ptr<int64_t>(), s_we.data_ptr<scalar_t>(),
                              s_w.data_ptr<scalar_t>(), s_sigma.data_ptr<scalar_t>(), s_mu.data_ptr<scalar_t>(), I, M,
                              d_x.data_ptr<scalar_t>(), d_sens.data_ptr<scalar_t>() + c * 4 * M, src.data_ptr<int64_t>(),
                              dst.data_ptr<int64_t>(), we.data_ptr<scalar_t>(), w.data_ptr<scalar_t>(),
                              sigma.data_ptr<scalar_t>(), acts.data_ptr<scalar_t>(), den.data_ptr<scalar_t>(),
                              vs.data_ptr<scalar_t>(), d_offset.data_ptr<scalar_t>(), d_cm.data_ptr<scalar_t>(),
                              d_v0.data_ptr<scalar_t>(), d_syn.data_ptr<scalar_t>() + c * 4 * N, T, B, U, N, unfolds,
                              b0, b1);
    });
  });
  return {d_offset, d_cm, d_v0, d_syn.sum(0), d_x, d_sens.sum(0)};
}

// CfC recurrence loops (see navlnn/liquid/recurrences.py, CfCRecurrence): the same ATen operations as
// the Python loop, issued from C++ so that each costs a kernel launch, not an interpreter round trip.
std::vector<at::Tensor> cfc_forward_loop(at::Tensor gx, at::Tensor L0, at::Tensor w_l, at::Tensor ts,
                                         std::vector<at::Tensor> active, bool no_gate) {
  const int64_t K = gx.size(0), B = gx.size(1), U = gx.size(2) / 4;
  auto sig = at::empty({K, B, 3 * U}, gx.options());
  auto out = at::empty({K, B, U}, gx.options());
  at::Tensor L = L0;
  for (int64_t k = 0; k < K; ++k) {
    at::Tensor g = at::addmm(gx[k], L, w_l);
    at::Tensor time_pre = g.narrow(1, 2 * U, U);
    at::addcmul_out(time_pre, g.narrow(1, 3 * U, U), time_pre, ts[k]);
    at::Tensor s = sig[k];
    at::sigmoid_out(s, g.narrow(1, 0, 3 * U));
    at::Tensor next = out[k];
    if (no_gate) {
      at::addcmul_out(next, s.narrow(1, 0, U), s.narrow(1, 2 * U, U), s.narrow(1, U, U) - 0.5);
    } else {
      at::lerp_out(next, s.narrow(1, 0, U), s.narrow(1, U, U), s.narrow(1, 2 * U, U));
    }
    if (k < static_cast<int64_t>(active.size())) next.copy_(at::where(active[k], next, L));
    L = next;
  }
  return {out, sig};
}

std::vector<at::Tensor> cfc_backward_loop(at::Tensor d_out, at::Tensor coef, at::Tensor w_t,
                                          std::vector<at::Tensor> active) {
  const int64_t K = coef.size(0), B = coef.size(1), U = coef.size(3);
  auto d_g = at::empty_like(coef);
  at::Tensor carry = d_out[K - 1];
  for (int64_t k = K - 1; k >= 0; --k) {
    at::Tensor dL = carry;
    at::Tensor through;
    const bool warm = k < static_cast<int64_t>(active.size());
    if (warm) {
      through = at::where(active[k], at::zeros_like(dL), dL);
      dL = at::where(active[k], dL, at::zeros_like(dL));
    }
    at::Tensor d_gk = d_g[k];
    at::mul_out(d_gk, dL.unsqueeze(1), coef[k]);
    at::Tensor flat = d_gk.view({B, 4 * U});
    carry = k > 0 ? at::addmm(d_out[k - 1], flat, w_t) : at::mm(flat, w_t);
    if (warm) carry = carry + through;
  }
  return {d_g, carry};
}

// One closed-loop CfC step at inference (see CfC._step_inference): per layer, weights
// (W_in, W_h, b) with ff rows doubled and the previous layer's L folded in; returns h = 2 L - 1.
at::Tensor cfc_step(at::Tensor x, at::Tensor h, c10::optional<at::Tensor> ts, std::vector<at::Tensor> weights,
                    std::vector<int64_t> sizes) {
  at::Tensor state = at::empty_like(h);
  auto h_layers = h.split_with_sizes(sizes, 1);
  auto out_layers = state.split_with_sizes(sizes, 1);
  at::Tensor inp = x;
  for (size_t l = 0; l < sizes.size(); ++l) {
    const int64_t n = sizes[l];
    at::Tensor g = at::addmm(at::addmm(weights[3 * l + 2], inp, weights[3 * l]), h_layers[l], weights[3 * l + 1]);
    at::Tensor time_a = g.narrow(1, 2 * n, n);
    if (ts.has_value()) {
      at::addcmul_out(time_a, g.narrow(1, 3 * n, n), time_a, *ts);
    } else {
      time_a.add_(g.narrow(1, 3 * n, n));
    }
    at::Tensor s = at::sigmoid(g.narrow(1, 0, 3 * n));
    at::lerp_out(out_layers[l], s.narrow(1, 0, n), s.narrow(1, n, n), s.narrow(1, 2 * n, n));
    inp = out_layers[l];
  }
  return at::addcmul(weights[weights.size() - 1], state, weights[weights.size() - 2]);
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("cfc_step", &cfc_step, "CfC closed-loop step at inference (ATen from C++)");
  m.def("cfc_forward_loop", &cfc_forward_loop, "CfC recurrence forward loop (ATen from C++)");
  m.def("cfc_backward_loop", &cfc_backward_loop, "CfC recurrence backward loop (ATen from C++)");
  m.def("ltc_forward", &ltc_forward, "LTC recurrence forward (CPU)");
  m.def("ltc_backward", &ltc_backward, "LTC recurrence backward (CPU)");
}
