"""The reference implementation of the per-sequence augmentation (as it was before the fast one).

Every random choice that changes how a scene looks (colour, light, blur, framing, occluders) is
drawn once per sequence, so that a window stays temporally consistent: the controller sees a
plausible camera, not flicker. Only the pixel noise is new in every frame (as a sensor's is), and
random erasing can be asked per frame (``erase_per="frame"``) to teach the memory to bridge short
occlusions.

Works on the env's ``uint8 (B, T, H, W, 3)`` frames and returns the same dtype and shape. Every
lever is off at its neutral value (0), and a lever that is off draws no random numbers, so the
augmentation of a config that does not use it is exactly what it was before the lever existed.

Order: geometry (shift, zoom, roll) on the clean frame, then colour (hue rotation, per-channel
gains, gamma, saturation, contrast, brightness), blur, erasing, and pixel noise last.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn import functional as F

from navlnn.training.augment import LUMA, ImageAugment

_LUMA = LUMA


def rotate_hue(x: Tensor, degrees: Tensor) -> Tensor:
    """Rotate the colours of float RGB ``x`` (B, ..., 3) about the grey axis by ``degrees`` (B,).

    A rotation about (1, 1, 1): greys stay grey, brightness (the mean of R, G, B) is kept, and 360
    degrees is the identity. One angle per leading index (a sequence).
    """
    theta = torch.deg2rad(degrees.double())
    cos, sin = torch.cos(theta), torch.sin(theta)
    k = torch.full((3,), 1.0 / math.sqrt(3.0), dtype=torch.float64)
    outer = torch.outer(k, k)
    cross = torch.tensor([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]], dtype=torch.float64)
    eye = torch.eye(3, dtype=torch.float64)
    rot = (cos[:, None, None] * eye + sin[:, None, None] * cross
           + (1.0 - cos)[:, None, None] * outer).to(x.dtype)  # (B, 3, 3)
    shape = x.shape
    flat = x.reshape(shape[0], -1, 3)
    return torch.bmm(flat, rot.transpose(1, 2)).reshape(shape)


def luma(x: Tensor) -> Tensor:
    """The grey level (Rec. 601 luma) of float RGB ``x`` (..., 3), shape (..., 1).

    The same sum in the same order as ``(x * weights).sum(-1, keepdim=True)``, without that
    frame-sized product.
    """
    return x[..., 0:1] * _LUMA[0] + x[..., 1:2] * _LUMA[1] + x[..., 2:3] * _LUMA[2]


def gaussian_blur(x: Tensor, sigma: Tensor) -> Tensor:
    """Blur float ``x`` (B, T, H, W, 3) with a Gaussian of ``sigma`` pixels (B,), one per sequence.

    Separable, as weighted sums of shifted copies (fast on CPU for these small kernels), edges
    replicated; a sigma of 0 leaves that sequence unchanged.
    """
    out = x.clone()
    for b in range(x.shape[0]):
        s = float(sigma[b])
        if s <= 0:
            continue
        radius = max(1, math.ceil(3.0 * s))
        taps = torch.arange(-radius, radius + 1, dtype=torch.float64)
        kernel = torch.exp(-0.5 * (taps / s) ** 2)
        kernel = (kernel / kernel.sum()).tolist()
        seq = x[b]  # (T, H, W, 3)
        for dim in (2, 1):  # width, then height
            size = seq.shape[dim]
            index = torch.arange(-radius, size + radius).clamp(0, size - 1)
            padded = seq.index_select(dim, index)
            acc = kernel[0] * padded.narrow(dim, 0, size)
            for k in range(1, 2 * radius + 1):
                acc.add_(padded.narrow(dim, k, size), alpha=kernel[k])
            seq = acc
        out[b] = seq
    return out


def affine_warp(x: Tensor, shift_xy: Tensor, zoom: Tensor, roll_deg: Tensor, padding: str = "border") -> Tensor:
    """Shift, zoom in and roll float ``x`` (B, T, H, W, 3), one transform per sequence; same size out.

    ``shift_xy`` (B, 2) in fractions of the width and height (positive: the content moves right and
    down), ``zoom`` (B,) >= 1 (a centred crop of ``1/zoom`` of the frame, scaled back up),
    ``roll_deg`` (B,) a rotation about the image centre (as a rolled camera sees it). Bilinear;
    outside the frame filled by ``padding`` (``border``, ``reflection`` or ``zeros``).
    """
    batch, steps, height, width, _ = x.shape
    theta = torch.deg2rad(roll_deg.double())
    aspect = width / height
    cos, sin = torch.cos(theta) / zoom.double(), torch.sin(theta) / zoom.double()
    # output -> input sampling map in normalised coordinates, rotation in pixel-isotropic units
    mat = torch.zeros(batch, 2, 3, dtype=torch.float64)
    mat[:, 0, 0], mat[:, 0, 1] = cos, -sin / aspect
    mat[:, 1, 0], mat[:, 1, 1] = sin * aspect, cos
    mat[:, 0, 2], mat[:, 1, 2] = -2.0 * shift_xy[:, 0].double(), -2.0 * shift_xy[:, 1].double()
    # one sampling grid per sequence, shared by its frames
    grid = F.affine_grid(mat.to(x.dtype), [batch, 3, height, width], align_corners=False)
    grid = grid.repeat_interleave(steps, dim=0)
    frames = x.reshape(batch * steps, height, width, 3).permute(0, 3, 1, 2)
    warped = F.grid_sample(frames, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    return warped.permute(0, 2, 3, 1).reshape(x.shape)


class ReferenceAugment(ImageAugment):
    """The augmentation that trained every checkpoint before the fast :class:`ImageAugment`, kept
    so that those runs can be repeated bit for bit (``train.augment_impl=reference``) and so that
    the fast one is tested against it. Same levers, same ranges; torch operations, noise from
    ``generator``, gamma after hue and gains. About ten times slower."""

    def __call__(self, images: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if images.dtype != torch.uint8 or images.dim() != 5 or images.shape[-1] != 3:
            raise ValueError(f"images: expected uint8 (B, T, H, W, 3), got {images.dtype} {tuple(images.shape)}")
        batch = images.shape[0]
        x = images.float()

        def uniform(*shape: int) -> Tensor:
            return torch.rand(*shape, generator=generator)

        def factor(spread: float) -> Tensor:
            return 1.0 + spread * (2.0 * uniform(batch, 1, 1, 1, 1) - 1.0)

        if self.shift > 0 or self.zoom > 0 or self.roll_deg > 0:
            shift = self.shift * (2.0 * uniform(batch, 2) - 1.0)
            zoom = 1.0 + self.zoom * uniform(batch)
            roll = self.roll_deg * (2.0 * uniform(batch) - 1.0)
            x = affine_warp(x, shift, zoom, roll, self.padding)
        if self.hue_deg > 0:
            x = rotate_hue(x, self.hue_deg * (2.0 * uniform(batch) - 1.0))
        # in place where the arithmetic allows it (the same operations in the same order, so the same
        # result bit for bit), to spare a frame-sized allocation per step: x is this call's own tensor
        if self.channel_gain > 0:
            x.mul_(1.0 + self.channel_gain * (2.0 * uniform(batch, 1, 1, 1, 3) - 1.0))
        if self.gamma > 0:
            log_g = math.log1p(self.gamma) * (2.0 * uniform(batch, 1, 1, 1, 1) - 1.0)
            x = x.clamp_(0, 255).div_(255.0).pow_(torch.exp(log_g)).mul_(255.0)
        if self.saturation > 0:
            grey = luma(x)
            x.sub_(grey).mul_(factor(self.saturation)).add_(grey)
        if self.contrast > 0:
            mean = luma(x).mean(dim=(1, 2, 3), keepdim=True)
            x.sub_(mean).mul_(factor(self.contrast)).add_(mean)
        if self.brightness > 0:
            x.mul_(factor(self.brightness))
        if self.blur_sigma > 0:
            x = gaussian_blur(x, self.blur_sigma * uniform(batch))
        if self.erase_prob > 0:
            x = self._erase(x, uniform)
        if self.noise_std > 0:
            x.add_(torch.randn(x.shape, generator=generator).mul_(self.noise_std))
        return x.round_().clamp_(0, 255).to(torch.uint8)

    def frames(self, frames: Tensor, lengths, generator: torch.Generator | None = None, draws=None) -> Tensor:
        """Sequences of equal ``lengths`` laid end to end ``(N, H, W, 3)`` -> augmented, same shape."""
        lengths = [int(n) for n in lengths]
        if draws is not None or len(set(lengths)) > 1 or sum(lengths) != frames.shape[0]:
            raise ValueError("train.augment_impl=reference augments equal-length windows only; use "
                             "train.segment_windows=1 with it, or train.augment_impl=fast")
        return self(frames.view(len(lengths), lengths[0], *frames.shape[1:]), generator).view(frames.shape)

    def _erase(self, x: Tensor, uniform) -> Tensor:
        """One rectangle of a random flat colour, with probability ``erase_prob``, per sequence or per frame."""
        batch, steps, height, width, _ = x.shape
        draws = batch if self.erase_per == "sequence" else batch * steps
        on = uniform(draws) < self.erase_prob
        area = (self.erase_area[0] + (self.erase_area[1] - self.erase_area[0]) * uniform(draws)) * height * width
        lo, hi = math.log(self.erase_aspect[0]), math.log(self.erase_aspect[1])
        aspect = torch.exp(lo + (hi - lo) * uniform(draws))
        h = (area / aspect).sqrt().round().clamp(1, height).long()
        w = (area * aspect).sqrt().round().clamp(1, width).long()
        top = (uniform(draws) * (height - h + 1)).floor().long()
        left = (uniform(draws) * (width - w + 1)).floor().long()
        colour = 255.0 * uniform(draws, 3)
        rows = torch.arange(height)
        cols = torch.arange(width)
        mask = ((rows[None, :, None] >= top[:, None, None]) & (rows[None, :, None] < (top + h)[:, None, None])
                & (cols[None, None, :] >= left[:, None, None]) & (cols[None, None, :] < (left + w)[:, None, None])
                & on[:, None, None])  # (draws, H, W)
        if self.erase_per == "sequence":
            mask = mask[:, None].expand(batch, steps, height, width)
            colour = colour[:, None].expand(batch, steps, 3)
        else:
            mask = mask.view(batch, steps, height, width)
            colour = colour.view(batch, steps, 3)
        return torch.where(mask[..., None], colour[:, :, None, None, :], x)
