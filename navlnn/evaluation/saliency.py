"""VisualBackProp saliency of a policy's trunk and the attention metrics measured on it.

* :func:`saliency_maps`: the maps of many frames (the video's overlay; batched).
* :func:`target_attention`: the share of a frame's saliency that falls on the target's pixels,
  divided by the share of the image those pixels cover (1: no more than chance; above 1: the
  policy looks at the target).
* :func:`saliency_ssim`: the structural similarity (SSIM) of the saliency of a frame and of the
  same frame perturbed, as the MIT liquid-network drone code measures robustness of attention:
  both raw maps scaled to ``[0, 1]`` by their joint minimum and maximum, then SSIM with
  ``data_range=1`` and scikit-image's defaults (7 x 7 uniform window, ``K1=0.01``, ``K2=0.03``,
  sample covariances, the mean over the windows that fit inside the map).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np

SALIENCY_BATCH = 64  # frames per VisualBackProp pass
SSIM_WINDOW = 7
SSIM_K1, SSIM_K2 = 0.01, 0.03


def _trunk(policy: Any) -> Any:
    return getattr(policy, "trunk", policy)


def saliency_maps(policy: Any, images: np.ndarray, scale: bool = True) -> np.ndarray:
    """VisualBackProp maps ``(T, H, W)`` of ``policy``'s trunk (or a trunk) for frames ``(T, H, W, 3)``.

    ``scale``: each map scaled to ``[0, 1]`` (for display); else the raw, non-negative maps.
    """
    import torch

    from navlnn.policies.trunk import visual_backprop

    trunk = _trunk(policy)
    device = next(trunk.parameters()).device
    with torch.inference_mode():
        out = [visual_backprop(trunk, torch.as_tensor(np.ascontiguousarray(images[i:i + SALIENCY_BATCH]),
                                                      device=device), scale=scale).float().cpu().numpy()
               for i in range(0, len(images), SALIENCY_BATCH)]
    return np.concatenate(out) if out else np.zeros((0, *images.shape[1:3]), np.float32)


def target_attention(saliency: np.ndarray, mask: np.ndarray) -> float:
    """``(saliency inside mask / all saliency) / (mask pixels / all pixels)``; 1 is chance.

    ``saliency``: a non-negative map ``(H, W)``; ``mask``: bool ``(H, W)``, the target's pixels.
    NaN where the mask is empty (target not seen) or the map has no saliency at all.
    """
    sal = np.asarray(saliency, np.float64)
    mask = np.asarray(mask, bool)
    if sal.shape != mask.shape:
        raise ValueError(f"saliency {sal.shape} and mask {mask.shape} must have the same shape")
    if np.any(sal < 0):
        raise ValueError("saliency must be non-negative (use the raw VisualBackProp maps)")
    total, area = float(sal.sum()), int(mask.sum())
    if area == 0 or total <= 0:
        return math.nan
    return (float(sal[mask].sum()) / total) / (area / mask.size)


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0, win_size: int = SSIM_WINDOW) -> float:
    """Mean structural similarity of two grey images (Wang et al., 2004), as scikit-image computes it
    by default: a ``win_size`` square uniform window, ``K1=0.01``, ``K2=0.03``, sample (N - 1)
    covariances, averaged over the windows that lie wholly inside the image."""
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"ssim needs two 2-D images of one shape, got {x.shape} and {y.shape}")
    if win_size % 2 == 0 or win_size < 3 or min(x.shape) < win_size:
        raise ValueError(f"win_size must be odd, >= 3 and fit the image {x.shape}, got {win_size}")
    n = win_size * win_size
    cov_norm = n / (n - 1.0)

    def mean(img: np.ndarray) -> np.ndarray:
        return cv2.blur(img, (win_size, win_size), borderType=cv2.BORDER_REFLECT_101)

    ux, uy = mean(x), mean(y)
    vx = cov_norm * (mean(x * x) - ux * ux)
    vy = cov_norm * (mean(y * y) - uy * uy)
    vxy = cov_norm * (mean(x * y) - ux * uy)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (win_size - 1) // 2
    return float(s[pad:s.shape[0] - pad, pad:s.shape[1] - pad].mean())


def saliency_ssim(clean: np.ndarray, perturbed: np.ndarray) -> float:
    """SSIM of two raw saliency maps after scaling both to ``[0, 1]`` by their joint range
    (as the MIT code does, so a weaker map counts as a change); 1 where both are the same constant."""
    x, y = np.asarray(clean, np.float64), np.asarray(perturbed, np.float64)
    low, high = min(x.min(), y.min()), max(x.max(), y.max())
    if high <= low:
        return 1.0
    return ssim((x - low) / (high - low), (y - low) / (high - low), data_range=1.0)
