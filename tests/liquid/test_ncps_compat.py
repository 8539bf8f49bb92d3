"""navlnn.liquid as a drop-in for ncps: ncps's own torch test cases, run through navlnn's compatible API
and compared number for number with ncps, plus the rest of ncps's public torch and wirings API and
the exact float64 conversion of ``from_ncps``.

The cases of ncps 1.0.1's ``tests/test_torch.py`` are rebuilt here as data (``NCPS_CASES``); each is
built with ncps's arguments against navlnn (with ncps's wiring objects and with navlnn's own), its
shapes are checked as ncps checks them, and its outputs and states are compared with an ncps module
holding the same weights.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import navlnn.liquid as nn_lib
from navlnn.liquid import CfC, CfCCell, LTC, LTCCell, NCP, WiredCfCCell, Wiring, from_ncps

nt = pytest.importorskip("ncps.torch")
nw = pytest.importorskip("ncps.wirings")

TOL32 = 1e-5


def _close(a, b, tol=TOL32):
    torch.testing.assert_close(a, b, atol=tol, rtol=0)


def _wiring(lib, spec):
    """A wiring of ``lib`` (ncps.wirings or navlnn.liquid) from ``(kind, args)``; ``None`` for plain units."""
    if spec is None:
        return None
    kind, args = spec
    return getattr(lib, kind)(*args)


def _load_ncps_weights(ours, ref):
    """Give our compat-built module ncps's weights; the strict load also proves the same architecture
    and, for wired modules, the same circuit (the adjacency buffers must agree)."""
    ours.load_state_dict(from_ncps(ref).state_dict())
    return ours


# ncps 1.0.1 tests/test_torch.py, case by case: family, units (int or wiring spec), keyword
# arguments, input shape, expected output shape, expected state shape.
FULL = ("FullyConnected", (8, 4))
NCP_ARGS = ("NCP", (10, 10, 8, 6, 6, 4, 6))
NCPS_CASES = {
    "test_ncps": ("ltc_cell", FULL, {}, (3, 8), (3, 4), (3, 8)),
    "test_default": ("cfc", 32, {}, (5, 3, 8), (5, 3, 32), (5, 32)),
    "test_batch_first": ("cfc", 32, {"batch_first": False}, (5, 3, 8), (5, 3, 32), (3, 32)),
    "test_proj": ("cfc", 32, {"proj_size": 10}, (5, 3, 8), (5, 3, 10), (5, 32)),
    "test_unbatched_1": ("cfc", 32, {"batch_first": True}, (3, 8), (3, 32), (32,)),
    "test_unbatched_2": ("cfc", 32, {"batch_first": False}, (3, 8), (3, 32), (32,)),
    "test_ltc_1": ("ltc", 32, {"batch_first": True}, (5, 3, 8), (5, 3, 32), (5, 32)),
    "test_ltc_batch_first": ("ltc", 32, {"batch_first": False}, (5, 3, 8), (5, 3, 32), (3, 32)),
    "test_ncp_1": ("ltc", NCP_ARGS, {"batch_first": True}, (5, 3, 8), (5, 3, 8), (5, 28)),
    "test_auto_ncp_1": ("ltc", ("AutoNCP", (16, 4)), {"batch_first": True}, (5, 3, 8), (5, 3, 4), (5, 16)),
    "test_ncp_2": ("ltc", NCP_ARGS, {"batch_first": False}, (5, 3, 8), (5, 3, 8), (3, 28)),
    "test_ncp_cfc_1": ("cfc", NCP_ARGS, {"batch_first": True}, (5, 3, 8), (5, 3, 8), (5, 28)),
    "test_auto_ncp_cfc_1": ("cfc", ("AutoNCP", (28, 10)), {"batch_first": True}, (5, 3, 8), (5, 3, 10), (5, 28)),
    "test_ncp_cfc_2": ("cfc", NCP_ARGS, {"batch_first": False}, (5, 3, 8), (5, 3, 8), (3, 28)),
}


def _build(family, lib_torch, units, kwargs):
    if family == "ltc_cell":
        return lib_torch.LTCCell(units, 8, **kwargs)
    return getattr(lib_torch, family.upper() if family == "ltc" else "CfC")(8, units, **kwargs)


@pytest.mark.parametrize("wirings_from", ["ncps", "navlnn"])
@pytest.mark.parametrize("case", list(NCPS_CASES))
def test_ncps_test_case_runs_and_matches_ncps(case, wirings_from):
    family, units_spec, kwargs, x_shape, y_shape, h_shape = NCPS_CASES[case]
    lib = nw if wirings_from == "ncps" else nn_lib
    torch.manual_seed(0)
    wiring = _wiring(lib, units_spec) if isinstance(units_spec, tuple) else None
    ours = _build(family, nn_lib, units_spec if wiring is None else wiring, kwargs)
    ref_wiring = _wiring(nw, units_spec) if isinstance(units_spec, tuple) else None
    ref = _build(family, nt, units_spec if ref_wiring is None else ref_wiring, kwargs)

    if wiring is not None:  # the caller's wiring object is built in place, as ncps builds it
        assert wiring.synapse_count > 0 and wiring.sensory_synapse_count > 0
        assert ours.synapse_count == wiring.synapse_count
        assert ours.sensory_synapse_count == wiring.sensory_synapse_count
        np.testing.assert_array_equal(ours.wiring.adjacency_matrix, ref_wiring.adjacency_matrix)
        np.testing.assert_array_equal(ours.wiring.sensory_adjacency_matrix, ref_wiring.sensory_adjacency_matrix)

    x = torch.randn(*x_shape)
    args = (x, torch.zeros(x_shape[0], wiring.units)) if family == "ltc_cell" else (x,)
    y, h = ours(*args)
    assert y.size() == y_shape
    assert h.size() == h_shape

    _load_ncps_weights(ours, ref)
    y, h = ours(*args)
    y_ref, h_ref = ref(*args)
    _close(y, y_ref)
    _close(h, h_ref)


# ------------------------------------------------------------------ sequence modules: calling convention
def _pair(family, units_spec, **kwargs):
    """Our module built through the compatible API with an ncps wiring, and ncps's, same weights."""
    torch.manual_seed(1)
    ours_units = _wiring(nw, units_spec) if isinstance(units_spec, tuple) else units_spec
    ref_units = _wiring(nw, units_spec) if isinstance(units_spec, tuple) else units_spec
    make = {"cfc": (CfC, nt.CfC), "ltc": (LTC, nt.LTC)}[family]
    ours = make[0](6, ours_units, **kwargs)
    ref = make[1](6, ref_units, **kwargs)
    return _load_ncps_weights(ours, ref), ref


