"""The ground plane, drawn in image space: every pixel whose ray hits ``z = 0`` and nothing
else is coloured from a tiled texture and painted stripes (roads), lit like the scene.

Drawing the ground per pixel with numpy is exact and costs a fraction of rasterising two
huge triangles with the TinyRenderer, whose cost grows with each triangle's screen box.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import cv2
import numpy as np

MIP_LEVELS = 4  # texture blurred by 1, 2, 4, 8 texels for distant ground (no shimmer)
WRAP_OFFSET = 2.0**20  # texels added before truncating to an index, so that it floors for any x > -offset


def ground_texture(cfg: Mapping, seed: int = 0) -> np.ndarray:
    """A deterministic, tileable ground texture (RGB uint8): blotches of the ground colours."""
    size = int(cfg.get("texture_px", 64))
    colors = np.asarray(cfg["colors"], dtype=float)
    rng = np.random.default_rng(seed)
    img = np.empty((size, size, 3))
    img[:] = colors[0]
    pad = size // 2
    for color in colors[1:3]:
        # blur a wrapped copy so that the texture tiles without seams
        noise = np.pad(rng.standard_normal((size, size)), pad, mode="wrap")
        noise = cv2.GaussianBlur(noise, (0, 0), sigmaX=size / 16)[pad:-pad, pad:-pad]
        img[noise > np.quantile(noise, 0.55)] = color
    for color in colors[3:]:
        img[rng.random((size, size)) < 0.04] = color
    img += rng.normal(0.0, 5.0, size=img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


@dataclass
class Stripe:
    """A straight band on the ground along world ``axis`` (0: along x, 1: along y).

    ``center`` is its position across the axis and ``half_width`` its half width (m); with
    ``repeat`` > 0 the band repeats every ``repeat`` metres across the axis (a street grid);
    with ``dash_period`` > 0 it is dashed, ``dash_fill`` of each period painted.
    """

    axis: int
    center: float
    half_width: float
    color: tuple[int, int, int]
    repeat: float = 0.0
    dash_period: float = 0.0
    dash_fill: float = 0.5

    def covers(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Mask of the ground points (x, y) on the stripe."""
        across = (y if self.axis == 0 else x) - np.float32(self.center)
        if self.repeat > 0:
            across = across - np.float32(self.repeat) * np.floor(across * np.float32(1.0 / self.repeat) + 0.5)
        on = np.abs(across) <= np.float32(self.half_width)
        if self.dash_period > 0:
            along = (x if self.axis == 0 else y) * np.float32(1.0 / self.dash_period)
            on &= (along - np.floor(along)) < np.float32(self.dash_fill)
        return on


@dataclass
class Ground:
    """Texture, tile size and stripes of the ground of a scene."""

    texture: np.ndarray
    tile: float
    stripes: list[Stripe] = field(default_factory=list)

    def __post_init__(self):
        tex = self.texture.astype(np.float32)
        size = tex.shape[0]
        levels = [tex]
        for k in range(1, MIP_LEVELS):
            sigma = 2.0 ** (k - 1)
            pad = size // 2
            wrapped = np.pad(tex, ((pad, pad), (pad, pad), (0, 0)), mode="wrap")
            levels.append(cv2.GaussianBlur(wrapped, (0, 0), sigmaX=sigma)[pad:-pad, pad:-pad])
        self._flat = np.ascontiguousarray(np.stack(levels).reshape(-1, 3))  # level, row, column -> RGB
        self._size = size
        self._level_edges = np.zeros(MIP_LEVELS - 1, dtype=np.float32)
        self._gain_key, self._gain = None, None
        self._stripe_table = None
        if size & (size - 1):
            raise ValueError(f"ground texture_px must be a power of two, got {size}")

    def shade(self, light: Mapping) -> float:
        """Brightness of the flat ground under ``light`` (ambient plus diffuse)."""
        d = np.asarray(light["direction"], dtype=float)
        cos = max(0.0, d[2] / max(np.linalg.norm(d), 1e-9))
        return float(light["ambient"]) + float(light["diffuse"]) * cos

    def paint(self, img: np.ndarray, depth: np.ndarray, empty: np.ndarray, eye, dirs: np.ndarray,
              forward_component: np.ndarray, light: Mapping, far: float, pixel_angle: float) -> None:
        """Colour the ``empty`` pixels whose ray (``dirs``, world, unit) hits the ground.

        ``forward_component`` is each ray's component along the camera axis (H x W), to turn
        distances along rays into depths along the view axis. Writes into ``img`` (float32
        RGB) and ``depth`` (metres).
        """
        if eye[2] <= 0:
            return
        down = np.minimum(dirs[..., 2], np.float32(-1e-6))
        t = np.float32(-eye[2]) / down
        view_depth = t * forward_component
        hit = empty & (view_depth < far)
        hit &= dirs[..., 2] < 0
        if not hit.any():
            return
        x = t * dirs[..., 0]
        x += np.float32(eye[0])
        y = t * dirs[..., 1]
        y += np.float32(eye[1])
        # blur level from the texel footprint of one pixel (grows with range, shrinks with slope)
        reach = t / np.maximum(-down, np.float32(0.05))
        level = (reach > self._level_edges[0]).astype(np.int32)
        for edge in self._level_edges[1:]:
            level += reach > edge
        size = self._size
        scale = np.float32(size / self.tile)
        u = (x * scale + np.float32(WRAP_OFFSET)).astype(np.int32) & (size - 1)
        v = (y * scale + np.float32(WRAP_OFFSET)).astype(np.int32) & (size - 1)
        level *= size
        level += v
        level *= size
        level += u
        flat = np.flatnonzero(hit)
        color = self._flat.take(level.reshape(-1)[flat], axis=0)
        if self.stripes:  # painted in order: the last stripe covering a point wins
            which = np.zeros(len(flat), dtype=np.int32)
            xs, ys = x.reshape(-1)[flat], y.reshape(-1)[flat]
            for k, stripe in enumerate(self.stripes, start=1):
                which[stripe.covers(xs, ys)] = k
            painted = np.flatnonzero(which)
            color[painted] = self._stripe_colors.take(which[painted], axis=0)
        img.reshape(-1, 3)[flat] = color * self._light_gain(light)
        depth.reshape(-1)[flat] = view_depth.reshape(-1)[flat]

    @property
    def _stripe_colors(self) -> np.ndarray:
        """Row k is the colour of stripe k (row 0 unused)."""
        if self._stripe_table is None or len(self._stripe_table) != len(self.stripes) + 1:
            self._stripe_table = np.array([(0, 0, 0)] + [s.color for s in self.stripes], dtype=np.float32)
        return self._stripe_table

    def _light_gain(self, light: Mapping) -> np.ndarray:
        """Per-channel gain of the lit ground (cached per light)."""
        key = id(light)
        if self._gain_key != key:
            self._gain_key = key
            self._gain = (self.shade(light) * np.asarray(light["color"], dtype=np.float32)).astype(np.float32)
        return self._gain

    def set_pixel_angle(self, pixel_angle: float) -> None:
        """Prepare the blur-level thresholds for a camera whose pixels subtend ``pixel_angle`` rad."""
        # footprint in texels = range * pixel_angle / sin(elevation) * texels per metre; a level
        # per doubling of the footprint beyond one texel
        per_unit = pixel_angle * self._size / self.tile
        self._level_edges = np.array([2.0 ** k / per_unit for k in range(MIP_LEVELS - 1)], dtype=np.float32)
