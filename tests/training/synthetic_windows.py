"""A synthetic window dataset for training tests: the label is written into the pixels."""

from __future__ import annotations

import math
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir

from navlnn.policies.policy import build_policy

CONF = Path(__file__).resolve().parents[2] / "conf"
HW = (24, 40)
NO_AUGMENT = {"brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "noise_std": 0.0}


class Windows(torch.utils.data.Dataset):
    """Frames whose red/green balance encodes the first action: learnable from pixels."""

    def __init__(self, count: int, steps: int = 4, seed: int = 0, poison: int | None = None) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.targets = 2 * torch.rand(count, steps, 4, generator=gen) - 1
        red = (127 + 120 * self.targets[..., 0]).round().to(torch.uint8)
        self.images = torch.zeros(count, steps, *HW, 3, dtype=torch.uint8)
        self.images[..., 0] = red[..., None, None]
        self.images[..., 1] = 255 - red[..., None, None]
        self.targets[..., 1:] = 0.0
        self.poison = poison

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        actions = self.targets[i].clone()
        if self.poison == i:
            actions[0, 0] = math.nan
        return {"images": self.images[i], "actions": actions, "dt": torch.full((self.images.shape[1],), 1 / 15)}


def small_policy(seed: int = 0, model: str = "ncp_cfc"):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="wiring", overrides=[f"+model={model}", "model.trunk.channels=[8,8,8,8,8]"]).model
    torch.manual_seed(seed)
    return build_policy(cfg, HW)