@pytest.mark.parametrize("family,units", [("cfc", ("AutoNCP", (20, 4))), ("cfc", 10), ("ltc", ("AutoNCP", (20, 4)))])
def test_time_major_with_timespans_matches_batch_first_and_ncps(family, units):
    ours_tm, ref_tm = _pair(family, units, batch_first=False)
    ours_bf = _load_ncps_weights(_pair(family, units)[0], ref_tm)
    x = torch.randn(7, 3, 6)  # (T, B, C)
    ts = 0.2 + torch.rand(7, 3)  # (T, B)
    y, h = ours_tm(x, None, ts)
    y_bf, h_bf = ours_bf(x.transpose(0, 1), None, ts.t())
    assert y.shape[:2] == (7, 3)
    _close(y, y_bf.transpose(0, 1))
    _close(h, h_bf)
    for b in range(3):  # ncps's timespans are right at batch 1 only; compare each sample alone
        y_ref, h_ref = ref_tm(x[:, b:b + 1], None, ts[:, b:b + 1])
        _close(y[:, b:b + 1], y_ref)
        _close(h[b:b + 1], h_ref)
    ours_tm.return_sequences = False
    y_last, _ = ours_tm(x, None, ts)
    _close(y_last, y[-1])


def test_hx_is_h0():
    ours, ref = _pair("cfc", ("AutoNCP", (20, 4)))
    x, h0 = torch.randn(2, 5, 6), torch.randn(2, 20)
    y1, h1 = ours(x, h0)
    y2, h2 = ours(x, hx=h0)
    y_ref, h_ref = ref(x, hx=h0)
    _close(y1, y2, 0)
    _close(h1, h2, 0)
    _close(y2, y_ref)
    _close(h2, h_ref)
    with pytest.raises(ValueError, match="not both"):
        ours(x, h0, hx=h0)


