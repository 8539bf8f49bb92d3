"""CfC and LTC behaviour: calling convention, timespans, stepping, hand-written gradients, bad input."""

from __future__ import annotations

import contextlib
import os
import shutil

import pytest
import torch

from navlnn.liquid import LTC, NCP, AutoNCP, CfC, FullyConnected, wiring_from_dict
from navlnn.liquid import kernels
from navlnn.liquid.recurrences import CfCRecurrence, LTCRecurrence


def _models():
    return [
        CfC(6, AutoNCP(20, 4, seed=1)),
        CfC(6, AutoNCP(20, 4, seed=1), mode="no_gate"),
        CfC(6, AutoNCP(20, 4, seed=1), mode="pure"),
        CfC(6, NCP(5, 4, 2, 3, 2, 3, 2), mixed_memory=True),
        CfC(6, 12),
        CfC(6, 12, backbone_layers=0),
        CfC(6, 12, mixed_memory=True, proj_size=3),
        LTC(6, AutoNCP(20, 4, seed=2)),
        LTC(6, 9, mixed_memory=True),
    ]


MODELS = _models()

KERNELS_BUILT = kernels.load_kernels() is not None
NOT_BUILT = ("compiled kernels NOT BUILT (no C++ compiler or ninja, or NAVLNN_NO_EXTENSION set): "
             "the compiled path is untested here")
needs_kernels = pytest.mark.skipif(not KERNELS_BUILT, reason=NOT_BUILT)
COMPILED = pytest.param(True, id="compiled", marks=needs_kernels)
PYTORCH = pytest.param(False, id="pytorch")
IDS = [f"{type(m).__name__}-{i}" for i, m in enumerate(MODELS)]


@pytest.fixture(params=range(len(MODELS)), ids=IDS)
def model(request):
    torch.manual_seed(request.param)
    return _models()[request.param].double()


def test_output_and_state_shapes(model):
    x = torch.randn(3, 5, 6, dtype=torch.float64)
    y, h = model(x)
    assert y.shape == (3, 5, model.output_size)
    assert h.shape == (3, model.state_size)
    model.return_sequences = False
    y_last, _ = model(x)
    torch.testing.assert_close(y_last, y[:, -1])


def test_unbatched_input_equals_batch_of_one(model):
    x = torch.randn(5, 6, dtype=torch.float64)
    y, h = model(x)
    yb, hb = model(x.unsqueeze(0))
    torch.testing.assert_close(y, yb[0])
    torch.testing.assert_close(h, hb[0])


def test_timespan_shapes_are_equivalent_and_matter(model):
    x = torch.randn(4, 6, 6, dtype=torch.float64)
    ts = 0.1 + torch.rand(4, 6, dtype=torch.float64)
    y2, _ = model(x, timespans=ts)
    y3, _ = model(x, timespans=ts.unsqueeze(-1))
    torch.testing.assert_close(y2, y3)
    y1, _ = model(x)
    assert (y1 - y2).abs().max() > 1e-6  # elapsed time changes the dynamics


def test_batch_rows_are_independent_with_timespans(model):
    x = torch.randn(4, 6, 6, dtype=torch.float64)
    ts = 0.1 + torch.rand(4, 6, dtype=torch.float64)
    y, h = model(x, timespans=ts)
    for b in range(4):
        yb, hb = model(x[b: b + 1], timespans=ts[b: b + 1])
        torch.testing.assert_close(y[b: b + 1], yb, atol=1e-12, rtol=0)
        torch.testing.assert_close(h[b: b + 1], hb, atol=1e-12, rtol=0)


