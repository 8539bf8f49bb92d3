"""Props: static objects a task stands in the scene (occluders, decoys), their look and solids.

A :class:`Prop` is plain data (kind, ground position, yaw, sizes, colours) drawn by a task from
its config (``conf/task/<name>.yaml``). The env turns a task's props into one visual body
(:func:`props_mesh`, world coordinates) and adds their solids (:func:`props_obstacles`) to the
scene's obstacles, so collisions, the expert and ``info["obstacles"]`` see them like trees.
Kinds:

- ``trunk``: a bare vertical trunk (``radius``, ``height``).
- ``board``: a flat board standing on the ground, facing ``yaw`` (``width``, ``height``,
  ``thickness``).
- ``ball``: a ball on a post (``radius``, ``height`` of its centre, ``post_radius``).
- ``plate``: a flat plate on a post facing ``yaw``: a regular polygon (``sides``, ``radius``)
  with an optional rim and bar (a sign of another shape), or a rectangle (``sides: 0``,
  ``width`` x ``plate_height``, a red board); ``height`` is its centre.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from envs.meshes import MeshBuilder, Palette
from envs.obstacles import Obstacles

ROUND_SIDES = 10  # facets of trunks and posts


@dataclass
class Prop:
    """One static object: ``kind``, ground point ``(x, y)``, ``yaw`` of its face (rad), ``role``
    (``"occluder"`` or ``"decoy"``), sizes in metres and colours (RGB 0-255)."""

    kind: str
    x: float
    y: float
    yaw: float = 0.0
    role: str = "decoy"
    size: dict = field(default_factory=dict)
    colors: dict = field(default_factory=dict)

    @property
    def facing(self) -> np.ndarray:
        """Unit vector (world, horizontal) out of the prop's face."""
        return np.array([math.cos(self.yaw), math.sin(self.yaw), 0.0])

    @property
    def center(self) -> np.ndarray:
        """The middle of what it shows (world, m): a plate's or ball's centre, half a board's or trunk's height."""
        s = self.size
        z = float(s["height"]) / 2 if self.kind in ("trunk", "board") else float(s["height"])
        return np.array([self.x, self.y, z])

    @property
    def reach(self) -> float:
        """Horizontal radius (m) of its footprint around ``(x, y)``."""
        s = self.size
        if self.kind == "trunk":
            return float(s["radius"])
        if self.kind == "board":
            return math.hypot(float(s["width"]) / 2, float(s["thickness"]) / 2)
        if self.kind == "ball":
            return float(s["radius"])
        return _plate_half_width(s)

    def mesh(self, mesh: MeshBuilder) -> None:
        """Add its triangles (world coordinates) to ``mesh``."""
        _MESHES[self.kind](self, mesh)

    def obstacles(self) -> Obstacles:
        """Its collision solids (unfrozen lists)."""
        return _SOLIDS[self.kind](self)


def props_mesh(props: list[Prop], palette: Palette) -> MeshBuilder:
    """One mesh of every prop, in world coordinates."""
    mesh = MeshBuilder(palette)
    for prop in props:
        prop.mesh(mesh)
    return mesh


def props_obstacles(props: list[Prop]) -> Obstacles:
    """The solids of every prop (frozen)."""
    out = Obstacles()
    for prop in props:
        solids = prop.obstacles()
        out.cylinders += solids.cylinders
        out.spheres += solids.spheres
        out.boxes += solids.boxes
    return out.freeze()


def draw_size(rng: np.random.Generator, spec: Mapping) -> dict:
    """Sizes of one prop from its config: each ``[lo, hi]`` drawn uniformly, numbers kept."""
    out = {}
    for key, value in spec.items():
        if key in ("weight", "shape", "color", "colors"):
            continue
        out[key] = float(rng.uniform(value[0], value[1])) if isinstance(value, (list, tuple)) else value
    return out


def draw_kind(rng: np.random.Generator, kinds: Mapping) -> str:
    """A kind name drawn by the ``weight`` of each entry of ``kinds``."""
    names = list(kinds)
    weights = np.array([float(kinds[n].get("weight", 1.0)) for n in names])
    return names[int(rng.choice(len(names), p=weights / weights.sum()))]


# ---------------------------------------------------------------------------------- shapes


def _local_to_world(prop: Prop, local: np.ndarray) -> np.ndarray:
    """Points in the prop's frame (x out of its face, z up, origin on the ground) to world."""
    c, s = math.cos(prop.yaw), math.sin(prop.yaw)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return np.asarray(local, dtype=float) @ rot.T + np.array([prop.x, prop.y, 0.0])


def _plate_half_width(size: Mapping) -> float:
    sides = int(size.get("sides", 0))
    return float(size["width"]) / 2 if sides == 0 else float(size["radius"])


def _plate_outline(size: Mapping, shrink: float = 0.0) -> np.ndarray:
    """(N, 2) corners (across, up) of a plate around its centre, counter-clockwise seen from its face."""
    sides = int(size.get("sides", 0))
    if sides == 0:
        w, h = float(size["width"]) / 2 - shrink, float(size["plate_height"]) / 2 - shrink
        return np.array([(-w, -h), (w, -h), (w, h), (-w, h)])
    # a point up for a triangle, a flat bottom otherwise
    start = math.pi / 2 if sides % 2 else math.pi / 2 - math.pi / sides
    ang = start + np.arange(sides) * 2 * math.pi / sides
    r = float(size["radius"]) - shrink / math.cos(math.pi / sides)
    return np.stack([np.cos(ang) * r, np.sin(ang) * r], 1)


