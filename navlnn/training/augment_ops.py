"""The pieces the augmentations share: the luma weights, colour rotation, blur taps, warps and
the per-sequence draws of a batch (:class:`Draws`). The CPU (:mod:`navlnn.training.augment`) and
device (:mod:`navlnn.training.augment_device`) paths both build on them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

LUMA = (0.299, 0.587, 0.114)


def hue_rotation(degrees: np.ndarray) -> np.ndarray:
    """``(S, 3, 3)`` rotations of RGB about the grey axis by ``degrees`` (S,): greys stay grey,
    brightness (the mean of R, G, B) is kept, and 360 degrees is the identity."""
    theta = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    k = np.full(3, 1.0 / math.sqrt(3.0))
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return cos * np.eye(3) + sin * cross + (1.0 - cos) * np.outer(k, k)


def gaussian_taps(sigma: float) -> np.ndarray:
    """The normalised taps of a Gaussian of ``sigma`` pixels, radius ``ceil(3 sigma)`` (at least 1)."""
    radius = max(1, math.ceil(3.0 * sigma))
    taps = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 * (taps / sigma) ** 2)
    return (kernel / kernel.sum()).astype(np.float32)


def warp_theta(height: int, width: int, shift_xy: Sequence[float], zoom: float, roll_deg: float) -> np.ndarray:
    """The ``2 x 3`` output -> input map, in normalised coordinates (``torch.nn.functional.affine_grid``),
    of a shift (fractions of the frame; positive: content moves right and down), a centred zoom
    ``>= 1`` and a roll about the centre (rotation in pixel-isotropic units)."""
    theta = math.radians(roll_deg)
    aspect = width / height
    cos, sin = math.cos(theta) / zoom, math.sin(theta) / zoom
    return np.array([[cos, -sin / aspect, -2.0 * shift_xy[0]], [sin * aspect, cos, -2.0 * shift_xy[1]]])


def pixel_map(theta: np.ndarray, height: int, width: int) -> np.ndarray:
    """``theta`` (normalised, ``align_corners=False``) as the ``2 x 3`` map of pixel coordinates OpenCV takes."""
    to_norm = np.array([[2.0 / width, 0.0, 1.0 / width - 1.0], [0.0, 2.0 / height, 1.0 / height - 1.0], [0, 0, 1]])
    return (np.linalg.inv(to_norm) @ np.vstack([theta, [0.0, 0.0, 1.0]]) @ to_norm)[:2].astype(np.float32)


@dataclass
class Draws:
    """One batch's random choices, per sequence (``S`` sequences) or per erasing draw.

    ``gamma`` (S,) exponents or None; ``warp`` (S, 2, 3) normalised output -> input maps or None; ``colour`` (S, 3, 3)
    the matrix of hue, gains and saturation; ``contrast`` and ``brightness`` (S,) factors;
    ``blur_sigma`` (S,) pixels or None; ``erase`` a dict of arrays (``on``, ``top``, ``left``,
    ``height``, ``width``, ``colour``), one row per sequence or per frame, or None;
    ``noise_offset`` (S,) indices into the noise bank of ``noise_bank`` samples, or None.
    """

    gamma: Optional[np.ndarray]
    warp: Optional[np.ndarray]
    colour: np.ndarray
    contrast: np.ndarray
    brightness: np.ndarray
    blur_sigma: Optional[np.ndarray]
    erase: Optional[dict]
    noise_offset: Optional[np.ndarray]
    noise_bank: int = 0
