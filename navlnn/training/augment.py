"""Per-sequence image augmentation for behaviour cloning (as in the MIT drone work, and wider).

Every random choice that changes how a scene looks (colour, light, blur, framing, occluders) is
drawn once per sequence, so that a window stays temporally consistent: the controller sees a
plausible camera, not flicker. Only the pixel noise is new in every frame (as a sensor's is), and
random erasing can be asked per frame (``erase_per="frame"``) to teach the memory to bridge short
occlusions.

Works on the env's ``uint8`` frames and returns ``uint8`` frames of the same shape, either a batch
of equal-length sequences ``(B, T, H, W, 3)`` (:meth:`ImageAugment.__call__`) or sequences of any
lengths laid end to end ``(N, H, W, 3)`` (:meth:`ImageAugment.frames`). Every lever is off at its
neutral value (0), and a lever that is off draws no random numbers.

How it is fast (about a tenth of the cost of :class:`~navlnn.training.augment_reference.ReferenceAugment`,
the implementation that trained the checkpoints before it; ``experiments/ood_recipe/bench_augment.py``):

* the random draws of a batch are made first and are small (:meth:`ImageAugment.draw`);
* gamma is a 256-entry lookup on the ``uint8`` frame, which is also the one ``uint8 -> float``
  conversion;
* hue rotation, channel gains, saturation, contrast about the sequence's mean and brightness are
  one 3x3 matrix plus an offset per sequence, applied in one pass;
* the blur is separable, the erasing a rectangle written in place;
* the pixel noise is read from a bank of Gaussian samples drawn once per run (seeded by
  ``noise_seed``) at a random offset per sequence, each frame its own stretch, and added with
  the final rounding and clipping to ``uint8`` in the same pass;
* frames on a GPU are augmented there, in torch operations, with the same draws
  (:mod:`navlnn.training.augment_device`).

The order is gamma, geometry (shift, zoom, roll), colour, blur, erasing, noise. The reference
applied gamma after hue and gains (clipped first); where gamma is off the two give the same frames
to within one grey level for the same draws (tested), and the noise is drawn differently, so the
frames of a run differ from the reference's, not their distribution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import cv2
import numpy as np
import torch
from torch import Tensor

from navlnn.training.augment_ops import LUMA, Draws, gaussian_taps, hue_rotation, pixel_map, warp_theta

ERASE_MODES = ("sequence", "frame")
PADDING_MODES = ("border", "reflection", "zeros")
NOISE_BANK_MIN = 1 << 24   # Gaussian samples in the noise bank (64 MB), at least 4 of the longest sequence
_CV_BORDER = {"border": cv2.BORDER_REPLICATE, "reflection": cv2.BORDER_REFLECT, "zeros": cv2.BORDER_CONSTANT}


@dataclass
class ImageAugment:
    """Augmentation ranges (``conf/train/*.yaml``, ``train.augment``); 0 turns a lever off.

    Colour and light, drawn once per sequence:
      ``brightness``, ``contrast``, ``saturation``: a factor uniform in ``[1 - x, 1 + x]``;
      ``hue_deg``: a hue rotation uniform in ``[-x, +x]`` degrees (180: any hue);
      ``channel_gain``: a gain per colour channel uniform in ``[1 - x, 1 + x]``;
      ``gamma``: ``out = 255 (in / 255)^g`` with ``log g`` uniform in ``[-log(1 + x), log(1 + x)]``;
      ``blur_sigma``: a Gaussian blur of sigma uniform in ``[0, x]`` pixels.
    Geometry, drawn once per sequence (the label is kept, so keep these small):
      ``shift``: a translation uniform in ``[-x, +x]`` of the width and of the height;
      ``zoom``: a centred crop of ``1/z`` of the frame, scaled back, ``z`` uniform in ``[1, 1 + x]``;
      ``roll_deg``: a rotation about the image centre uniform in ``[-x, +x]`` degrees;
      ``padding``: what fills the uncovered border (``border``, ``reflection``, ``zeros``).
    Occlusion: ``erase_prob`` the chance of one rectangle of random flat colour, ``erase_area``
    (fraction of the frame, range) and ``erase_aspect`` (width/height, range, drawn log-uniform);
    ``erase_per``: ``sequence`` (the same rectangle in every frame of a window, a smudge on the
    lens) or ``frame`` (a new draw each frame).
    Sensor: ``noise_std``: Gaussian pixel noise in grey levels, new in every frame.
    ``noise_seed``: the seed of the run's noise bank (training sets it from the run's seed).
    """

    brightness: float = 0.3
    contrast: float = 0.3
    saturation: float = 0.3
    noise_std: float = 4.0
    hue_deg: float = 0.0
    channel_gain: float = 0.0
    gamma: float = 0.0
    blur_sigma: float = 0.0
    shift: float = 0.0
    zoom: float = 0.0
    roll_deg: float = 0.0
    padding: str = "border"
    erase_prob: float = 0.0
    erase_area: tuple[float, float] = (0.02, 0.1)
    erase_aspect: tuple[float, float] = (0.3, 3.3)
    erase_per: str = "sequence"
    noise_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("brightness", "contrast", "saturation", "noise_std", "hue_deg", "channel_gain", "gamma",
                     "blur_sigma", "shift", "zoom", "roll_deg", "erase_prob"):
            value = float(getattr(self, name))
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"train.augment.{name}: must be a finite number >= 0 (0 turns it off), "
                                 f"got {getattr(self, name)}")
        for name, limit in (("channel_gain", 1.0), ("erase_prob", 1.0), ("shift", 0.49)):
            if float(getattr(self, name)) > limit:
                raise ValueError(f"train.augment.{name}: must be <= {limit}, got {getattr(self, name)}")
        if self.erase_per not in ERASE_MODES:
            raise ValueError(f"train.augment.erase_per: unknown '{self.erase_per}'; valid: {', '.join(ERASE_MODES)}")
        if self.padding not in PADDING_MODES:
            raise ValueError(f"train.augment.padding: unknown '{self.padding}'; valid: {', '.join(PADDING_MODES)}")
        self.erase_area = (float(self.erase_area[0]), float(self.erase_area[1]))
        self.erase_aspect = (float(self.erase_aspect[0]), float(self.erase_aspect[1]))
        if not (0 < self.erase_area[0] <= self.erase_area[1] <= 1) or not (0 < self.erase_aspect[0] <= self.erase_aspect[1]):
            raise ValueError(f"train.augment.erase_area: must be 0 < low <= high <= 1 and erase_aspect 0 < low <= high, "
                             f"got {list(self.erase_area)}, {list(self.erase_aspect)}")
        self._banks: dict[int, np.ndarray] = {}

    # ------------------------------------------------------------------ draws

    @property
    def geometric(self) -> bool:
        return self.shift > 0 or self.zoom > 0 or self.roll_deg > 0

    def draw(self, lengths: Sequence[int], hw: Sequence[int], generator: Optional[torch.Generator] = None) -> Draws:
        """The random choices for sequences of ``lengths`` frames of ``hw`` (height, width) pixels.

        Uniform numbers come from ``generator`` in the reference's order (geometry, hue, gains,
        gamma, saturation, contrast, brightness, blur, erasing), so the two draw the same scene
        looks from the same generator.
        """
        count = len(lengths)
        height, width = int(hw[0]), int(hw[1])

        def uniform(*shape: int) -> np.ndarray:
            return torch.rand(*shape, generator=generator).double().numpy()

        def factor(spread: float) -> np.ndarray:
            return 1.0 + spread * (2.0 * uniform(count) - 1.0) if spread > 0 else np.ones(count)

        warp = None
        if self.geometric:
            shift = self.shift * (2.0 * uniform(count, 2) - 1.0)
            zoom = 1.0 + self.zoom * uniform(count)
            roll = self.roll_deg * (2.0 * uniform(count) - 1.0)
            warp = np.stack([warp_theta(height, width, shift[s], zoom[s], roll[s]) for s in range(count)])
        colour = np.broadcast_to(np.eye(3), (count, 3, 3)).copy()
        if self.hue_deg > 0:
            colour = hue_rotation(self.hue_deg * (2.0 * uniform(count) - 1.0))
        if self.channel_gain > 0:
            colour = (1.0 + self.channel_gain * (2.0 * uniform(count, 3) - 1.0))[:, :, None] * colour
        gamma = None
        if self.gamma > 0:
            gamma = np.exp(math.log1p(self.gamma) * (2.0 * uniform(count) - 1.0))
        if self.saturation > 0:
            sat = factor(self.saturation)[:, None, None]
            to_grey = np.broadcast_to(np.array(LUMA), (3, 3))   # every row: the luma weights
            colour = (sat * np.eye(3) + (1.0 - sat) * to_grey) @ colour
        contrast = factor(self.contrast)
        brightness = factor(self.brightness)
        blur = self.blur_sigma * uniform(count) if self.blur_sigma > 0 else None
        erase = self._draw_erase(lengths, height, width, uniform) if self.erase_prob > 0 else None
        noise, bank = None, 0
        if self.noise_std > 0:   # one bank for the whole batch, sized by its longest sequence
            longest = max(lengths) * height * width * 3
            bank = max(NOISE_BANK_MIN, 1 << math.ceil(math.log2(4 * longest)))
            noise = np.floor(uniform(count) * (bank - longest + 1)).astype(np.int64)
        return Draws(gamma, warp, colour, contrast, brightness, blur, erase, noise, bank)

    def _draw_erase(self, lengths: Sequence[int], height: int, width: int, uniform) -> dict:
        draws = len(lengths) if self.erase_per == "sequence" else int(sum(lengths))
        on = uniform(draws) < self.erase_prob
        area = (self.erase_area[0] + (self.erase_area[1] - self.erase_area[0]) * uniform(draws)) * height * width
        lo, hi = math.log(self.erase_aspect[0]), math.log(self.erase_aspect[1])
        aspect = np.exp(lo + (hi - lo) * uniform(draws))
        h = np.clip(np.round(np.sqrt(area / aspect)), 1, height).astype(np.int64)
        w = np.clip(np.round(np.sqrt(area * aspect)), 1, width).astype(np.int64)
        top = np.floor(uniform(draws) * (height - h + 1)).astype(np.int64)
        left = np.floor(uniform(draws) * (width - w + 1)).astype(np.int64)
        colour = (255.0 * uniform(draws, 3)).astype(np.float32)
        return {"on": on, "top": top, "left": left, "height": h, "width": w, "colour": colour}

    def _bank(self, size: int) -> np.ndarray:
        """``size`` samples of Gaussian noise of ``noise_std`` grey levels, a pure function of
        ``noise_seed`` and ``size``, drawn on first use (the CPU path only)."""
        if size not in self._banks:
            rng = np.random.default_rng([int(self.noise_seed), size])
            self._banks[size] = (rng.standard_normal(size, dtype=np.float32) * np.float32(self.noise_std))
        return self._banks[size]

    # ------------------------------------------------------------------ application

    def __call__(self, images: Tensor, generator: Optional[torch.Generator] = None) -> Tensor:
        """``uint8 (B, T, H, W, 3)`` -> augmented ``uint8 (B, T, H, W, 3)``, one draw per sequence."""
        if not isinstance(images, Tensor) or images.dtype != torch.uint8 or images.dim() != 5 or images.shape[-1] != 3:
            raise ValueError(f"images: expected uint8 (B, T, H, W, 3), got {getattr(images, 'dtype', type(images))} "
                             f"{tuple(getattr(images, 'shape', ()))}")
        batch, steps = images.shape[:2]
        out = self.frames(images.reshape(-1, *images.shape[2:]), [steps] * batch, generator)
        return out.view(images.shape)

    def frames(self, frames: Tensor, lengths: Sequence[int], generator: Optional[torch.Generator] = None,
               draws: Optional[Draws] = None) -> Tensor:
        """``uint8 (N, H, W, 3)``: sequences of ``lengths`` frames end to end -> augmented, same shape.

        ``draws`` (from :meth:`draw`) replaces the draws from ``generator``.
        """
        if frames.dtype != torch.uint8 or frames.dim() != 4 or frames.shape[-1] != 3:
            raise ValueError(f"frames: expected uint8 (N, H, W, 3), got {frames.dtype} {tuple(frames.shape)}")
        lengths = [int(n) for n in lengths]
        if sum(lengths) != frames.shape[0] or min(lengths, default=1) < 1:
            raise ValueError(f"lengths: {lengths} must be >= 1 each and add up to the {frames.shape[0]} frames")
        height, width = int(frames.shape[1]), int(frames.shape[2])
        if draws is None:
            draws = self.draw(lengths, (height, width), generator)
        if frames.device.type != "cpu":   # frames already on an accelerator: augmented there, noise drawn there
            from navlnn.training.augment_device import augment_on_device

            noise = torch.Generator(device=frames.device)
            noise.manual_seed(int(torch.randint(0, 2**62, (1,), generator=generator)))
            return augment_on_device(self, frames, lengths, draws, noise)
        source = np.ascontiguousarray(frames.numpy())
        out = np.empty_like(source)
        first = 0
        for s, count in enumerate(lengths):
            self._sequence(source[first:first + count], out[first:first + count], draws, s, first)
            first += count
        return torch.from_numpy(out)

    def _sequence(self, src: np.ndarray, dst: np.ndarray, d: Draws, s: int, first_frame: int) -> None:
        """Augment one sequence ``src`` (T, H, W, 3) uint8 into ``dst``."""
        steps, height, width, _ = src.shape
        rows = src.reshape(steps * height, width, 3)   # OpenCV sees a sequence as one tall image
        if d.gamma is not None:
            lut = (255.0 * (np.arange(256) / 255.0) ** d.gamma[s]).astype(np.float32)
        else:
            lut = np.arange(256, dtype=np.float32)
        x = cv2.LUT(rows, lut)                                     # the one uint8 -> float conversion
        if d.warp is not None:
            x = x.reshape(steps, height, width, 3)
            border = _CV_BORDER[self.padding]
            flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
            matrix = pixel_map(d.warp[s], height, width)
            x = np.stack([cv2.warpAffine(frame, matrix, (width, height), flags=flags, borderMode=border,
                                         borderValue=0) for frame in x]).reshape(steps * height, width, 3)
        mean = np.asarray(cv2.mean(x)[:3])                         # the sequence's mean colour
        # colour matrix, then contrast about the mean grey level of the result, then brightness
        grey = float(np.dot(LUMA, d.colour[s] @ mean))
        matrix = d.brightness[s] * d.contrast[s] * d.colour[s]
        offset = d.brightness[s] * (1.0 - d.contrast[s]) * grey
        x = cv2.transform(x, np.hstack([matrix, np.full((3, 1), offset)]).astype(np.float32))
        frames = x.reshape(steps, height, width, 3)
        if d.blur_sigma is not None and d.blur_sigma[s] > 0:
            taps = gaussian_taps(float(d.blur_sigma[s]))
            for t in range(steps):
                cv2.sepFilter2D(frames[t], -1, taps, taps, dst=frames[t], borderType=cv2.BORDER_REPLICATE)
        if d.erase is not None:
            self._apply_erase(frames, d.erase, s if self.erase_per == "sequence" else None, first_frame)
        if d.noise_offset is not None:
            noise = self._bank(d.noise_bank)[d.noise_offset[s]:d.noise_offset[s] + frames.size].reshape(x.shape)
            cv2.add(x, noise, dst=dst.reshape(steps * height, width, 3), dtype=cv2.CV_8U)
        else:
            np.clip(np.rint(x), 0, 255, out=x)
            dst.reshape(steps * height, width, 3)[...] = x

    def _apply_erase(self, frames: np.ndarray, erase: dict, sequence: Optional[int], first_frame: int) -> None:
        """Write the erasing rectangles of one sequence (its own draw, or one draw per frame) into ``frames``."""
        if sequence is not None:
            targets = [(slice(None), sequence)]   # one rectangle through every frame
        else:
            targets = [(t, first_frame + t) for t in range(len(frames))]
        for t, row in targets:
            if erase["on"][row]:
                top, left = erase["top"][row], erase["left"][row]
                frames[t, top:top + erase["height"][row], left:left + erase["width"][row]] = erase["colour"][row]
