"""The target: a red octagonal sign on a post, facing its local +x, and its pose."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from envs.meshes import MeshBuilder, Palette
from envs.obstacles import Obstacles


@dataclass
class TargetPose:
    """Sign centre (world, m) and the yaw (rad) of the direction its face points to."""

    pos_world: np.ndarray
    yaw: float

    @property
    def facing(self) -> np.ndarray:
        """Unit vector (world, horizontal) out of the sign's face."""
        return np.array([math.cos(self.yaw), math.sin(self.yaw), 0.0])

    def approach_point(self, distance: float) -> np.ndarray:
        """Centre of the approach zone, ``distance`` in front of the sign."""
        return self.pos_world + self.facing * distance


class Target:
    """Geometry, look and collision solids of the target (``conf/task/target/<name>.yaml``)."""

    def __init__(self, cfg: Mapping):
        self.cfg = cfg
        self.center_height = float(cfg["sign_center_height"])
        self.radius = float(cfg["sign_radius"])

    def mesh(self, palette: Palette) -> MeshBuilder:
        """Low-poly mesh in the target frame: origin on the ground, sign facing +x."""
        c = self.cfg
        col = c["colors"]
        mesh = MeshBuilder(palette)
        r, rim, th, h = self.radius, float(c["rim"]), float(c["thickness"]), self.center_height
        mesh.prism((-th, 0.0, 0.0), float(c["post_radius"]), h - 0.1, 6, col["post"])
        # octagon disc: rim (white) slab, red faces on both sides, white bar across
        ang = (np.arange(8) + 0.5) * (2 * math.pi / 8)
        for side in (1.0, -1.0):
            for radius, rgb, depth in ((r, col["rim"], th / 2), (r - rim, col["sign"], th / 2 + 0.004)):
                ring = np.stack([np.full(8, side * depth), np.cos(ang) * radius, np.sin(ang) * radius + h], 1)
                verts = np.concatenate([ring, [[side * depth, 0.0, h]]])
                i = np.arange(8)
                j = (i + 1) % 8
                faces = np.stack([i, j, np.full(8, 8)], 1) if side > 0 else np.stack([j, i, np.full(8, 8)], 1)
                mesh.triangles(verts, faces, rgb)
            bar_w, bar_h = (r - rim) * 0.62, (r - rim) * 0.2
            x = side * (th / 2 + 0.008)
            corners = [(x, -bar_w, h - bar_h), (x, bar_w, h - bar_h), (x, bar_w, h + bar_h), (x, -bar_w, h + bar_h)]
            mesh.quad(corners if side > 0 else corners[::-1], col["bar"])
        # rim edge
        ring_f = np.stack([np.full(8, th / 2), np.cos(ang) * r, np.sin(ang) * r + h], 1)
        ring_b = ring_f * np.array([-1.0, 1.0, 1.0])
        verts = np.concatenate([ring_f, ring_b])
        i = np.arange(8)
        j = (i + 1) % 8
        mesh.triangles(verts, np.concatenate([np.stack([i, 8 + i, 8 + j], 1), np.stack([i, 8 + j, j], 1)]), col["rim"])
        return mesh

    def obstacles(self, pose: TargetPose) -> Obstacles:
        """Collision solids of the target at ``pose`` (``pose.pos_world`` is the sign centre)."""
        x, y, zc = pose.pos_world
        ground_z = zc - self.center_height
        th = float(self.cfg["thickness"])
        post_r = float(self.cfg["post_radius"])
        back = -pose.facing * th
        return Obstacles(
            cylinders=[(x + back[0], y + back[1], post_r, ground_z, zc - self.radius)],
            boxes=[(x, y, zc, th / 2, self.radius, self.radius, pose.yaw)],
        ).freeze()

    def body_pose(self, pose: TargetPose) -> tuple[list[float], tuple]:
        """Base position and quaternion of the target body for ``pose``."""
        x, y, zc = pose.pos_world
        half = pose.yaw / 2
        return [float(x), float(y), float(zc - self.center_height)], (0.0, 0.0, math.sin(half), math.cos(half))
