"""The perception front-end: a small convolutional trunk from camera frames to a feature vector.

Like the trunk of the MIT liquid-network drone policies (five convolutions, then a linear
projection), sized for navlnn's default 128 x 72 camera. Images enter as the env gives them,
``uint8`` ``(..., H, W, 3)`` RGB; scaling and normalisation happen inside, so an exported graph
takes raw frames.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor, nn


class ConvTrunk(nn.Module):
    """``uint8 (N, H, W, 3) -> (N, feature_dim)``.

    Args:
        image_hw: camera height and width in pixels.
        channels: output channels of each convolution.
        kernels: kernel size of each convolution.
        strides: stride of each convolution.
        feature_dim: width of the final linear projection (the features the controller sees).
        dropout: dropout before the projection (0 disables).
    """

    def __init__(
        self,
        image_hw: Sequence[int],
        channels: Sequence[int] = (24, 36, 48, 64, 64),
        kernels: Sequence[int] = (5, 5, 3, 3, 3),
        strides: Sequence[int] = (2, 2, 2, 1, 1),
        feature_dim: int = 32,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(image_hw) != 2 or min(image_hw) < 8:
            raise ValueError(f"image_hw must be (height, width) of at least 8 px, got {tuple(image_hw)}")
        if not len(channels) == len(kernels) == len(strides) >= 1:
            raise ValueError(
                f"channels, kernels and strides must have the same length >= 1, got "
                f"{len(channels)}, {len(kernels)}, {len(strides)}"
            )
        self.image_hw = (int(image_hw[0]), int(image_hw[1]))
        self.feature_dim = int(feature_dim)
        layers: list[nn.Module] = []
        c_in = 3
        for c_out, k, s in zip(channels, kernels, strides):
            layers += [nn.Conv2d(c_in, c_out, k, stride=s, padding=k // 2), nn.GELU()]
            c_in = c_out
        self.convs = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, 3, *self.image_hw)).numel()
        self.project = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(flat, self.feature_dim))
        # per-channel normalisation of [0, 1] RGB (ImageNet statistics: a neutral, well-known choice)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def normalise(self, images: Tensor) -> Tensor:
        """``uint8 (N, H, W, 3) -> float (N, 3, H, W)``, scaled to [0, 1] and standardised."""
        x = images.permute(0, 3, 1, 2).to(self.mean.dtype) / 255.0
        return (x - self.mean) / self.std

    def forward(self, images: Tensor) -> Tensor:
        if images.dim() != 4 or tuple(images.shape[1:]) != (*self.image_hw, 3):
            raise ValueError(
                f"images: expected (N, {self.image_hw[0]}, {self.image_hw[1]}, 3) uint8 frames, got "
                f"{tuple(images.shape)}; the policy was built for a {self.image_hw[1]}x{self.image_hw[0]} camera"
            )
        return self.project(self.convs(self.normalise(images)))


@torch.no_grad()
def visual_backprop(trunk: ConvTrunk, images: Tensor, scale: bool = True) -> Tensor:
    """VisualBackProp saliency (Bojarski et al., 2016) of ``trunk`` for ``uint8 (N, H, W, 3)`` frames.

    The feature maps after each convolution's activation are averaged over channels; starting
    from the deepest, the map is scaled up to the previous layer's size by a transposed
    convolution with the layer's kernel size and stride (weights all ones) and multiplied with that
    layer's averaged map, down to the input. Returns ``(N, H, W)`` float maps, each scaled to
    ``[0, 1]`` (all zeros where a frame has no salient pixel); ``scale=False``: the raw maps
    (non-negative, comparable between frames; what attention metrics measure).
    """
    if images.dim() != 4 or tuple(images.shape[1:]) != (*trunk.image_hw, 3):
        raise ValueError(f"images: expected (N, {trunk.image_hw[0]}, {trunk.image_hw[1]}, 3) uint8 frames, "
                         f"got {tuple(images.shape)}")
    x = trunk.normalise(images)
    sizes = [tuple(x.shape[-2:])]
    convs: list[nn.Conv2d] = []
    averaged: list[Tensor] = []
    for layer in trunk.convs:
        x = layer(x)
        if isinstance(layer, nn.Conv2d):
            convs.append(layer)
        else:  # the activation after a convolution
            averaged.append(x.mean(dim=1, keepdim=True).clamp_min(0.0))
            sizes.append(tuple(x.shape[-2:]))
    mask = averaged[-1]
    for i in range(len(convs) - 1, -1, -1):
        conv = convs[i]
        k, s, p = conv.kernel_size, conv.stride, conv.padding
        target = sizes[i]
        extra = [target[d] - ((mask.shape[-2 + d] - 1) * s[d] - 2 * p[d] + k[d]) for d in range(2)]
        pad = [min(max(e, 0), s[d] - 1) for d, e in enumerate(extra)]
        ones = mask.new_ones(1, 1, *k)
        mask = nn.functional.conv_transpose2d(mask, ones, stride=s, padding=p, output_padding=tuple(pad))
        if tuple(mask.shape[-2:]) != target:
            mask = nn.functional.interpolate(mask, size=target, mode="bilinear", align_corners=False)
        if i > 0:
            mask = mask * averaged[i - 1]
    mask = mask[:, 0]
    return unit_scale(mask) if scale else mask


def unit_scale(maps: Tensor) -> Tensor:
    """Each ``(H, W)`` map of ``(N, H, W)`` scaled to ``[0, 1]`` by its own minimum and maximum
    (all zeros where a map is flat): :func:`visual_backprop`'s display scaling of its raw maps."""
    low = maps.flatten(1).min(1).values.view(-1, 1, 1)
    high = maps.flatten(1).max(1).values.view(-1, 1, 1)
    span = high - low
    return torch.where(span > 0, (maps - low) / span.clamp_min(torch.finfo(maps.dtype).tiny), torch.zeros_like(maps))
