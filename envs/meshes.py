"""Low-poly mesh building for the scene: flat-shaded triangles with palette UVs.

A :class:`MeshBuilder` collects many small parts (prisms, cones, blobs, boxes) into one
vertex/index list whose texture coordinates point at cells of a palette texture, so that
one PyBullet visual shape can carry many objects of many colours.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

# a unit icosahedron (12 vertices, 20 faces): the blob used for canopies, bushes and rocks
_T = (1.0 + math.sqrt(5.0)) / 2.0
_ICO_V = np.array(
    [(-1, _T, 0), (1, _T, 0), (-1, -_T, 0), (1, -_T, 0), (0, -1, _T), (0, 1, _T),
     (0, -1, -_T), (0, 1, -_T), (_T, 0, -1), (_T, 0, 1), (-_T, 0, -1), (-_T, 0, 1)], dtype=float)
_ICO_V /= np.linalg.norm(_ICO_V[0])
_ICO_F = np.array(
    [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4), (11, 10, 2),
     (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8), (3, 8, 9), (4, 9, 5),
     (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)], dtype=int)


class Palette:
    """A grid of flat colours in one small texture; ``uv(slot)`` is the centre of a cell."""

    def __init__(self, cells: int = 16, cell_px: int = 4):
        self.cells = cells
        self.cell_px = cell_px
        self.colors: list[tuple[int, int, int]] = []
        self._index: dict[tuple[int, int, int], int] = {}

    def slot(self, rgb) -> int:
        """Slot of colour ``rgb`` (0-255 ints), added when new."""
        key = tuple(int(round(c)) for c in rgb[:3])
        if key not in self._index:
            if len(self.colors) >= self.cells * self.cells:
                raise ValueError(f"palette full ({self.cells * self.cells} colours)")
            self._index[key] = len(self.colors)
            self.colors.append(key)
        return self._index[key]

    def uv(self, slot: int) -> tuple[float, float]:
        """Texture coordinate of the centre of ``slot`` (v runs bottom to top)."""
        row, col = divmod(slot, self.cells)
        return (col + 0.5) / self.cells, 1.0 - (row + 0.5) / self.cells

    def image(self) -> np.ndarray:
        """The palette as an RGB uint8 image."""
        size = self.cells * self.cell_px
        img = np.zeros((size, size, 3), dtype=np.uint8)
        for i, rgb in enumerate(self.colors):
            row, col = divmod(i, self.cells)
            img[row * self.cell_px:(row + 1) * self.cell_px, col * self.cell_px:(col + 1) * self.cell_px] = rgb
        return img


class MeshBuilder:
    """Accumulates flat-shaded triangles (counter-clockwise seen from outside).

    Parts are stored as triangle arrays and turned into PyBullet's vertex, normal, uv and
    index lists once, on first access to :attr:`vertices` (and friends).
    """

    def __init__(self, palette: Palette):
        self.palette = palette
        self._tris: list[np.ndarray] = []
        self._uv: list[tuple[tuple[float, float], int]] = []
        self._count = 0
        self._built: dict | None = None

    def __len__(self) -> int:
        return self._count

    def triangles(self, verts: np.ndarray, faces: np.ndarray, rgb) -> None:
        """Add triangles ``faces`` (F, 3) over ``verts`` (V, 3), one flat colour."""
        self._tris.append(np.asarray(verts, dtype=float)[faces])
        self._uv.append((self.palette.uv(self.palette.slot(rgb)), len(faces)))
        self._count += len(faces)
        self._built = None

    def _build(self) -> dict:
        if self._built is None:
            tri = np.concatenate(self._tris) if self._tris else np.zeros((0, 3, 3))
            normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
            normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
            # one list object per colour and per face normal, shared by the vertices that use it
            slot_uv: dict[tuple[float, float], list[float]] = {}
            uvs: list = []
            for u, n in self._uv:
                uvs.extend([slot_uv.setdefault(u, list(u))] * (3 * n))
            self._built = {
                "vertices": tri.reshape(-1, 3).tolist(),
                "normals": [n for n in normals.tolist() for _ in range(3)],
                "uvs": uvs,
                "indices": index_range(3 * len(tri)),
            }
        return self._built

    @property
    def vertices(self) -> list:
        """Vertex positions, three per triangle."""
        return self._build()["vertices"]

    @property
    def normals(self) -> list:
        """Face normals, repeated per vertex (flat shading)."""
        return self._build()["normals"]

    @property
    def uvs(self) -> list:
        """Palette texture coordinates per vertex."""
        return self._build()["uvs"]

    @property
    def indices(self) -> list:
        """Triangle vertex indices."""
        return self._build()["indices"]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned bounding box (low, high corners)."""
        tri = np.concatenate(self._tris).reshape(-1, 3)
        return tri.min(axis=0), tri.max(axis=0)

    def prism(self, center, radius: float, height: float, sides: int, rgb, top_radius: float | None = None,
              tilt=None) -> None:
        """A vertical prism (or frustum with ``top_radius``) standing on ``center``; no caps."""
        top_radius = radius if top_radius is None else top_radius
        ring = _ring(sides)
        bottom = ring * radius
        top = ring * top_radius + np.array([0.0, 0.0, height])
        if tilt is not None:
            top = top + np.array([tilt[0], tilt[1], 0.0])
        verts = np.concatenate([bottom, top]) + np.asarray(center, dtype=float)
        self.triangles(verts, _prism_faces(sides), rgb)

    def cone(self, center, radius: float, height: float, sides: int, rgb, base: bool = True) -> None:
        """An upright cone with its base centred on ``center``."""
        verts = np.concatenate([_ring(sides) * radius, [[0.0, 0.0, height], [0.0, 0.0, 0.0]]])
        verts += np.asarray(center, dtype=float)
        self.triangles(verts, _cone_faces(sides, base), rgb)

    def blob(self, center, radii, rgb, variant: float = 0.0, jitter: float = 0.0) -> None:
        """A squashed icosahedron (20 triangles), its vertices jittered by one of a fixed set
        of patterns chosen by ``variant`` in [0, 1)."""
        verts = _ICO_V
        if jitter > 0:
            verts = verts * (1.0 + jitter * _JITTER[int(variant * len(_JITTER)) % len(_JITTER)])
        verts = verts * np.asarray(radii, dtype=float) + np.asarray(center, dtype=float)
        self.triangles(verts, _ICO_F, rgb)

    def octahedron(self, center, radii, rgb, yaw: float = 0.0) -> None:
        """A coarse blob: an octahedron with semi-axes ``radii``, turned by ``yaw`` (8 triangles)."""
        rx, ry, rz = radii
        c, s = math.cos(yaw), math.sin(yaw)
        verts = np.array([(rx * c, rx * s, 0), (-ry * s, ry * c, 0), (-rx * c, -rx * s, 0), (ry * s, -ry * c, 0),
                          (0, 0, rz), (0, 0, -rz)], dtype=float)
        verts += np.asarray(center, dtype=float)
        faces = np.array([(0, 1, 4), (1, 2, 4), (2, 3, 4), (3, 0, 4), (1, 0, 5), (2, 1, 5), (3, 2, 5), (0, 3, 5)])
        self.triangles(verts, faces, rgb)

    def box(self, center, half_extents, rgb, yaw: float = 0.0, top_rgb=None) -> None:
        """An oriented box (12 triangles); ``top_rgb`` colours the top face differently."""
        hx, hy, hz = half_extents
        corners = np.array([[sx * hx, sy * hy, sz * hz] for sz in (-1, 1) for sy in (-1, 1) for sx in (-1, 1)])
        c, s = math.cos(yaw), math.sin(yaw)
        rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        verts = corners @ rot.T + np.asarray(center, dtype=float)
        sides = np.array([(0, 1, 5), (0, 5, 4), (1, 3, 7), (1, 7, 5), (3, 2, 6), (3, 6, 7),
                          (2, 0, 4), (2, 4, 6), (0, 2, 3), (0, 3, 1)])
        top = np.array([(4, 5, 7), (4, 7, 6)])
        self.triangles(verts, sides, rgb)
        self.triangles(verts, top, rgb if top_rgb is None else top_rgb)

    def quad(self, corners, rgb) -> None:
        """A planar quad from 4 corners in counter-clockwise order (seen from its front)."""
        verts = np.asarray(corners, dtype=float)
        self.triangles(verts, np.array([(0, 1, 2), (0, 2, 3)]), rgb)


