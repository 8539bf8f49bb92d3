"""What a policy's frames go through on their way from the camera: image perturbations and
irregular frame timing (the stress options of evaluation, video and DAgger flights).

Both are seeded per episode (the actor hands them a ``numpy.random.Generator``, see
:mod:`navlnn.rollout.seeds`), so a stressed flight is as reproducible as a clean one. Settings
are the ``stress:`` section of ``conf/eval.yaml``; neutral values switch a perturbation off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import cv2
import numpy as np

from navlnn.rollout.noise import known_keys

_LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 weights: grey level of an RGB pixel


@dataclass(frozen=True)
class ImagePerturbation:
    """Perturbations of the frames the policy sees (not of what the env renders): a camera roll,
    then photometric changes, in the order of the arguments.

    Args:
        roll_deg: the image turned about its centre by this angle in degrees, counter-clockwise
            (a camera rolled clockwise); corners the turn brings in are filled by reflection
            (``0``: none; ``180``: upside down, exactly).
        brightness: added to every pixel, as a share of full scale (``0.2``: +51 levels).
        contrast: factor around the image's mean grey (``1``: unchanged).
        saturation: factor of the colour around each pixel's grey level (``0``: black and white).
        noise: standard deviation of per-pixel Gaussian noise, as a share of full scale.
        blur: standard deviation of a Gaussian blur in pixels (``0``: none).
    """

    roll_deg: float = 0.0
    brightness: float = 0.0
    contrast: float = 1.0
    saturation: float = 1.0
    noise: float = 0.0
    blur: float = 0.0

    @classmethod
    def from_config(cls, cfg: Mapping | None) -> "ImagePerturbation":
        """Build from a mapping, naming unknown keys and out-of-range values."""
        cfg = known_keys("stress.image", cfg, (f.name for f in fields(cls)))
        out = cls(**{k: float(v) for k, v in cfg.items()})
        for key in ("contrast", "saturation", "noise", "blur"):
            if getattr(out, key) < 0:
                raise ValueError(f"stress.image.{key} must be >= 0, got {getattr(out, key)}")
        return out

    @property
    def active(self) -> bool:
        return self != ImagePerturbation()

    def describe(self) -> str:
        """``brightness=+0.2,noise=0.05`` for the values that differ from neutral (``""`` if none)."""
        neutral = ImagePerturbation()
        return ",".join(f"{f.name}={getattr(self, f.name):g}" for f in fields(self)
                        if getattr(self, f.name) != getattr(neutral, f.name))

    def __call__(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The perturbed copy of ``image`` (uint8 ``H x W x 3`` RGB)."""
        if not self.active:
            return image
        if self.roll_deg % 360.0 != 0.0:
            image = roll(image, self.roll_deg)
        x = image.astype(np.float32) / 255.0
        if self.blur > 0:
            x = cv2.GaussianBlur(x, (0, 0), sigmaX=self.blur, sigmaY=self.blur, borderType=cv2.BORDER_REFLECT)
        if self.saturation != 1.0:
            grey = (x @ _LUMA.astype(np.float32))[..., None]
            x = grey + self.saturation * (x - grey)
        if self.contrast != 1.0:
            x = x.mean() + self.contrast * (x - x.mean())
        x = x + self.brightness
        if self.noise > 0:
            x = x + rng.normal(0.0, self.noise, x.shape).astype(np.float32)
        return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def roll(image: np.ndarray, degrees: float) -> np.ndarray:
    """``image`` (``H x W x C``) turned counter-clockwise about its centre by ``degrees``.

    The centre is that of the pixel grid, so 180 degrees maps pixels onto pixels (twice: the
    image itself); the corners that come in from outside are filled by reflection.
    """
    h, w = image.shape[:2]
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), float(degrees), 1.0)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


@dataclass(frozen=True)
class FrameTiming:
    """Dropped and mistimed frames: the policy runs at irregular intervals.

    Args:
        drop: probability that a frame never reaches the policy; the previous command is held,
            and the next frame that arrives comes with the whole elapsed time as its ``dt``.
        jitter: relative error of the timestamps: the ``dt`` the policy is told is the true one
            times ``1 + u``, ``u`` uniform in ``[-jitter, jitter]``.
    """

    drop: float = 0.0
    jitter: float = 0.0

    @classmethod
    def from_config(cls, cfg: Mapping | None) -> "FrameTiming":
        cfg = known_keys("stress.frames", cfg, (f.name for f in fields(cls)))
        out = cls(**{k: float(v) for k, v in cfg.items()})
        if not 0.0 <= out.drop < 1.0:
            raise ValueError(f"stress.frames.drop must be in [0, 1), got {out.drop}")
        if not 0.0 <= out.jitter < 1.0:
            raise ValueError(f"stress.frames.jitter must be in [0, 1), got {out.jitter}")
        return out

    @property
    def active(self) -> bool:
        return self.drop > 0 or self.jitter > 0

    def describe(self) -> str:
        return ",".join(f"{k}={v:g}" for k, v in (("drop", self.drop), ("jitter", self.jitter)) if v > 0)

    def dropped(self, rng: np.random.Generator) -> bool:
        """Whether this frame is lost (the first frame of an episode is never dropped by the runner)."""
        return self.drop > 0 and bool(rng.random() < self.drop)

    def reported_dt(self, elapsed: float, rng: np.random.Generator) -> float:
        """The ``dt`` the policy is told for ``elapsed`` true seconds."""
        if self.jitter <= 0:
            return elapsed
        return elapsed * (1.0 + float(rng.uniform(-self.jitter, self.jitter)))