@pytest.mark.parametrize("compiled", [COMPILED, PYTORCH])
def test_stepping_equals_sequence(model, compiled):
    x = torch.randn(2, 7, 6, dtype=torch.float64)
    ts = 0.1 + torch.rand(2, 7, dtype=torch.float64)
    with contextlib.nullcontext() if compiled else kernels.disabled():
        y_seq, h_seq = model(x, timespans=ts)
    for grad in (False, True):
        h = None
        with torch.set_grad_enabled(grad), contextlib.nullcontext() if compiled else kernels.disabled():
            outputs = []
            for t in range(7):
                y, h = model.step(x[:, t], h, ts[:, t])
                outputs.append(y)
        torch.testing.assert_close(torch.stack(outputs, 1), y_seq, atol=1e-12, rtol=0)
        torch.testing.assert_close(h, h_seq, atol=1e-12, rtol=0)


def test_step_cache_follows_weight_updates(model):
    x = torch.randn(1, 6, dtype=torch.float64)
    with torch.no_grad():
        before, _ = model.step(x)
        for p in model.parameters():
            p.add_(0.05)
        after, _ = model.step(x)
        model.fused = False
        reference, _ = model.step(x)
    assert (before - after).abs().max() > 1e-6
    torch.testing.assert_close(after, reference, atol=1e-12, rtol=0)


@pytest.mark.parametrize("compiled", [COMPILED, PYTORCH])
def test_hand_written_gradients_equal_autograd(model, compiled):
    """An eager path (compiled kernels, or hand-written PyTorch recurrences) against the same
    module run with plain autograd ops (fused=False)."""
    x = torch.randn(3, 6, 6, dtype=torch.float64)
    ts = 0.1 + torch.rand(3, 6, dtype=torch.float64)
    h0 = 0.3 * torch.randn(3, model.state_size, dtype=torch.float64)
    grads = []
    for fused, compiled in ((False, False), (True, compiled)):
        model.fused = fused
        model.zero_grad()
        xg, hg = x.clone().requires_grad_(True), h0.clone().requires_grad_(True)
        with contextlib.nullcontext() if compiled else kernels.disabled():
            y, h = model(xg, hg, ts)
            ((y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)).sum() + h.square().sum()).backward()
        grads.append([y.detach(), xg.grad, hg.grad] + [p.grad.clone() for p in model.parameters()])
    for other in grads[1:]:
        for a, b in zip(grads[0], other):
            torch.testing.assert_close(b, a, atol=1e-10, rtol=1e-9)


@pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None, reason="no C++ compiler")
@pytest.mark.skipif(os.environ.get("NAVLNN_NO_EXTENSION", "") not in ("", "0"), reason="NAVLNN_NO_EXTENSION is set")
def test_compiled_kernels_build():
    assert kernels.load_kernels() is not None


@pytest.mark.parametrize("compiled", [PYTORCH, COMPILED])
def test_cfc_recurrence_gradcheck(compiled):
    torch.manual_seed(0)
    k, b, u = 4, 2, 5
    active = [torch.tensor([True, True, False, False, False])]
    for no_gate in (False, True):
        inputs = (
            torch.randn(k, b, 4 * u, dtype=torch.float64, requires_grad=True),
            torch.randn(b, u, dtype=torch.float64, requires_grad=True),
            0.5 * torch.randn(u, 4 * u, dtype=torch.float64, requires_grad=True),
            torch.rand(k, b, u, dtype=torch.float64) + 0.5,
        )
        with contextlib.nullcontext() if compiled else kernels.disabled():
            assert torch.autograd.gradcheck(lambda g, h, w, t: CfCRecurrence.apply(g, h, w, t, active, no_gate),
                                            inputs)


def test_ltc_python_recurrence_gradcheck():
    torch.manual_seed(0)
    t, b, u, n = 2, 2, 4, 6
    src = torch.randint(0, u, (n,))
    gather = torch.zeros(u, n, dtype=torch.float64)
    gather[src, torch.arange(n)] = 1.0
    offset = torch.rand(t, b, 2 * u, dtype=torch.float64)
    offset[..., u:] += 1.0  # positive denominators, as softplus-constrained parameters give
    inputs = (
        offset.requires_grad_(True),
        (torch.rand(t, b, u, dtype=torch.float64) + 0.5).requires_grad_(True),
        torch.randn(b, u, dtype=torch.float64, requires_grad=True),
        torch.rand(n, 2 * u, dtype=torch.float64, requires_grad=True),
        (gather * (3 + torch.rand(n, dtype=torch.float64))).requires_grad_(True),
        torch.randn(n, dtype=torch.float64, requires_grad=True),
    )
    assert torch.autograd.gradcheck(lambda *a: LTCRecurrence.apply(*a, 3), inputs)


