"""The shape of the liquid core: cells are the unit and sequence modules wrap them (as in ncps), a
previous release's state_dicts (parameters on the sequence module itself) still load, the cells do
not import the sequences, and the wiring plot imports the wirings, never the reverse."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from navlnn.liquid import LTC, AutoNCP, CfC, CfCCell, LTCCell, NCP, WiredCfCCell, wiring_from_dict

ROOT = Path(__file__).resolve().parents[2]
LIQUID = ROOT / "navlnn" / "liquid"

MAKERS = {
    "cfc-ncp": (lambda: CfC(6, AutoNCP(20, 4, seed=1)), WiredCfCCell),
    "cfc-ncp-pure-mixed": (lambda: CfC(6, NCP(5, 4, 2, 3, 2, 3, 2), mode="pure", mixed_memory=True), WiredCfCCell),
    "cfc-dense-proj": (lambda: CfC(6, 12, proj_size=3, backbone_layers=2, backbone_units=16), CfCCell),
    "cfc-dense-nobackbone-mixed": (lambda: CfC(6, 12, backbone_layers=0, mixed_memory=True), CfCCell),
    "ltc-ncp": (lambda: LTC(6, AutoNCP(20, 4, seed=2)), LTCCell),
    "ltc-dense-mixed-linear": (lambda: LTC(6, 9, mixed_memory=True, input_mapping="linear"), LTCCell),
}


def _inputs(model, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 5, 6, generator=gen)
    h0 = 0.3 * torch.randn(2, model.state_size, generator=gen)
    ts = 0.2 + torch.rand(2, 5, generator=gen)
    return x, h0, ts


def _previous_layout(state_dict: dict, prefix: str = "") -> dict:
    """A state_dict as the release before cells were the unit wrote it: the cell's parameters and
    buffers were the sequence module's own (``weight``, not ``rnn_cell.weight``)."""
    old = {k.replace(prefix + "rnn_cell.", prefix, 1): v for k, v in state_dict.items()}
    assert len(old) == len(state_dict) and not any("rnn_cell" in k for k in old)
    return old


@pytest.mark.parametrize("name", list(MAKERS))
def test_a_sequence_module_holds_its_cell_and_wraps_its_step(name):
    make, cell_type = MAKERS[name]
    torch.manual_seed(0)
    model = make()
    cell = model.rnn_cell
    assert type(cell) is cell_type
    cell_params = {id(p) for p in cell.parameters()}
    assert cell_params and cell_params <= {id(p) for p in model.parameters()}
    # everything outside the cell belongs to the sequence: the memory LSTM and the projection
    outside = [n for n, _ in model.named_parameters() if not n.startswith("rnn_cell.")]
    assert all(n.startswith(("memory.", "fc.")) for n in outside), outside
    assert (model.input_size, model.hidden_size) == (cell.input_size, cell.hidden_size)
    model.fused = False
    assert cell.fused is False and model.fused is False
    model.fused = True
    assert cell.fused is True
    if not model.use_mixed:  # the sequence's step is its cell's step (and the projection)
        x, h0, ts = _inputs(model)
        with torch.no_grad():
            y, h = model.step(x[:, 0], h0, ts[:, 0])
            y_cell, h_cell = cell.step(x[:, 0], h0, ts[:, 0])
            y_call, h_call = cell(x[:, 0], h0, ts[:, 0])
        assert torch.equal(y, model.fc(y_cell) if isinstance(model, CfC) else y_cell) and torch.equal(h, h_cell)
        assert torch.equal(y_call, y_cell) and torch.equal(h_call, h_cell)


@pytest.mark.parametrize("name", list(MAKERS))
def test_a_state_dict_of_the_previous_layout_loads(name):
    make = MAKERS[name][0]
    torch.manual_seed(0)
    saved = make()
    torch.manual_seed(1)  # a different init: everything must come from the state_dict
    loaded = make()
    old = _previous_layout(saved.state_dict())
    assert "rnn_cell.adjacency" not in old and ("adjacency" in old) == (not isinstance(saved.rnn_cell, CfCCell))
    loaded.load_state_dict(old)  # strict
    for (n, p), (m, q) in zip(saved.state_dict().items(), loaded.state_dict().items()):
        assert n == m and torch.equal(p, q), n
    x, h0, ts = _inputs(saved)
    for a, b in zip(saved(x, h0, ts), loaded(x, h0, ts)):
        assert torch.equal(a, b)
    # inside another module, under a prefix (a policy's head.cell.weight), and beside the new layout
    wrapped, other = nn.ModuleDict({"cell": make()}), nn.ModuleDict({"cell": saved})
    wrapped.load_state_dict(_previous_layout(other.state_dict(), "cell."))
    assert all(torch.equal(p, q) for p, q in zip(wrapped.state_dict().values(), other.state_dict().values()))
    loaded.load_state_dict(saved.state_dict())


@pytest.mark.parametrize("cls", [CfC, LTC])
def test_a_previous_layout_state_dict_of_another_wiring_is_refused_clearly(cls):
    a, b = cls(6, AutoNCP(20, 4, seed=1)), cls(6, AutoNCP(20, 4, seed=2))
    with pytest.raises(ValueError, match="different wiring"):
        b.load_state_dict(_previous_layout(a.state_dict()))


def test_the_previous_release_checkpoint_of_an_ncp_cfc_loads_into_a_cfc():
    """tests/rollout/ncp_cfc_tiny.pt was written by the previous release: its head's CfC saved its
    parameters as ``head.cell.weight`` (now ``head.cell.rnn_cell.weight``)."""
    payload = torch.load(ROOT / "tests" / "rollout" / "ncp_cfc_tiny.pt", map_location="cpu", weights_only=True)
    head = payload["model"]["head"]
    prefix = "head.cell."
    state = {k[len(prefix):]: v for k, v in payload["state_dict"].items() if k.startswith(prefix)}
    assert {"weight", "bias", "adjacency", "sensory_adjacency"} <= set(state), "the fixture lost its subject"
    wiring = wiring_from_dict(head["wiring"])
    model = CfC(wiring.input_dim, wiring, mode=head.get("mode", "default"))
    model.load_state_dict(state)
    for name, value in state.items():
        assert torch.equal(model.rnn_cell.state_dict()[name], value), name


# ---------------------------------------------------------------------------------- imports
def _liquid_imports(path: Path) -> set[str]:
    """The navlnn.liquid modules ``path`` imports anywhere in its code (inside functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found.update(n.split(".")[2] for n in names if n.startswith("navlnn.liquid.") and len(n.split(".")) > 2)
    return found


def test_cells_do_not_import_the_sequences_and_the_wirings_do_not_import_their_plot():
    imports = {p.stem: _liquid_imports(p) for p in LIQUID.glob("*.py")}
    assert {"cfc_cell", "ltc_cell", "cells", "wirings", "wiring_plot"} <= set(imports), "the walk lost its subjects"
    for cell_module in ("cfc_cell", "ltc_cell", "cells", "sequence", "recurrences", "kernels"):
        assert not imports[cell_module] & {"cfc", "ltc", "convert", "export"}, cell_module
    assert "wirings" in imports["wiring_plot"] and "wiring_plot" not in imports["wirings"]
    assert not imports["wirings"], imports["wirings"]


@pytest.mark.timeout(120)
def test_ncps_draw_graph_works_however_the_wiring_was_imported():
    script = """
import matplotlib
matplotlib.use("Agg")
from navlnn.liquid.wirings import AutoNCP
wiring = AutoNCP(10, 2)
wiring.build(3)
print(len(wiring.draw_graph()))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "3"