@pytest.mark.parametrize("family,units", [("cfc", ("AutoNCP", (20, 4))), ("cfc", 10), ("ltc", 9)])
def test_mixed_memory_tuple_state_in_and_out(family, units):
    ours, ref = _pair(family, units, mixed_memory=True)
    n = ours.hidden_size
    x, h0, c0 = torch.randn(2, 5, 6), torch.randn(2, n), torch.randn(2, n)
    y, state = ours(x, (h0, c0))
    assert isinstance(state, tuple) and [s.shape for s in state] == [(2, n), (2, n)]
    y_ref, (h_ref, c_ref) = ref(x, (h0, c0))
    _close(y, y_ref)
    _close(state[0], h_ref)
    _close(state[1], c_ref)
    # the native single tensor [h, c] gives the same numbers and stays a tensor
    y_native, native = ours(x, torch.cat([h0, c0], 1))
    _close(y_native, y, 0)
    _close(native, torch.cat(state, 1), 0)
    # unbatched: 1-D h and c
    y1, (h1, c1) = ours(x[0], (h0[0], c0[0]))
    y1_ref, (h1_ref, c1_ref) = ref(x[0], (h0[0], c0[0]))
    _close(y1, y1_ref)
    _close(h1, h1_ref)
    _close(c1, c1_ref)


def test_tuple_state_needs_mixed_memory():
    ours = CfC(6, 8)
    with pytest.raises(ValueError, match="mixed_memory"):
        ours(torch.randn(2, 3, 6), (torch.zeros(2, 8), torch.zeros(2, 8)))
    mixed = CfC(6, 8, mixed_memory=True)
    with pytest.raises(ValueError, match="same shape"):
        mixed(torch.randn(2, 3, 6), (torch.zeros(2, 8), torch.zeros(2, 7)))


def test_positional_arguments_follow_ncps_order():
    # ncps: (input_size, units, proj_size, return_sequences, batch_first, mixed_memory, mode, ...)
    cfc = CfC(6, 10, 3, False, False, True, "no_gate")
    assert (cfc.proj_size, cfc.return_sequences, cfc.batch_first, cfc.use_mixed, cfc.mode) == (3, False, False, True,
                                                                                              "no_gate")
    # ncps: (input_size, units, return_sequences, batch_first, mixed_memory, input_mapping, ...)
    ltc = LTC(6, 5, False, False, True, "linear")
    assert (ltc.return_sequences, ltc.batch_first, ltc.use_mixed, ltc.input_mapping) == (False, False, True, "linear")


def test_scripted_module_takes_a_tuple_state_and_returns_one_tensor():
    model = CfC(6, 8, mixed_memory=True, backbone_layers=0)
    scripted = torch.jit.script(model)
    x, h0, c0 = torch.randn(2, 4, 6), torch.randn(2, 8), torch.randn(2, 8)
    y, (h, c) = model(x, (h0, c0))
    ys, state = scripted(x, (h0, c0))
    _close(ys, y)
    _close(state, torch.cat([h, c], 1))


def test_module_attributes_match_ncps():
    ref = nt.LTC(6, nw.NCP(5, 4, 3, 3, 2, 2, 2))
    ours = LTC(6, nw.NCP(5, 4, 3, 3, 2, 2, 2))
    for name in ("synapse_count", "sensory_size", "motor_size", "state_size", "output_size"):
        assert getattr(ours, name) == getattr(ref, name), name
    # ncps 1.0.1's module attribute returns the internal count here; the wiring's is the right one
    assert ours.sensory_synapse_count == ref._wiring.sensory_synapse_count
    cfc = CfC(6, nw.NCP(5, 4, 3, 3, 2, 2, 2))
    assert (cfc.synapse_count, cfc.sensory_synapse_count) == (ref.synapse_count, ref._wiring.sensory_synapse_count)
    assert (cfc.sensory_size, cfc.state_size, cfc.motor_size) == (6, 12, 3)
    dense = CfC(6, 10)
    assert (dense.synapse_count, dense.sensory_synapse_count, dense.motor_size) == (100, 60, 10)


# ------------------------------------------------------------------ cells
CELL_CASES = {
    "cfc-cell": lambda lib: lib.CfCCell(6, 10),
    "cfc-cell-pure-nobackbone": lambda lib: lib.CfCCell(6, 10, "pure", "lecun_tanh", 0, 0),
    "cfc-cell-nogate-2layers": lambda lib: lib.CfCCell(6, 10, "no_gate", "silu", 16, 2, 0.0),
    "wired-cfc-cell": lambda lib: lib.WiredCfCCell(6, nw.AutoNCP(20, 4)),
    "wired-cfc-cell-pure": lambda lib: lib.WiredCfCCell(6, nw.NCP(5, 4, 3, 3, 2, 2, 2), mode="pure"),
    "ltc-cell": lambda lib: lib.LTCCell(nw.AutoNCP(20, 4), 6),
    "ltc-cell-implicit": lambda lib: lib.LTCCell(nw.FullyConnected(7, 3), 6, implicit_param_constraints=True),
}