@needs_kernels
def test_compiled_ltc_gradcheck():
    torch.manual_seed(0)
    t, b, u, n_in, n, m = 2, 2, 4, 3, 6, 5
    f64 = dict(dtype=torch.float64)
    offset = torch.rand(t, b, 2 * u, **f64)
    offset[..., u:] += 1.0
    inputs = [
        offset,
        torch.rand(t, b, u, **f64) + 0.5,  # cm_t
        torch.randn(b, u, **f64),  # v0
        torch.randn(t, b, n_in, **f64),  # mapped inputs
        torch.randn(m, **f64), torch.rand(m, **f64), 3 + torch.rand(m, **f64), torch.rand(m, **f64),  # sensory
        torch.randn(n, **f64), torch.rand(n, **f64), 3 + torch.rand(n, **f64), torch.randn(n, **f64),  # internal
    ]
    inputs = [i.requires_grad_(True) for i in inputs]
    s_src, s_dst = torch.randint(0, n_in, (m,)), torch.randint(0, u, (m,))
    src, dst = torch.randint(0, u, (n,)), torch.randint(0, u, (n,))
    assert torch.autograd.gradcheck(lambda *a: kernels.LTCKernel.apply(*a, s_src, s_dst, src, dst, 3), inputs)


def test_float32_and_float64_agree():
    torch.manual_seed(0)
    model = CfC(6, AutoNCP(20, 4))
    x = torch.randn(2, 10, 6)
    y32, _ = model(x)
    y64, _ = model.double()(x.double())
    torch.testing.assert_close(y32.double(), y64, atol=1e-5, rtol=0)


def test_ltc_explicit_constraints_clip():
    model = LTC(4, 6, implicit_param_constraints=False)
    cell = model.rnn_cell  # the parameters are the cell's, as in ncps
    with torch.no_grad():
        cell.w.fill_(-1.0)
        cell.cm.fill_(-0.5)
    model.apply_weight_constraints()
    assert cell.w.min() >= 0 and cell.cm.min() >= 0


# ---------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("make", [lambda: CfC(6, AutoNCP(20, 4)), lambda: LTC(6, AutoNCP(20, 4))])
def test_wrong_shapes_raise_value_errors(make):
    model = make()
    with pytest.raises(ValueError, match=r"x: .*6 input features"):
        model(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match=r"x: expected"):
        model(torch.randn(2, 3, 4, 6))
    with pytest.raises(ValueError, match=r"h0: expected a state of shape \[2, 20\]"):
        model(torch.randn(2, 3, 6), torch.zeros(2, 19))
    with pytest.raises(ValueError, match=r"timespans: expected shape \[2, 3\]"):
        model(torch.randn(2, 3, 6), timespans=torch.ones(3, 2))
    with pytest.raises(ValueError, match=r"\[1, 20\]"):
        model.step(torch.randn(1, 6), torch.zeros(1, 21))


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: CfC(6, 8, mode="fast"), "mode"),
        (lambda: CfC(6, AutoNCP(20, 4), backbone_units=32), "backbone_units"),
        (lambda: CfC(0, 8), "input_size"),
        (lambda: CfC(6, 8, activation="swish"), "activation"),
        (lambda: LTC(6, 8, input_mapping="affin"), "input_mapping"),
        (lambda: LTC(6, 8, ode_unfolds=0), "ode_unfolds"),
        (lambda: LTC(6, "8"), "units"),
    ],
)
def test_bad_constructor_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("cls", [CfC, LTC])
def test_state_dict_of_another_wiring_is_refused_clearly(cls, tmp_path):
    a, b = cls(6, AutoNCP(20, 4, seed=1)), cls(6, AutoNCP(20, 4, seed=2))
    path = tmp_path / "m.pt"
    torch.save({"state_dict": a.state_dict(), "wiring": a.wiring.to_dict()}, path)
    checkpoint = torch.load(path, weights_only=True)
    with pytest.raises(ValueError, match="different wiring"):
        b.load_state_dict(checkpoint["state_dict"])
    rebuilt = cls(6, wiring_from_dict(checkpoint["wiring"]))
    rebuilt.load_state_dict(checkpoint["state_dict"])
    x = torch.randn(1, 4, 6)
    torch.testing.assert_close(rebuilt(x)[0], a(x)[0])


