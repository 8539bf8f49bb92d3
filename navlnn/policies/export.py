"""ONNX export of a whole policy's closed-loop step ``(image, state, dt) -> (action, state_out)``
(the contract in docs/policies.md). The liquid modules' own step export is
:func:`navlnn.liquid.export.export_step_onnx`, re-exported here."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import Tensor, nn

from navlnn.liquid.export import StepModule, export_onnx, export_step_onnx, plain_operations

__all__ = ["PolicyStep", "export_policy_onnx", "export_step_onnx", "StepModule"]


class PolicyStep(nn.Module):
    """Wraps ``policy.step`` as ``forward(image, state, dt)`` for export."""

    def __init__(self, policy: nn.Module) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, image: Tensor, state: Tensor, dt: Tensor) -> tuple[Tensor, Tensor]:
        return self.policy.step(image, state, dt)


def export_policy_onnx(policy: nn.Module, path: str | os.PathLike, opset_version: int = 18) -> Path:
    """Write a policy's closed-loop step to ONNX (dynamic batch) and return its path.

    Inputs: ``image`` uint8 (B, H, W, 3) as the env gives it (normalisation is inside the graph),
    ``state`` float32 (B, S) (zeros at the start of an episode), ``dt`` float32 (B, 1) seconds.
    Outputs: ``action`` float32 (B, 4) in the env's normalised action space, ``state_out``.
    """
    height, width = policy.image_hw
    args = (
        torch.zeros(2, height, width, 3, dtype=torch.uint8),
        torch.zeros(2, policy.state_size),
        torch.full((2, 1), 1.0 / 15.0),
    )
    with plain_operations(policy):
        return export_onnx(PolicyStep(policy), args, path, ["image", "state", "dt"], ["action", "state_out"],
                       opset_version)