@pytest.mark.parametrize("name", list(CELL_CASES))
def test_cells_match_ncps_step_by_step(name):
    torch.manual_seed(2)
    ours, ref = CELL_CASES[name](nn_lib), CELL_CASES[name](nt)
    _load_ncps_weights(ours, ref)
    h = h_ref = torch.zeros(3, ours.hidden_size)
    for step in range(4):
        x = torch.randn(3, 6)
        ts = 1.0 if step % 2 == 0 else 0.4
        y, h = ours(x, h, ts)
        y_ref, h_ref = ref(x, h_ref, ts)
        _close(y, y_ref)
        _close(h, h_ref)


@pytest.mark.parametrize("name", ["cfc-cell", "wired-cfc-cell", "ltc-cell"])
def test_cells_keep_each_samples_elapsed_time(name):
    torch.manual_seed(3)
    ours, ref = CELL_CASES[name](nn_lib), CELL_CASES[name](nt)
    _load_ncps_weights(ours, ref)
    x, h = torch.randn(4, 6), torch.rand(4, ours.hidden_size)
    ts = torch.tensor([0.3, 1.0, 2.0, 0.7])
    y, h1 = ours(x, h, ts)
    y_col, h_col = ours(x, h, ts[:, None])
    _close(y_col, y, 0)
    for b in range(4):
        y_ref, h_ref = ref(x[b:b + 1], h[b:b + 1], float(ts[b]))
        _close(y[b:b + 1], y_ref)
        _close(h1[b:b + 1], h_ref)
    with pytest.raises(ValueError, match="elapsed time"):
        ours(x, h, torch.ones(3))


def test_cfc_cell_sparsity_mask_matches_ncps():
    rng = np.random.default_rng(0)
    mask = rng.choice([-1, 0, 1], size=(6 + 5, 5))
    torch.manual_seed(4)
    ours = CfCCell(6, 5, backbone_layers=0, backbone_units=0, sparsity_mask=mask)
    ref = nt.CfCCell(6, 5, backbone_layers=0, backbone_units=0, sparsity_mask=mask)
    _load_ncps_weights(ours, ref)
    x, h = torch.randn(2, 6), torch.randn(2, 5)
    y, h1 = ours(x, h, 1.0)
    _close(y, ref(x, h, 1.0)[0])
    ours.weight.data[:5][torch.from_numpy(mask.T == 0)] = 100.0  # masked entries do not matter
    ours.zero_grad()
    y2, _ = ours(x, h, 1.0)
    _close(y2, y)
    y2.sum().backward()
    assert ours.weight.grad[:5][torch.from_numpy(mask.T == 0)].abs().max() == 0
    with pytest.raises(ValueError, match="sparsity_mask"):
        CfCCell(6, 5, backbone_layers=0, sparsity_mask=mask[:-1])


def test_cells_take_a_built_wiring_without_input_size():
    wiring = nw.AutoNCP(20, 4)
    wiring.build(6)
    assert WiredCfCCell(None, wiring).input_size == 6
    assert LTCCell(wiring).input_size == 6
    with pytest.raises(ValueError, match="not built"):
        LTCCell(nn_lib.AutoNCP(20, 4))


# ------------------------------------------------------------------ wirings
def _build_both(a, b, input_dim=7):
    a.build(input_dim)
    b.build(input_dim)
    np.testing.assert_array_equal(a.adjacency_matrix, b.adjacency_matrix)
    np.testing.assert_array_equal(a.sensory_adjacency_matrix, b.sensory_adjacency_matrix)


def test_ncp_takes_ncps_keyword_names():
    kwargs = dict(sensory_fanout=4, inter_fanout=3, recurrent_command_synapses=5, motor_fanin=3, seed=9)
    ours = NCP(inter_neurons=8, command_neurons=6, motor_neurons=3, **kwargs)
    _build_both(ours, nw.NCP(inter_neurons=8, command_neurons=6, motor_neurons=3, **kwargs))
    assert (ours.num_inter, ours.num_command, ours.num_motor) == (8, 6, 3)
    _build_both(NCP(8, 6, 3, **kwargs), NCP(inter=8, command=6, motor=3, **kwargs))
    with pytest.raises(TypeError, match="inter_neurons"):
        NCP(8, 6, 3, inter_neurons=8, **kwargs)
    with pytest.raises(TypeError, match="command"):
        NCP(inter=8, motor=3, **kwargs)