def test_dense_ltc_uses_fully_connected_wiring():
    model = LTC(3, 7)
    assert isinstance(model.wiring, FullyConnected) and model.output_size == 7


@needs_kernels
def test_compiled_ltc_splits_batch_over_threads_exactly():
    torch.manual_seed(0)
    model = LTC(6, AutoNCP(20, 4, seed=2)).double()
    x = torch.randn(5, 4, 6, dtype=torch.float64)
    results = []
    threads = torch.get_num_threads()
    try:
        for n in (1, 2, 3):
            torch.set_num_threads(n)
            model.zero_grad()
            xg = x.clone().requires_grad_(True)
            y, h = model(xg)
            (y.sum() + h.square().sum()).backward()
            results.append([y.detach(), xg.grad] + [p.grad.clone() for p in model.parameters()])
    finally:
        torch.set_num_threads(threads)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            torch.testing.assert_close(b, a, atol=1e-12, rtol=1e-12)


def test_effective_parameter_count_excludes_absent_synapses():
    wiring = AutoNCP(20, 4, seed=0)
    wired_cfc = CfC(6, wiring)
    masked_out = int((wired_cfc.rnn_cell.mask == 0).sum())
    assert masked_out > 0
    assert wired_cfc.effective_parameter_count() == sum(p.numel() for p in wired_cfc.parameters()) - masked_out
    ltc = LTC(6, AutoNCP(20, 4, seed=0))
    synapses = ltc.wiring.synapse_count + ltc.wiring.sensory_synapse_count
    # 3 per-neuron params, 4 per synapse, input and output affine maps
    assert ltc.effective_parameter_count() == 3 * 20 + 4 * synapses + 2 * 6 + 2 * 4


def test_extension_name_is_one_per_source_location():
    from pathlib import Path

    a, b = Path("/one/checkout/liquid_kernels.cpp"), Path("/another/checkout/liquid_kernels.cpp")
    assert kernels.extension_name(a) == kernels.extension_name(a) != kernels.extension_name(b)
    assert kernels.extension_name(a).isidentifier()  # it becomes the C++ module's name


def test_a_build_lock_left_by_a_killed_build_is_removed_and_a_fresh_one_kept(tmp_path, monkeypatch):
    """torch waits forever on a lock a killed build left; navlnn removes one older than any build."""
    import time

    monkeypatch.setenv("TORCH_EXTENSIONS_DIR", str(tmp_path))
    lock = tmp_path / "some_ext" / "lock"        # where torch builds with TORCH_EXTENSIONS_DIR set
    lock.parent.mkdir(parents=True)
    lock.touch()
    assert not kernels._remove_stale_lock("some_ext") and lock.exists()    # a build in progress
    old = time.time() - kernels.STALE_LOCK_SECONDS - 60
    os.utime(lock, (old, old))
    with pytest.warns(RuntimeWarning, match="stale build lock"):
        assert kernels._remove_stale_lock("some_ext")
    assert not lock.exists() and not kernels._remove_stale_lock("some_ext")
