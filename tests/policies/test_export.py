"""TorchScript compilation and the ONNX single-step export of the liquid modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from navlnn.liquid import LTC, AutoNCP, CfC
from navlnn.policies.export import export_step_onnx

MAKERS = {
    "cfc-ncp": lambda: CfC(16, AutoNCP(20, 4, seed=0)),
    "cfc-ncp-pure-mixed": lambda: CfC(16, AutoNCP(20, 4, seed=0), mode="pure", mixed_memory=True),
    "cfc-dense": lambda: CfC(16, 10, proj_size=3),
    "ltc-ncp": lambda: LTC(16, AutoNCP(20, 4, seed=0)),
    "ltc-dense-mixed": lambda: LTC(16, 8, mixed_memory=True),
}


@pytest.mark.parametrize("name", list(MAKERS))
def test_torchscript_matches_eager(name, tmp_path):
    torch.manual_seed(0)
    model = MAKERS[name]()
    scripted = torch.jit.script(model)
    path = tmp_path / "model.pt"
    torch.jit.save(scripted, str(path))
    loaded = torch.jit.load(str(path))
    x = torch.randn(3, 6, 16)
    ts = 0.05 + torch.rand(3, 6)
    y, h = model(x, None, ts)
    for module in (scripted, loaded):
        ys, hs = module(x, None, ts)
        torch.testing.assert_close(ys, y, atol=1e-5, rtol=0)
        torch.testing.assert_close(hs, h, atol=1e-5, rtol=0)
        y1, h1 = module.step(x[:, 0], None, ts[:, 0])
        torch.testing.assert_close(y1, y[:, 0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", ["cfc-ncp", "ltc-ncp", "cfc-ncp-pure-mixed"])
def test_onnx_step_matches_torch(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    torch.manual_seed(0)
    model = MAKERS[name]()
    path = export_step_onnx(model, tmp_path / "step.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x", "h", "dt"]
    h_torch = torch.zeros(3, model.state_size)
    h_onnx = h_torch.numpy()
    gen = torch.Generator().manual_seed(1)
    for _ in range(4):  # a few closed-loop steps, state fed back, batch size not the exported one
        x = torch.randn(3, 16, generator=gen)
        dt = 0.05 + 0.1 * torch.rand(3, 1, generator=gen)
        with torch.no_grad():
            y_torch, h_torch = model.step(x, h_torch, dt)
        y_onnx, h_onnx = session.run(None, {"x": x.numpy(), "h": h_onnx, "dt": dt.numpy()})
        np.testing.assert_allclose(y_onnx, y_torch.numpy(), atol=1e-5, rtol=0)
        np.testing.assert_allclose(h_onnx, h_torch.numpy(), atol=1e-5, rtol=0)
    assert model.fused  # export restores the eager fast path
