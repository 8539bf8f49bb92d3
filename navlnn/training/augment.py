"""Per-sequence image augmentation for behaviour cloning (as in the MIT drone work).

Brightness, contrast and saturation jitter and Gaussian pixel noise, drawn once per sequence so that
a window stays temporally consistent (the controller sees a plausible camera, not flicker).
Works on the env's ``uint8 (B, T, H, W, 3)`` frames and returns the same dtype and shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

_LUMA = (0.299, 0.587, 0.114)


@dataclass
class ImageAugment:
    """Jitter ranges: a factor is drawn uniformly in ``[1 - x, 1 + x]``; ``noise_std`` in pixel units."""

    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3
    noise_std: float = 4.0

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if images.dtype != torch.uint8 or images.dim() != 5 or images.shape[-1] != 3:
            raise ValueError(f"images: expected uint8 (B, T, H, W, 3), got {images.dtype} {tuple(images.shape)}")
        batch = images.shape[0]
        x = images.float()

        def factor(spread: float) -> Tensor:
            u = torch.rand(batch, 1, 1, 1, 1, generator=generator)
            return 1.0 + spread * (2.0 * u - 1.0)

        luma = torch.tensor(_LUMA)
        if self.saturation > 0:
            grey = (x * luma).sum(-1, keepdim=True)
            x = grey + factor(self.saturation) * (x - grey)
        if self.contrast > 0:
            mean = (x * luma).sum(-1, keepdim=True).mean(dim=(1, 2, 3), keepdim=True)
            x = mean + factor(self.contrast) * (x - mean)
        if self.brightness > 0:
            x = x * factor(self.brightness)
        if self.noise_std > 0:
            x = x + self.noise_std * torch.randn(x.shape, generator=generator)
        return x.round_().clamp_(0, 255).to(torch.uint8)
