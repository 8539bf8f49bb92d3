"""The fast augmentation in torch operations, for frames that are already on an accelerator.

On a GPU the frames travel to the device as ``uint8`` (a quarter of the bytes of float) and are
augmented there in one batch: the same draws as the CPU path (:meth:`ImageAugment.draw`, made on
the CPU from the run's generator), the same operations in the same order, with the pixel noise
drawn on the device. Tested on the CPU against the OpenCV path (same frames to a grey level where
the noise is off).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from navlnn.training.augment_ops import LUMA, Draws, gaussian_taps


def _on(array: np.ndarray, device: torch.device, dtype=torch.float32) -> Tensor:
    return torch.as_tensor(np.ascontiguousarray(array), dtype=dtype).to(device, non_blocking=True)


def augment_on_device(augment: Any, frames: Tensor, lengths: Sequence[int], draws: Draws,
                      noise: Optional[torch.Generator] = None) -> Tensor:
    """``uint8 (N, H, W, 3)`` frames on any device, sequences of ``lengths`` end to end -> ``uint8``, same shape.

    ``augment``: the :class:`~navlnn.training.augment.ImageAugment` whose draws these are (its ``padding``).
    ``noise``: a generator on the frames' device for the pixel noise (the CPU path reads a bank).
    """
    device = frames.device
    count, height, width = frames.shape[0], frames.shape[1], frames.shape[2]
    lengths_t = torch.as_tensor(list(lengths), device=device)
    seq = torch.repeat_interleave(torch.arange(len(lengths), device=device), lengths_t)   # (N,) sequence of a frame
    if draws.gamma is not None:
        luts = 255.0 * (np.arange(256) / 255.0)[None, :] ** draws.gamma[:, None]
        x = _on(luts, device).flatten()[seq.view(-1, 1, 1, 1) * 256 + frames.long()]
    else:
        x = frames.float()
    if draws.warp is not None:
        grid = F.affine_grid(_on(draws.warp, device)[seq], [count, 3, height, width], align_corners=False)
        x = F.grid_sample(x.permute(0, 3, 1, 2), grid, mode="bilinear", padding_mode=augment.padding,
                          align_corners=False).permute(0, 2, 3, 1)
    sums = torch.zeros(len(lengths), 3, device=device).index_add_(0, seq, x.mean(dim=(1, 2)))
    mean = sums / lengths_t[:, None]                                        # (S, 3) mean colour
    colour = _on(draws.colour, device)
    grey = (mean[:, None, :] @ colour.transpose(1, 2)).squeeze(1) @ _on(np.array(LUMA), device)
    scale = _on(draws.brightness * draws.contrast, device)
    matrix = scale[:, None, None] * colour                                  # (S, 3, 3)
    offset = _on(draws.brightness * (1.0 - draws.contrast), device) * grey  # (S,)
    x = torch.bmm(x.reshape(count, -1, 3), matrix[seq].transpose(1, 2)).add_(offset[seq].view(-1, 1, 1))
    x = x.view(count, height, width, 3)
    if draws.blur_sigma is not None:
        x = _blur(x, draws.blur_sigma, seq)
    if draws.erase is not None:
        x = _erase(x, draws.erase, seq if augment.erase_per == "sequence" else torch.arange(count, device=device))
    if augment.noise_std > 0:
        x = x.add_(torch.randn(x.shape, generator=noise, device=device).mul_(augment.noise_std))
    return x.round_().clamp_(0, 255).to(torch.uint8)


def _blur(x: Tensor, sigma: np.ndarray, seq: Tensor) -> Tensor:
    """Separable Gaussian blur, one sigma per sequence (0: unchanged), edges replicated."""
    kernels = [gaussian_taps(float(s)) if s > 0 else np.ones(1, np.float32) for s in sigma]
    radius = max(len(k) for k in kernels) // 2
    taps = np.zeros((len(kernels), 2 * radius + 1), np.float32)
    for s, k in enumerate(kernels):
        taps[s, radius - len(k) // 2: radius + len(k) // 2 + 1] = k
    weight = _on(taps, x.device)[seq].repeat_interleave(3, dim=0)           # (N * 3, K)
    count, height, width, _ = x.shape
    planes = x.permute(0, 3, 1, 2).reshape(1, count * 3, height, width)
    planes = F.conv2d(F.pad(planes, (radius, radius, 0, 0), mode="replicate"), weight.view(-1, 1, 1, 2 * radius + 1),
                      groups=count * 3)
    planes = F.conv2d(F.pad(planes, (0, 0, radius, radius), mode="replicate"), weight.view(-1, 1, 2 * radius + 1, 1),
                      groups=count * 3)
    return planes.view(count, 3, height, width).permute(0, 2, 3, 1)


def _erase(x: Tensor, erase: dict, row: Tensor) -> Tensor:
    """The erasing rectangles, row ``row[n]`` of the draws for frame ``n``."""
    device = x.device
    on, top, left = (torch.as_tensor(erase[k], device=device)[row] for k in ("on", "top", "left"))
    h, w = (torch.as_tensor(erase[k], device=device)[row] for k in ("height", "width"))
    colour = _on(erase["colour"], device)[row]                              # (N, 3)
    rows = torch.arange(x.shape[1], device=device)[None, :, None]
    cols = torch.arange(x.shape[2], device=device)[None, None, :]
    mask = ((rows >= top[:, None, None]) & (rows < (top + h)[:, None, None]) & (cols >= left[:, None, None])
            & (cols < (left + w)[:, None, None]) & on[:, None, None])
    return torch.where(mask[..., None], colour[:, None, None, :], x)
