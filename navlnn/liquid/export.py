"""ONNX export of one step of a liquid module ``(x, h, dt) -> (y, h')``, and the shared exporter
(plain operations, dynamic batch, atomic write) that the policy export builds on."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import Iterator

import torch
from torch import Tensor, nn

from navlnn.liquid.cells import CfCCellBase, LTCCell
from navlnn.liquid.cfc import CfC
from navlnn.liquid.ltc import LTC


class StepModule(nn.Module):
    """Wraps ``module.step`` as ``forward(x, h, dt)`` with plain operations (exportable, scriptable)."""

    def __init__(self, module: CfC | LTC) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Tensor, h: Tensor, dt: Tensor) -> tuple[Tensor, Tensor]:
        return self.module.step(x, h, dt)


@contextlib.contextmanager
def plain_operations(module: nn.Module) -> Iterator[None]:
    """Eval mode and plain operations in every liquid cell (the hand-written recurrences and
    compiled kernels are not exportable); restores both afterwards."""
    liquid = [m for m in module.modules() if isinstance(m, (CfCCellBase, LTCCell))]
    fused = [m.fused for m in liquid]
    training = module.training
    for m in liquid:
        m.fused = False
    module.eval()
    try:
        yield
    finally:
        for m, f in zip(liquid, fused):
            m.fused = f
        module.train(training)


def export_onnx(wrapper: nn.Module, args: tuple[Tensor, ...], path: str | os.PathLike, input_names: list[str],
            output_names: list[str], opset_version: int) -> Path:
    """Dynamo ONNX export with a dynamic batch dimension, written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)  # the exporter logs optional-operator notices at warning level
    batch = torch.export.Dim("batch", min=1)
    try:
        with tempfile.TemporaryDirectory(dir=path.parent) as tmp, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tmp_path = Path(tmp) / path.name
            torch.onnx.export(
                wrapper,
                args,
                str(tmp_path),
                input_names=input_names,
                output_names=output_names,
                dynamic_shapes=tuple({0: batch} for _ in args),
                opset_version=opset_version,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
            os.replace(tmp_path, path)
    finally:
        onnx_log.setLevel(level)
    return path


def export_step_onnx(module: CfC | LTC, path: str | os.PathLike, opset_version: int = 18) -> Path:
    """Write ``module``'s single step to an ONNX file (dynamic batch) and return its path.

    Inputs: ``x`` (B, input_size) float32, ``h`` (B, state_size) float32 (zeros at the start of
    an episode), ``dt`` (B, 1) float32 in the module's time unit. Outputs: ``y`` (B, output_size), ``h_out``.
    """
    if not isinstance(module, (CfC, LTC)):
        raise ValueError(f"export_step_onnx takes a navlnn CfC or LTC, got {type(module).__name__}")
    dtype = next(module.parameters()).dtype
    args = (
        torch.zeros(2, module.input_size, dtype=dtype),
        torch.zeros(2, module.state_size, dtype=dtype),
        torch.full((2, 1), 1.0, dtype=dtype),
    )
    with plain_operations(module):
        return export_onnx(StepModule(module), args, path, ["x", "h", "dt"], ["y", "h_out"], opset_version)