@lru_cache(maxsize=None)
def _ring(sides: int) -> np.ndarray:
    """Unit circle points, shape (sides, 3)."""
    ang = np.linspace(0.0, 2.0 * math.pi, sides, endpoint=False)
    return np.stack([np.cos(ang), np.sin(ang), np.zeros(sides)], axis=1)


@lru_cache(maxsize=None)
def _prism_faces(sides: int) -> np.ndarray:
    i = np.arange(sides)
    j = (i + 1) % sides
    return np.concatenate([np.stack([i, j, sides + j], 1), np.stack([i, sides + j, sides + i], 1)])


@lru_cache(maxsize=None)
def _cone_faces(sides: int, base: bool) -> np.ndarray:
    i = np.arange(sides)
    j = (i + 1) % sides
    faces = [np.stack([i, j, np.full(sides, sides)], 1)]
    if base:
        faces.append(np.stack([j, i, np.full(sides, sides + 1)], 1))
    return np.concatenate(faces)


# fixed jitter patterns for blobs (deterministic, shared by every scene)
_JITTER = np.random.default_rng(12345).uniform(-1.0, 1.0, size=(64, len(_ICO_V), 1))


_INDICES: list[int] = []


def index_range(n: int) -> list[int]:
    """``list(range(n))`` made of long-lived int objects, shared by every mesh."""
    if n > len(_INDICES):
        _INDICES.extend(range(len(_INDICES), max(n, 2 * len(_INDICES))))
    return _INDICES[:n]
