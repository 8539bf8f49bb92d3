"""Analytic obstacle geometry of a scene: the collision check and the privileged truth.

Obstacles are simple solids (vertical cylinders, upright cones, spheres, yawed boxes)
kept in numpy arrays, so distance queries are vectorised and independent of rendering.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Obstacles:
    """Solids in world coordinates (metres).

    ``cylinders``: (N, 5) x, y, radius, z_bottom, z_top.
    ``cones``: (N, 5) x, y, base radius, z_base, z_apex.
    ``spheres``: (N, 4) x, y, z, radius (blobs are stored by their mean radius).
    ``boxes``: (N, 7) centre x, y, z, half-extents x, y, z, yaw.
    """

    cylinders: list = field(default_factory=list)
    cones: list = field(default_factory=list)
    spheres: list = field(default_factory=list)
    boxes: list = field(default_factory=list)

    def freeze(self) -> "Obstacles":
        """Convert the lists to arrays (call once the scene is built)."""
        self.cylinders = np.asarray(self.cylinders, dtype=float).reshape(-1, 5)
        self.cones = np.asarray(self.cones, dtype=float).reshape(-1, 5)
        self.spheres = np.asarray(self.spheres, dtype=float).reshape(-1, 4)
        self.boxes = np.asarray(self.boxes, dtype=float).reshape(-1, 7)
        self._centers = np.concatenate([self.cylinders[:, :2], self.cones[:, :2], self.spheres[:, :2], self.boxes[:, :2]])
        self._reach = np.concatenate([
            self.cylinders[:, 2], self.cones[:, 2], self.spheres[:, 3],
            np.hypot(self.boxes[:, 3], self.boxes[:, 4])])
        return self

    def __len__(self) -> int:
        return len(self.cylinders) + len(self.cones) + len(self.spheres) + len(self.boxes)

    def near(self, point, radius: float) -> "Obstacles":
        """The obstacles whose footprint comes within ``radius`` (horizontally) of ``point``."""
        d = np.hypot(self._centers[:, 0] - point[0], self._centers[:, 1] - point[1]) - self._reach
        keep = d <= radius
        n1, n2, n3 = len(self.cylinders), len(self.cylinders) + len(self.cones), len(self.cylinders) + len(self.cones) + len(self.spheres)
        return Obstacles(self.cylinders[keep[:n1]], self.cones[keep[n1:n2]], self.spheres[keep[n2:n3]],
                         self.boxes[keep[n3:]]).freeze()

    def __add__(self, other: "Obstacles") -> "Obstacles":
        """Both sets of solids together."""
        return Obstacles(np.concatenate([self.cylinders, other.cylinders]), np.concatenate([self.cones, other.cones]),
                         np.concatenate([self.spheres, other.spheres]), np.concatenate([self.boxes, other.boxes])).freeze()

    def distance(self, point) -> float:
        """Approximate distance (m) from ``point`` to the nearest surface; negative inside."""
        d = self.distances(point)
        return float(d.min()) if len(d) else math.inf

    def distances(self, point) -> np.ndarray:
        """Approximate distance from ``point`` to each obstacle (order: cylinders, cones, spheres, boxes)."""
        x, y, z = float(point[0]), float(point[1]), float(point[2])
        out = []
        if len(self.cylinders):
            c = self.cylinders
            radial = np.hypot(c[:, 0] - x, c[:, 1] - y) - c[:, 2]
            vertical = np.maximum(c[:, 3] - z, z - c[:, 4])
            out.append(_combine(radial, vertical))
        if len(self.cones):
            c = self.cones
            height = c[:, 4] - c[:, 3]
            frac = np.clip((z - c[:, 3]) / height, 0.0, 1.0)
            radius_at = c[:, 2] * (1.0 - frac)
            radial = (np.hypot(c[:, 0] - x, c[:, 1] - y) - radius_at) * (height / np.hypot(height, c[:, 2]))
            vertical = np.maximum(c[:, 3] - z, z - c[:, 4])
            out.append(_combine(radial, vertical))
        if len(self.spheres):
            s = self.spheres
            out.append(np.sqrt((s[:, 0] - x) ** 2 + (s[:, 1] - y) ** 2 + (s[:, 2] - z) ** 2) - s[:, 3])
        if len(self.boxes):
            b = self.boxes
            cos, sin = np.cos(b[:, 6]), np.sin(b[:, 6])
            dx, dy = x - b[:, 0], y - b[:, 1]
            local = np.stack([cos * dx + sin * dy, -sin * dx + cos * dy, z - b[:, 2]], axis=1)
            q = np.abs(local) - b[:, 3:6]
            outside = np.linalg.norm(np.maximum(q, 0.0), axis=1)
            inside = np.minimum(q.max(axis=1), 0.0)
            out.append(outside + inside)
        return np.concatenate(out) if out else np.zeros(0)

    def footprints(self) -> np.ndarray:
        """(N, 3) x, y, horizontal reach of every obstacle (for maps and the expert)."""
        return np.concatenate([self._centers, self._reach[:, None]], axis=1)


def _combine(radial: np.ndarray, vertical: np.ndarray) -> np.ndarray:
    """Distance to a solid of revolution from its radial and vertical slab distances."""
    outside = np.hypot(np.maximum(radial, 0.0), np.maximum(vertical, 0.0))
    inside = np.minimum(np.maximum(radial, vertical), 0.0)
    return outside + inside
