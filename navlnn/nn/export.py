"""Export a liquid controller's single closed-loop step to ONNX: ``(x, h, dt) -> (y, h')``."""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from navlnn.nn.cfc import CfC
from navlnn.nn.ltc import LTC


class StepModule(nn.Module):
    """Wraps ``module.step`` as ``forward(x, h, dt)`` with plain operations (exportable, scriptable)."""

    def __init__(self, module: CfC | LTC) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Tensor, h: Tensor, dt: Tensor) -> tuple[Tensor, Tensor]:
        return self.module.step(x, h, dt)


def export_step_onnx(module: CfC | LTC, path: str | os.PathLike, opset_version: int = 18) -> Path:
    """Write ``module``'s single step to an ONNX file (dynamic batch) and return its path.

    Inputs: ``x`` (B, input_size) float32, ``h`` (B, state_size) float32 (zeros at the start of
    an episode), ``dt`` (B, 1) float32 seconds. Outputs: ``y`` (B, output_size), ``h_out``.
    The file is written atomically.
    """
    if not isinstance(module, (CfC, LTC)):
        raise ValueError(f"export_step_onnx takes a navlnn CfC or LTC, got {type(module).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_fused, was_training = module.fused, module.training
    module.fused = False  # plain operations: the hand-written recurrences are autograd Functions
    module.eval()
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)  # the exporter logs optional-operator notices at warning level
    try:
        batch = torch.export.Dim("batch", min=1)
        dtype = next(module.parameters()).dtype
        args = (
            torch.zeros(2, module.input_size, dtype=dtype),
            torch.zeros(2, module.state_size, dtype=dtype),
            torch.full((2, 1), 1.0, dtype=dtype),
        )
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tmp_path = Path(tmp) / path.name
            torch.onnx.export(
                StepModule(module),
                args,
                str(tmp_path),
                input_names=["x", "h", "dt"],
                output_names=["y", "h_out"],
                dynamic_shapes=({0: batch}, {0: batch}, {0: batch}),
                opset_version=opset_version,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
            os.replace(tmp_path, path)
    finally:
        onnx_log.setLevel(level)
        module.fused = was_fused
        module.train(was_training)
    return path