def _plate_vertical_half(size: Mapping) -> float:
    outline = _plate_outline(size)
    return float(np.abs(outline[:, 1]).max())


def _face(mesh: MeshBuilder, prop: Prop, outline: np.ndarray, x: float, zc: float, rgb, front: bool) -> None:
    """A flat polygon at depth ``x`` (prop frame) facing +x (``front``) or -x."""
    n = len(outline)
    # seen from +x (looking along -x, z up), the viewer's right is +y of the prop frame
    local = np.concatenate([np.stack([np.full(n, x), outline[:, 0], outline[:, 1] + zc], 1), [[x, 0.0, zc]]])
    i = np.arange(n)
    j = (i + 1) % n
    faces = np.stack([i, j, np.full(n, n)], 1) if front else np.stack([j, i, np.full(n, n)], 1)
    mesh.triangles(_local_to_world(prop, local), faces, rgb)


def _mesh_plate(prop: Prop, mesh: MeshBuilder) -> None:
    s, col = prop.size, prop.colors
    th, zc = float(s["thickness"]), float(s["height"])
    post_r = float(s["post_radius"])
    back = _local_to_world(prop, [[-th, 0.0, 0.0]])[0]
    mesh.prism((back[0], back[1], 0.0), post_r, zc - _plate_vertical_half(s) + 0.05, ROUND_SIDES, col["post"])
    rim = float(s.get("rim", 0.0))
    outline = _plate_outline(s)
    for front, sign in ((True, 1.0), (False, -1.0)):
        if rim > 0:
            _face(mesh, prop, outline, sign * th / 2, zc, col["rim"], front)
            _face(mesh, prop, _plate_outline(s, shrink=rim), sign * (th / 2 + 0.004), zc, col["face"], front)
        else:
            _face(mesh, prop, outline, sign * th / 2, zc, col["face"], front)
        bar = float(s.get("bar", 0.0))
        if bar > 0:
            bw, bh = _plate_half_width(s) * bar, _plate_vertical_half(s) * 0.2
            x = sign * (th / 2 + 0.008)
            corners = np.array([(-bw, -bh), (bw, -bh), (bw, bh), (-bw, bh)])
            _face(mesh, prop, corners, x, zc, col["bar"], front)
    # the plate's edge
    n = len(outline)
    ring = np.stack([np.full(n, th / 2), outline[:, 0], outline[:, 1] + zc], 1)
    verts = _local_to_world(prop, np.concatenate([ring, ring * np.array([-1.0, 1.0, 1.0])]))
    i = np.arange(n)
    j = (i + 1) % n
    mesh.triangles(verts, np.concatenate([np.stack([i, n + i, n + j], 1), np.stack([i, n + j, j], 1)]),
                   col["rim"] if rim > 0 else col["face"])


def _solids_plate(prop: Prop) -> Obstacles:
    s = prop.size
    th, zc = float(s["thickness"]), float(s["height"])
    back = _local_to_world(prop, [[-th, 0.0, 0.0]])[0]
    half_v = _plate_vertical_half(s)
    return Obstacles(cylinders=[(back[0], back[1], float(s["post_radius"]), 0.0, zc - half_v)],
                     boxes=[(prop.x, prop.y, zc, th / 2, _plate_half_width(s), half_v, prop.yaw)])


def _mesh_ball(prop: Prop, mesh: MeshBuilder) -> None:
    s, col = prop.size, prop.colors
    r, zc = float(s["radius"]), float(s["height"])
    mesh.prism((prop.x, prop.y, 0.0), float(s["post_radius"]), zc - r + 0.05, ROUND_SIDES, col["post"])
    mesh.blob((prop.x, prop.y, zc), (r, r, r), col["face"])


def _solids_ball(prop: Prop) -> Obstacles:
    s = prop.size
    r, zc = float(s["radius"]), float(s["height"])
    return Obstacles(cylinders=[(prop.x, prop.y, float(s["post_radius"]), 0.0, zc - r)],
                     spheres=[(prop.x, prop.y, zc, r)])


def _mesh_trunk(prop: Prop, mesh: MeshBuilder) -> None:
    s, col = prop.size, prop.colors
    r, h = float(s["radius"]), float(s["height"])
    mesh.prism((prop.x, prop.y, 0.0), r, h, ROUND_SIDES, col["face"])
    mesh.cone((prop.x, prop.y, h), r, 0.01, ROUND_SIDES, col["face"], base=False)  # the cut top


def _solids_trunk(prop: Prop) -> Obstacles:
    s = prop.size
    return Obstacles(cylinders=[(prop.x, prop.y, float(s["radius"]), 0.0, float(s["height"]))])


def _mesh_board(prop: Prop, mesh: MeshBuilder) -> None:
    s, col = prop.size, prop.colors
    w, h, th = float(s["width"]), float(s["height"]), float(s["thickness"])
    mesh.box((prop.x, prop.y, h / 2), (th / 2, w / 2, h / 2), col["face"], yaw=prop.yaw)


def _solids_board(prop: Prop) -> Obstacles:
    s = prop.size
    w, h, th = float(s["width"]), float(s["height"]), float(s["thickness"])
    return Obstacles(boxes=[(prop.x, prop.y, h / 2, th / 2, w / 2, h / 2, prop.yaw)])


_MESHES = {"plate": _mesh_plate, "ball": _mesh_ball, "trunk": _mesh_trunk, "board": _mesh_board}
_SOLIDS = {"plate": _solids_plate, "ball": _solids_ball, "trunk": _solids_trunk, "board": _solids_board}
KINDS = tuple(_MESHES)