WIRING_MAKERS = {
    "AutoNCP": lambda lib: lib.AutoNCP(16, 3, sparsity_level=0.6, seed=4),
    "NCP": lambda lib: lib.NCP(6, 5, 2, 3, 2, 4, 2, seed=5),
    "FullyConnected": lambda lib: lib.FullyConnected(6, 2, erev_init_seed=6, self_connections=False),
    "Random": lambda lib: lib.Random(7, 3, sparsity_level=0.4, random_seed=7),
}


@pytest.mark.parametrize("kind", list(WIRING_MAKERS))
def test_config_round_trips_with_ncps(kind):
    ours, theirs = WIRING_MAKERS[kind](nn_lib), WIRING_MAKERS[kind](nw)
    config = ours.get_config()
    # ours -> ncps: the same circuit
    _build_both(getattr(nw, kind).from_config(config), WIRING_MAKERS[kind](nw))
    # ours -> ours, and the config keys are ncps's
    _build_both(getattr(nn_lib, kind).from_config(config), WIRING_MAKERS[kind](nn_lib))
    if kind != "NCP":
        assert config == theirs.get_config()
        _build_both(getattr(nn_lib, kind).from_config(theirs.get_config()), WIRING_MAKERS[kind](nw))
    else:
        theirs.build(7)  # ncps's NCP config holds the neuron id lists and no seed; we read it anyway
        loaded = NCP.from_config(theirs.get_config())
        assert (loaded.num_inter, loaded.num_command, loaded.num_motor) == (6, 5, 2)
        assert loaded.sensory_fanout == 3 and isinstance(loaded.seed, int)
        assert set(config) == set(theirs.get_config())


def test_generic_wiring_config_keeps_the_matrices():
    theirs = nw.AutoNCP(16, 3, seed=2)
    theirs.build(5)
    base_config = nw.Wiring.get_config(theirs)
    ours = Wiring.from_config(base_config)
    np.testing.assert_array_equal(ours.adjacency_matrix, theirs.adjacency_matrix)
    np.testing.assert_array_equal(ours.sensory_adjacency_matrix, theirs.sensory_adjacency_matrix)
    assert (ours.input_dim, ours.output_dim) == (5, 3)
    back = nw.Wiring.from_config(Wiring.get_config(ours))
    np.testing.assert_array_equal(back.sensory_adjacency_matrix, theirs.sensory_adjacency_matrix)


def test_graph_and_erev_initializers_match_ncps():
    ours, theirs = WIRING_MAKERS["NCP"](nn_lib), WIRING_MAKERS["NCP"](nw)
    with pytest.raises(ValueError, match="not built"):
        ours.get_graph()
    _build_both(ours, theirs)
    g, g_ref = ours.get_graph(), theirs.get_graph()
    assert dict(g.nodes(data=True)) == dict(g_ref.nodes(data=True))
    assert {(a, b, d["polarity"]) for a, b, d in g.edges(data=True)} == {
        (a, b, d["polarity"]) for a, b, d in g_ref.edges(data=True)}
    assert not any(n.startswith("sensory") for n in ours.get_graph(include_sensory_neurons=False))
    erev = ours.erev_initializer()
    np.testing.assert_array_equal(erev, theirs.erev_initializer())
    np.testing.assert_array_equal(ours.sensory_erev_initializer(), theirs.sensory_erev_initializer())
    erev[0, 0] = 99
    assert ours.adjacency_matrix[0, 0] != 99  # a copy


def test_draw_graph():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wiring = WIRING_MAKERS["AutoNCP"](nn_lib)
    wiring.build(4)
    fig = plt.figure()
    handles = wiring.draw_graph(draw_labels=True, neuron_colors={"command": "tab:purple"}, synapse_colors="black")
    labels = {h.get_label() for h in handles}
    assert {"Inter neurons", "Command neurons", "Motor neurons", "Sensory neurons"} <= labels
    assert len(fig.axes[0].collections) > wiring.units  # nodes and edges were drawn
    plt.close(fig)
    with pytest.raises(ValueError, match="layout"):
        wiring.draw_graph(layout="hexagonal")


def test_ncps_wiring_objects_are_converted_not_redrawn():
    theirs = nw.NCP(6, 5, 2, 3, 2, 4, 2, seed=5)
    theirs.build(6)
    before = theirs.adjacency_matrix.copy(), theirs.sensory_adjacency_matrix.copy()
    for module in (CfC(6, theirs), LTC(6, theirs), WiredCfCCell(6, theirs), LTCCell(theirs, 6)):
        assert isinstance(module.wiring, Wiring)
        np.testing.assert_array_equal(module.wiring.adjacency_matrix, before[0])
        np.testing.assert_array_equal(module.wiring.sensory_adjacency_matrix, before[1])
    np.testing.assert_array_equal(theirs.adjacency_matrix, before[0])  # a built wiring is not built again
    with pytest.raises(ValueError, match="input_dim"):
        CfC(5, theirs)
    unbuilt = nw.Random(7, 3, sparsity_level=0.4, random_seed=7)
    converted = nn_lib.wiring_from_ncps(unbuilt)  # ncps's random stream carries over
    _build_both(converted, unbuilt)


# ------------------------------------------------------------------ from_ncps
def test_from_ncps_refuses_other_types_before_reading_them():
    class Untouchable:
        def __getattribute__(self, name):
            raise AssertionError(f"read .{name}")

    with pytest.raises(ValueError, match="from_ncps supports"):
        from_ncps(Untouchable())
    ncps_lstm = type("LSTMCell", (Untouchable,), {"__module__": "ncps.torch.lstm"})
    with pytest.raises(ValueError, match="ncps.torch.lstm.LSTMCell"):
        from_ncps(ncps_lstm())
    with pytest.raises(ValueError, match="LSTMCell"):
        from_ncps(nt.lstm.LSTMCell(4, 5))
    with pytest.raises(ValueError, match="from_ncps supports"):
        from_ncps(CfC(4, 5))


def _perturbed_float64(module):
    """``module`` in float64 with weights that float32 cannot represent."""
    module = module.double()
    with torch.no_grad():
        for p in module.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 1e-3)
    assert any(bool((p.float().double() != p).any()) for p in module.parameters())
    return module


F64_CASES = {
    "cfc-dense": lambda: nt.CfC(6, 10),
    "cfc-dense-2layers-proj": lambda: nt.CfC(6, 10, proj_size=3, backbone_layers=2, backbone_units=12),
    "cfc-ncp": lambda: nt.CfC(6, nw.AutoNCP(20, 4)),
    "cfc-ncp-pure": lambda: nt.CfC(6, nw.AutoNCP(20, 4), mode="pure"),
    "cfc-ncp-mixed-time-major": lambda: nt.CfC(6, nw.AutoNCP(20, 4), mixed_memory=True, batch_first=False),
    "ltc-ncp": lambda: nt.LTC(6, nw.AutoNCP(20, 4)),
    "ltc-full-mixed-clipped": lambda: nt.LTC(6, 8, mixed_memory=True, implicit_param_constraints=False),
    "cfc-cell": lambda: nt.CfCCell(6, 10),
    "wired-cfc-cell": lambda: nt.WiredCfCCell(6, nw.AutoNCP(20, 4)),
    "ltc-cell": lambda: nt.LTCCell(nw.AutoNCP(20, 4), 6),
}


@pytest.mark.parametrize("name", list(F64_CASES))
def test_from_ncps_is_exact_in_float64(name):
    torch.manual_seed(5)
    ref = _perturbed_float64(F64_CASES[name]())
    ours = from_ncps(ref)
    assert type(ours).__name__ == type(ref).__name__
    assert all(p.dtype == torch.float64 for p in ours.parameters())
    if hasattr(ref, "rnn_cell") and hasattr(ref.rnn_cell, "_params"):
        assert torch.equal(ours.rnn_cell.erev, ref.rnn_cell._params["erev"])  # not rounded through float32
        assert torch.equal(ours.rnn_cell.sensory_erev, ref.rnn_cell._params["sensory_erev"])
    if "cell" in name:
        x, h = torch.randn(3, 6, dtype=torch.float64), torch.rand(3, ours.hidden_size, dtype=torch.float64)
        args = (x, h, 0.6)
    else:
        x = torch.randn(3, 9, 6, dtype=torch.float64)
        if not ref.batch_first:
            x = x.transpose(0, 1)
        h = torch.rand(3, ours.hidden_size, dtype=torch.float64)
        args = (x, (h, 0.5 * h) if ref.use_mixed else h)
    with torch.no_grad():
        y, state = ours(*args)
        y_ref, state_ref = ref(*args)
    if isinstance(state, tuple):
        state, state_ref = torch.cat(state, -1), torch.cat(state_ref, -1)
    assert float((y - y_ref).abs().max()) <= 1e-12
    assert float((state - state_ref).abs().max()) <= 1e-12
