"""Procedural seasonal scenes: config resolution, seeded layouts, batched low-poly visuals.

A scene is a season (``conf/scene/<name>.yaml``: colours, light, sky) over a layout
(``conf/scene/layout/<kind>.yaml``: what stands where, drawn per seed), plus optional
condition modifiers (``conf/scene/modifier/<name>.yaml``) merged over it. The same seed
gives the same layout in every forest season, so seasons change the look and not the task.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

import cv2
import numpy as np
import yaml

from envs.config import available, deep_update, load
from envs.ground import Ground, Stripe, ground_texture
from envs.meshes import MeshBuilder, Palette
from envs.obstacles import Obstacles
from envs.quiet_import import import_pybullet
from envs.scene_schema import check_scene

p = import_pybullet()  # PyBullet without its banner on stderr

SCENE_SEPARATOR = "+"
SCENE_FILE_SUFFIXES = (".yaml", ".yml")


PREFERRED_ORDER = ("summer", "fall", "winter", "spring", "urban")  # the training scene first


def scene_names() -> list[str]:
    """Valid scene names: the training scene (``summer``) first, then the others."""
    names = available("scene")
    return [n for n in PREFERRED_ORDER if n in names] + [n for n in names if n not in PREFERRED_ORDER]


def modifier_names() -> list[str]:
    """Valid condition modifier names."""
    return available("scene/modifier")


def is_scene_file(scene: object) -> bool:
    """True when ``scene`` names a scene file of one's own: an ``os.PathLike``, or a string that
    ends in ``.yaml``/``.yml`` or names an existing file and is not a packaged scene name."""
    if isinstance(scene, os.PathLike):
        return True
    if not isinstance(scene, str):
        return False
    if scene.lower().endswith(SCENE_FILE_SUFFIXES):
        return True
    base = scene.split(SCENE_SEPARATOR)[0].strip()
    return base not in scene_names() and Path(scene).is_file()


def load_scene_file(path: str | os.PathLike) -> dict:
    """A scene of one's own from a YAML file (the keys of ``conf/scene/fall.yaml``), named after the file.

    A ``name:`` inside must match the file name. A benchmark scene's name is refused unless the
    file is an unchanged copy of that packaged scene: the benchmark scenes stay as packaged.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"scene file {path}: no such file; give the path of a scene YAML "
                                "(a copy of a packaged one such as conf/scene/fall.yaml with its own name)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"scene file {path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ValueError(f"scene file {path}: expected a mapping of scene keys (name, layout, light, sky, ...), "
                         f"got {type(data).__name__}")
    if "defaults" in data:
        raise ValueError(f"scene file {path}: a Hydra defaults list is read by the navlnn commands "
                         "(scene=<name> hydra.searchpath=[file://<folder>]), not by the env; write the whole scene")
    name = data.setdefault("name", path.stem)
    if name != path.stem:
        raise ValueError(f"scene file {path}: says name: {name}, but a scene of one's own is named after its file; "
                         f"set name: {path.stem} (or remove the line)")
    if name in scene_names():
        packaged = load("scene", name)
        if data == packaged:
            return data  # an unchanged copy of the benchmark scene is that scene
        raise ValueError(f"scene file {path}: '{name}' is a benchmark scene ({', '.join(scene_names())}), which "
                         f"stays as packaged; give your scene a name of its own (rename the file and its name:, "
                         f"e.g. my_{name}.yaml with name: my_{name})")
    return data


def _scene_layout(layout: object) -> object:
    """A layout name loaded from ``conf/scene/layout/``; a mapping with a packaged ``kind`` merged over that layout."""
    if isinstance(layout, str):
        return load("scene/layout", layout)
    if isinstance(layout, Mapping) and layout.get("kind") in available("scene/layout"):
        return deep_update(load("scene/layout", str(layout["kind"])), layout)
    return layout


def _modifier_list(modifiers: Sequence[str] | str | None) -> list[str]:
    if isinstance(modifiers, str):
        return [m for m in modifiers.split(SCENE_SEPARATOR) if m]
    return list(modifiers or [])


def _split(scene: str | Mapping) -> tuple[str, dict, list[str]]:
    """``scene`` as (name, settings given with it, modifiers named in it)."""
    mods: list[str] = []
    settings: dict = {}
    if isinstance(scene, Mapping):
        settings = deep_update({}, {k: v for k, v in scene.items() if k not in ("modifiers", "full_name")})
        mods += list(scene.get("modifiers") or [])
        scene = settings.pop("name", None)
        if scene is None:
            raise ValueError(f"a scene mapping needs a 'name' (one of {', '.join(scene_names())}, "
                             "or a name of its own for a scene of one's own)")
    if not isinstance(scene, str):
        raise ValueError(f"scene must be a name, a mapping or the path of a scene YAML, got {type(scene).__name__}")
    name, *more = [s.strip() for s in scene.split(SCENE_SEPARATOR) if s.strip()] or ["summer"]
    return name, settings, more + mods


def resolve_scene(scene: str | Mapping | os.PathLike = "summer", modifiers: Sequence[str] | str | None = None) -> dict:
    """The full config of a scene with its modifiers merged in, checked (:mod:`envs.scene_schema`).

    ``scene`` is a packaged scene's name (``"winter"``, or ``"winter+fog+dusk"`` with modifiers), a
    mapping (as Hydra gives it: a packaged scene's name with overrides, or a whole scene with a
    name of its own), or the path of a scene YAML of one's own. Unknown names raise
    ``ValueError`` listing valid ones; so does a config with unknown keys or wrong values.
    """
    source = None
    if is_scene_file(scene):
        source, scene = Path(scene), load_scene_file(scene)
    name, settings, mods = _split(scene)
    mods += _modifier_list(modifiers)
    benchmark = name in scene_names()
    if not benchmark and not isinstance(scene, Mapping):
        raise ValueError(f"unknown scene '{name}'. Valid scenes: {', '.join(scene_names())}; "
                         f"modifiers (joined with '+', e.g. 'winter+fog'): {', '.join(modifier_names())}; "
                         "or the path of a scene YAML of your own.")
    if not benchmark and settings.get("label") in scene_names():
        raise ValueError(f"scene '{name}': the label '{settings['label']}' is a benchmark scene's name; the benchmark "
                         "scenes stay as packaged: give your scene a label of its own (or none: its name is its label)")
    cfg = load("scene", name) if benchmark else {**settings, "name": name}
    cfg["layout"] = _scene_layout(cfg.get("layout"))
    for mod in mods:
        if mod not in modifier_names():
            raise ValueError(f"unknown scene modifier '{mod}'. Valid modifiers: {', '.join(modifier_names())}.")
        overlay = load("scene/modifier", mod)
        overlay.pop("name", None)
        cfg = deep_update(cfg, overlay)
    if benchmark:
        if isinstance(settings.get("layout"), str):  # a layout named in the mapping (Hydra leaves the name)
            settings["layout"] = load("scene/layout", settings["layout"])
        cfg = deep_update(cfg, settings)
    cfg["modifiers"] = mods
    cfg["full_name"] = SCENE_SEPARATOR.join([cfg["name"], *mods])
    try:
        check_scene(cfg, lambda kind: load("scene/layout", kind))
    except ValueError as exc:
        raise ValueError(f"scene file {source}: {exc}" if source else str(exc)) from None
    if benchmark:
        _refuse_disguised_benchmark(name, settings)
    return cfg


def _refuse_disguised_benchmark(name: str, settings: Mapping) -> None:
    """Refuse a whole scene of one's own that carries a benchmark scene's name.

    A mapping named after a benchmark scene is that scene with overrides. One that sets its whole
    look (every key of the packaged scene) and differs from it is a scene of one's own under a
    benchmark's name: it needs a name of its own, or a label of its own when it is a variant.
    """
    packaged = load("scene", name)
    packaged["layout"] = _scene_layout(packaged["layout"])
    given = deep_update(packaged, settings)
    look = set(packaged) - {"name"}
    changed = sorted(k for k in set(given) - {"name", "label"} if given.get(k) != packaged.get(k))
    label = settings.get("label")
    if not changed or (label and label not in scene_names()):
        return
    if label in scene_names():
        raise ValueError(f"scene '{name}': the label '{label}' is a benchmark scene's name, and this scene changes "
                         f"'{name}' ({', '.join(changed)}); give it a label of its own")
    if look <= set(settings):
        raise ValueError(f"scene '{name}': a whole scene that differs from the benchmark scene '{name}' "
                         f"({', '.join(changed)}) but carries its name; the benchmark scenes stay as packaged: give "
                         f"a scene of your own a name of its own (name: my_{name}), or this variant of '{name}' a "
                         f"label (label: {name}_variant; on the command line +scene.label={name}_variant)")


@dataclass
class Keepouts:
    """Regions kept free of obstacles: circles (x, y, r) and corridors (ax, ay, bx, by, half width)."""

    circles: list[tuple[float, float, float]] = field(default_factory=list)
    corridors: list[tuple[float, float, float, float, float]] = field(default_factory=list)

    def blocked(self, x: float, y: float, radius: float) -> bool:
        """True when a footprint of ``radius`` at (x, y) overlaps a keep-out region."""
        for cx, cy, r in self.circles:
            if (x - cx) ** 2 + (y - cy) ** 2 < (r + radius) ** 2:
                return True
        for ax, ay, bx, by, hw in self.corridors:
            dx, dy = bx - ax, by - ay
            length_sq = dx * dx + dy * dy
            t = 0.0 if length_sq == 0 else min(1.0, max(0.0, ((x - ax) * dx + (y - ay) * dy) / length_sq))
            if (x - ax - t * dx) ** 2 + (y - ay - t * dy) ** 2 < (hw + radius) ** 2:
                return True
        return False


@dataclass
class Chunk:
    """A square cell of the scene: a detailed and a coarse batched body, and its bounding sphere."""

    near_body: int
    far_body: int | None
    center: np.ndarray
    radius: float
    triangles: tuple[int, int] = (0, 0)  # detailed, coarse
    shown: int = 0  # 0 hidden, 1 detailed, 2 coarse


class Scene:
    """A built scene: visuals in the render client (chunked, culled, two levels of detail)
    and the analytic obstacles."""

    def __init__(self, client: int, cfg: dict, obstacles: Obstacles, chunks: list[Chunk], ground: Ground,
                 palette: Palette, texture_dir: Path, extra_bodies: dict[str, int] | None = None,
                 triangles: int = 0):
        self.client = client
        self.extra_bodies = dict(extra_bodies or {})
        self._triangles = triangles
        self.cfg = cfg
        self.obstacles = obstacles
        self.chunks = chunks
        self.ground = ground
        self.palette = palette
        self.texture_dir = texture_dir
        layout = cfg["layout"]
        self.area_half_size = float(layout["area_half_size"])
        self.ceiling = float(layout["ceiling"])
        self.lod_distance = float(layout["lod_distance"])
        self._centers = np.array([c.center for c in chunks]).reshape(-1, 3)
        self._radii = np.array([c.radius for c in chunks])
        self._shown = np.ones(len(chunks), dtype=int)
        for chunk in chunks:  # bodies are created visible: start from a known state
            chunk.shown = 1
            if chunk.far_body is not None:
                self._set_alpha(chunk.far_body, 0.0)

    @property
    def name(self) -> str:
        """Scene name with modifiers, e.g. ``winter+fog``."""
        return self.cfg["full_name"]

    def _set_alpha(self, body: int, alpha: float) -> None:
        p.changeVisualShape(body, -1, rgbaColor=[1, 1, 1, alpha], physicsClientId=self.client)

    def cull(self, eye, forward, half_fov_diag: float, far: float) -> int:
        """Show the chunks a camera can see (detailed when near, coarse when far); returns the count."""
        rel = self._centers - np.asarray(eye)
        dist = np.linalg.norm(rel, axis=1)
        inside = dist <= self._radii
        safe = np.maximum(dist, 1e-6)
        cos_angle = rel @ np.asarray(forward) / safe
        widen = np.arcsin(np.clip(self._radii / safe, 0.0, 1.0))
        in_cone = np.arccos(np.clip(cos_angle, -1.0, 1.0)) <= np.minimum(half_fov_diag + widen, math.pi)
        visible = inside | ((dist - self._radii <= far) & in_cone)
        detailed = dist - self._radii <= self.lod_distance
        want = np.where(visible, np.where(detailed, 1, 2), 0)
        for i in np.flatnonzero(want != self._shown):
            chunk = self.chunks[i]
            new = int(want[i])
            if chunk.far_body is None and new == 2:
                new = 1
            if new == chunk.shown:
                continue
            self._set_alpha(chunk.near_body, 1.0 if new == 1 else 0.0)
            if chunk.far_body is not None:
                self._set_alpha(chunk.far_body, 1.0 if new == 2 else 0.0)
            chunk.shown = new
            self._shown[i] = new
        return int(np.count_nonzero(want))

    @property
    def shown_triangles(self) -> int:
        """Triangles of the chunks shown by the last :meth:`cull`."""
        return sum(c.triangles[c.shown - 1] for c in self.chunks if c.shown)

    @property
    def triangle_count(self) -> int:
        """Triangles in the scene visuals (for benchmarks)."""
        return self._triangles

    def out_of_bounds(self, pos_world) -> bool:
        """True when ``pos_world`` is outside the flight area or above the ceiling."""
        return abs(pos_world[0]) > self.area_half_size or abs(pos_world[1]) > self.area_half_size or pos_world[2] > self.ceiling


class SceneBuilder:
    """Builds a :class:`Scene` from a resolved config, a random generator and keep-outs."""

    def __init__(self, cfg: dict, texture_dir: Path | None = None):
        self.cfg = cfg
        self._tmp = None
        if texture_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="envs-textures-")
            texture_dir = Path(self._tmp.name)
        self.texture_dir = Path(texture_dir)

    def close(self) -> None:
        """Remove the generated texture files."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def build(self, client: int, rng: np.random.Generator, keepouts: Keepouts, palette: Palette,
              extra: dict[str, MeshBuilder] | None = None) -> Scene:
        """Generate the layout and create its visual bodies in the render ``client``.

        ``extra`` meshes (such as the target, in its own frame) become bodies of their
        own, named in ``scene.extra_bodies``; build them first so that their colours are
        in the palette.
        """
        cfg, layout = self.cfg, self.cfg["layout"]
        chunk_size = float(layout["chunk_size"])
        cells: dict[tuple[int, int], ChunkMeshes] = {}
        obstacles = Obstacles()

        def part(x: float, y: float) -> ChunkMeshes:
            key = (math.floor(x / chunk_size), math.floor(y / chunk_size))
            if key not in cells:
                cells[key] = ChunkMeshes(MeshBuilder(palette), MeshBuilder(palette))
            return cells[key]

        generator = {"forest": _forest, "urban": _urban}.get(layout["kind"])
        if generator is None:
            raise ValueError(f"unknown layout kind '{layout['kind']}'. Valid: forest, urban.")
        ground = Ground(ground_texture(cfg["ground"]), float(cfg["ground"]["tile"]))
        generator(cfg, rng, keepouts, part, obstacles, ground)
        # textures: the palette (flat colours, written once all colours are known) and the ground
        pal_path = self.texture_dir / f"palette_{len(palette.colors)}_{abs(hash(tuple(palette.colors)))}.png"
        if not pal_path.is_file():
            cv2.imwrite(str(pal_path), palette.image()[..., ::-1])
        tex = p.loadTexture(str(pal_path), physicsClientId=client)
        triangles = 0
        chunks = []
        for meshes in cells.values():
            if len(meshes.near) == 0:
                continue
            near = _mesh_body(client, meshes.near, tex)
            far = _mesh_body(client, meshes.far, tex) if len(meshes.far) else None
            lo, hi = meshes.near.bounds()
            chunks.append(Chunk(near, far, (lo + hi) / 2, float(np.linalg.norm(hi - lo) / 2),
                                (len(meshes.near), len(meshes.far))))
            triangles += len(meshes.near)
        extra_bodies = {name: _mesh_body(client, mesh, tex) for name, mesh in (extra or {}).items()}
        return Scene(client, cfg, obstacles.freeze(), chunks, ground, palette, self.texture_dir, extra_bodies,
                     triangles + sum(len(m) for m in (extra or {}).values()))


@dataclass
class ChunkMeshes:
    """The detailed (``near``) and coarse (``far``) meshes of one cell."""

    near: MeshBuilder
    far: MeshBuilder


class _MeshArguments:
    """Long-lived lists that carry mesh data into ``p.createVisualShape``.

    PyBullet (3.2.x) takes two references to every list it is given (the outer lists and each
    row) and never gives them back, so a list passed to it would stay in memory for good
    (about 18 MB per reset of a forest). Only these lists are ever passed: they are refilled
    for each mesh, so the references PyBullet keeps point at objects that live anyway, and the
    memory they hold is that of the largest mesh so far (about a thousand vertices).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._rows: dict[str, list[list]] = {"vertices": [], "normals": [], "uvs": []}
        self._outer: dict[str, list] = {name: [] for name in ("vertices", "normals", "uvs", "indices")}

    def rows(self, name: str, values: Sequence | np.ndarray) -> list:
        """The outer list for ``name``, holding this object's rows refilled with ``values``."""
        if isinstance(values, np.ndarray):
            values = values.tolist()
        n = len(values)
        rows = self._rows[name]
        if n > len(rows):
            rows.extend([] for _ in range(n - len(rows)))
        deque(map(list.__setitem__, rows, repeat(_ALL, n), values), maxlen=0)  # rows[i][:] = values[i]
        outer = self._outer[name]
        outer[:] = rows[:n]
        return outer

    def flat(self, name: str, values: Sequence | np.ndarray) -> list:
        """The outer list for ``name`` refilled with ``values`` (a flat sequence)."""
        outer = self._outer[name]
        outer[:] = values.tolist() if isinstance(values, np.ndarray) else values
        return outer

    def sizes(self) -> dict[str, int]:
        """Rows held per argument (for tests)."""
        return {name: len(rows) for name, rows in self._rows.items()}


_ALL = slice(None)
_ARGUMENTS = _MeshArguments()


def create_mesh_shape(client: int, vertices: Sequence | np.ndarray, indices: Sequence | np.ndarray,
                      normals: Sequence | np.ndarray, uvs: Sequence | np.ndarray) -> int:
    """``p.createVisualShape`` for a mesh, without PyBullet's memory leak.

    ``vertices`` and ``normals`` are (N, 3) and ``uvs`` (N, 2) sequences (lists or arrays),
    ``indices`` a flat sequence of ints. Their values are copied into long-lived lists
    (:class:`_MeshArguments`), so PyBullet keeps no reference to the caller's objects.
    """
    args = _ARGUMENTS
    with args.lock:
        return p.createVisualShape(p.GEOM_MESH, vertices=args.rows("vertices", vertices),
                                   indices=args.flat("indices", indices), normals=args.rows("normals", normals),
                                   uvs=args.rows("uvs", uvs), physicsClientId=client)


def _mesh_body(client: int, mesh: MeshBuilder, texture: int, position=(0.0, 0.0, 0.0)) -> int:
    """A static, visual-only multibody from a mesh, textured with the palette."""
    shape = create_mesh_shape(client, mesh.vertices, mesh.indices, mesh.normals, mesh.uvs)
    body = p.createMultiBody(0, -1, shape, basePosition=position, physicsClientId=client)
    p.changeVisualShape(body, -1, textureUniqueId=texture, physicsClientId=client)
    return body


# ----------------------------------------------------------------------------------------
# layouts


def _uniform(rng: np.random.Generator, lo_hi) -> float:
    return float(rng.uniform(lo_hi[0], lo_hi[1]))


def _pick(rng: np.random.Generator, colors) -> list:
    return colors[int(rng.integers(len(colors)))]


def _poisson_points(rng: np.random.Generator, half: float, density: float, min_spacing: float) -> np.ndarray:
    """Points in the square [-half, half]^2 at ``density`` per m^2, at least ``min_spacing`` apart."""
    n = int(round(density * (2 * half) ** 2))
    pts = rng.uniform(-half, half, size=(n * 2, 2))
    kept: list[np.ndarray] = []
    cell = max(min_spacing, 1e-6)
    grid: dict[tuple[int, int], list[int]] = {}
    for pt in pts:
        if len(kept) >= n:
            break
        key = (int(pt[0] // cell), int(pt[1] // cell))
        ok = True
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for k in grid.get((key[0] + dx, key[1] + dy), ()):
                    if (kept[k][0] - pt[0]) ** 2 + (kept[k][1] - pt[1]) ** 2 < min_spacing ** 2:
                        ok = False
        if ok:
            grid.setdefault(key, []).append(len(kept))
            kept.append(pt)
    return np.array(kept).reshape(-1, 2)


def _forest(cfg, rng, keepouts, part, obstacles: Obstacles, ground: Ground) -> None:
    """Trees of three species, bushes and rocks; layout drawn from ``rng`` only."""
    layout, look = cfg["layout"], cfg["trees"]
    # the forest continues beyond the flight area so that views toward its edge are not empty
    half = float(layout["area_half_size"]) + float(layout["chunk_size"])
    spec = layout["trees"]
    species = list(spec["species"].keys())
    weights = np.array([spec["species"][s]["weight"] for s in species], dtype=float)
    trees = _poisson_points(rng, half, float(spec["density"]), float(spec["min_spacing"]))
    # draw every random number of a tree whatever the season, so layouts match across seasons
    for x, y in trees:
        kind = species[int(rng.choice(len(species), p=weights / weights.sum()))]
        s = spec["species"][kind]
        height = _uniform(rng, s["height"])
        trunk_r = _uniform(rng, s["trunk_radius"])
        u = rng.random(6)
        if keepouts.blocked(x, y, trunk_r + (height * s.get("crown_ratio", [0, 0.35])[1] if kind == "conifer" else 0.5)):
            continue
        cell = part(x, y)
        mesh, coarse = cell.near, cell.far
        if kind == "conifer":
            crown_r = height * (s["crown_ratio"][0] + u[0] * (s["crown_ratio"][1] - s["crown_ratio"][0]))
            base_z = height * (0.18 + 0.1 * u[1])
            trunk_color, color = _pick_u(look["trunk"], u[2]), _pick_u(look["conifer"], u[3])
            mesh.prism((x, y, 0.0), trunk_r, base_z + 0.3, 4, trunk_color)
            obstacles.cylinders.append((x, y, trunk_r, 0.0, base_z))
            # two stacked cones (one when coarse)
            h1 = (height - base_z) * 0.65
            mesh.cone((x, y, base_z), crown_r, h1, 6, color, base=False)
            mesh.cone((x, y, base_z + (height - base_z) * 0.4), crown_r * 0.7, (height - base_z) * 0.6, 6, color, base=False)
            # far away the thin trunk is under a pixel: one 4-sided cone reaching lower stands for it all
            coarse.cone((x, y, base_z * 0.4), crown_r, height - base_z * 0.4, 4, color, base=False)
            obstacles.cones.append((x, y, crown_r, base_z, height))
            if look.get("snow") is not None:
                top = base_z + (height - base_z) * 0.72
                mesh.cone((x, y, top), crown_r * 0.7 * 0.48 + 0.05, height - top + 0.05, 6, look["snow"], base=False)
                mesh.cone((x, y, base_z + h1 * 0.55), crown_r * 0.5, h1 * 0.47, 6, look["snow"], base=False)
                coarse.cone((x, y, top - 0.3), crown_r * 0.4, height - top + 0.35, 4, look["snow"], base=False)
        else:
            crown_r = _uniform(rng, s["crown_radius"])
            trunk_color = _pick_u(look["birch_trunk"] if kind == "birch" else look["trunk"], u[2])
            crown_color = _pick_u(look[kind], u[3])
            has_leaves = u[4] < float(look["leaf_fraction"])
            crown_z = height - crown_r
            mesh.prism((x, y, 0.0), trunk_r, crown_z, 4, trunk_color, top_radius=trunk_r * 0.7)
            coarse.prism((x, y, 0.0), trunk_r, crown_z, 3, trunk_color, top_radius=trunk_r * 0.7)
            obstacles.cylinders.append((x, y, trunk_r, 0.0, crown_z))
            radii = (crown_r, crown_r, crown_r * 0.85)
            if has_leaves:
                mesh.blob((x, y, crown_z), radii, crown_color, variant=float(u[5]), jitter=0.15)
                coarse.octahedron((x, y, crown_z), radii, crown_color)
                obstacles.spheres.append((x, y, crown_z, crown_r * 0.92))
            else:
                # bare branches: thin leaning prisms
                for k in range(4):
                    ang = 2 * math.pi * (k / 4 + u[5])
                    lean = crown_r * 0.8
                    z0 = crown_z * (0.55 + 0.1 * k)
                    mesh.prism((x, y, z0), trunk_r * 0.35, crown_r * 1.2, 3, crown_color, top_radius=0.01,
                               tilt=(lean * math.cos(ang), lean * math.sin(ang)))
                    if k % 2 == 0:
                        coarse.prism((x, y, z0), trunk_r * 0.35, crown_r * 1.2, 3, crown_color, top_radius=0.01,
                                     tilt=(lean * math.cos(ang), lean * math.sin(ang)))
                obstacles.spheres.append((x, y, crown_z, crown_r * 0.7))
    for kind, shape_cfg in (("bushes", layout["bushes"]), ("rocks", layout["rocks"])):
        pts = _poisson_points(rng, half, float(shape_cfg["density"]), 0.5)
        for x, y in pts:
            r = _uniform(rng, shape_cfg["radius"])
            u = rng.random(3)
            if keepouts.blocked(x, y, r):
                continue
            color = _pick_u(cfg[kind], u[0])
            z = r * (0.45 if kind == "bushes" else 0.2)
            radii = (r, r * (0.8 + 0.4 * u[1]), r * (0.7 if kind == "bushes" else 0.55))
            part(x, y).near.octahedron((x, y, z), radii, color, yaw=float(u[2]) * math.pi)
            obstacles.spheres.append((x, y, z, r * 0.8))


def _pick_u(colors, u: float):
    """Colour chosen by a uniform number in [0, 1), so the draw count does not depend on the list."""
    if colors and not isinstance(colors[0], (list, tuple)):
        return colors
    return colors[min(len(colors) - 1, int(u * len(colors)))]


def _urban(cfg, rng, keepouts, part, obstacles: Obstacles, ground: Ground) -> None:
    """Streets on a grid, building blocks between them, street furniture and a few trees."""
    layout = cfg["layout"]
    half = float(layout["area_half_size"]) + float(layout["chunk_size"])
    spacing, width = float(layout["street_spacing"]), float(layout["street_width"])
    road = cfg["road"]
    offset = rng.uniform(0, spacing, size=2)
    lines_x = np.arange(-half - spacing + offset[0], half + spacing, spacing)
    lines_y = np.arange(-half - spacing + offset[1], half + spacing, spacing)
    # the street grid as repeating stripes: pavement, carriageway, dashed centre line
    for axis, first in ((1, lines_x[0]), (0, lines_y[0])):
        ground.stripes.append(Stripe(axis, float(first), width / 2, tuple(road["pavement"]), repeat=spacing))
        ground.stripes.append(Stripe(axis, float(first), width / 2 - 1.5, tuple(road["asphalt"]), repeat=spacing))
    for axis, first in ((1, lines_x[0]), (0, lines_y[0])):
        ground.stripes.append(Stripe(axis, float(first), 0.08, tuple(road["marking"]), repeat=spacing,
                                     dash_period=4.0, dash_fill=0.5))

    def on_street(x: float, y: float, margin: float = 0.0) -> bool:
        return bool(np.min(np.abs(lines_x - x)) < width / 2 + margin or np.min(np.abs(lines_y - y)) < width / 2 + margin)

    bcfg, look = layout["buildings"], cfg["buildings"]
    gap = float(bcfg["gap"])
    for bx0, bx1 in zip(lines_x[:-1], lines_x[1:]):
        for by0, by1 in zip(lines_y[:-1], lines_y[1:]):
            x0, x1 = bx0 + width / 2 + gap, bx1 - width / 2 - gap
            y0, y1 = by0 + width / 2 + gap, by1 - width / 2 - gap
            x = x0
            while x < x1 - 1.0:
                w = min(_uniform(rng, bcfg["footprint"]), x1 - x)
                y = y0
                while y < y1 - 1.0:
                    d = min(_uniform(rng, bcfg["footprint"]), y1 - y)
                    h = _uniform(rng, bcfg["height"])
                    u = rng.random(3)
                    cx, cy = x + w / 2, y + d / 2
                    if not keepouts.blocked(cx, cy, math.hypot(w, d) / 2):
                        _building(part(cx, cy), obstacles, (cx, cy), (w / 2, d / 2, h), _pick_u(look["walls"], u[0]),
                                  _pick_u(look["roofs"], u[1]), _pick_u(look["windows"], u[2]))
                    y += d + gap
                x += w + gap
    _street_furniture(cfg, rng, keepouts, part, obstacles, (lines_x, lines_y), half)
    _street_trees(cfg, rng, keepouts, part, obstacles, on_street, half)


def _street_furniture(cfg, rng, keepouts, part, obstacles: Obstacles, lines: tuple[np.ndarray, np.ndarray],
                      half: float) -> None:
    """Lamp posts, benches, bins and bollards on the pavement edges of the streets at ``lines`` (x, y)."""
    layout = cfg["layout"]
    lines_x, lines_y = lines
    width = float(layout["street_width"])
    fcfg, fl = layout["furniture"], cfg["furniture"]
    kinds = list(fcfg["kinds"].keys())
    weights = np.array(list(fcfg["kinds"].values()), dtype=float)
    n = int(fcfg["density"] * (2 * half) ** 2)
    for _ in range(n):
        x, y = rng.uniform(-half, half, size=2)
        kind = kinds[int(rng.choice(len(kinds), p=weights / weights.sum()))]
        # move onto the pavement edge of the nearest street
        ix, iy = np.argmin(np.abs(lines_x - x)), np.argmin(np.abs(lines_y - y))
        if abs(lines_x[ix] - x) < abs(lines_y[iy] - y):
            x = lines_x[ix] + math.copysign(width / 2 - 0.6, x - lines_x[ix])
        else:
            y = lines_y[iy] + math.copysign(width / 2 - 0.6, y - lines_y[iy])
        if keepouts.blocked(x, y, 0.6):
            continue
        cell = part(x, y)
        mesh = cell.near
        if kind == "lamp_post":
            mesh.prism((x, y, 0.0), 0.06, 4.5, 4, fl["metal"])
            mesh.box((x, y, 4.55), (0.25, 0.12, 0.06), fl["metal"], top_rgb=fl["metal"])
            mesh.box((x, y, 4.47), (0.2, 0.09, 0.02), fl["lamp"])
            cell.far.prism((x, y, 0.0), 0.06, 4.6, 3, fl["metal"])
            obstacles.cylinders.append((x, y, 0.08, 0.0, 4.6))
            obstacles.boxes.append((x, y, 4.53, 0.25, 0.12, 0.08, 0.0))
        elif kind == "bench":
            yaw = float(rng.choice([0.0, math.pi / 2]))
            mesh.box((x, y, 0.45), (0.8, 0.22, 0.05), fl["wood"], yaw=yaw)
            mesh.box((x, y, 0.22), (0.7, 0.18, 0.22), fl["metal"], yaw=yaw)
            obstacles.boxes.append((x, y, 0.3, 0.8, 0.25, 0.3, yaw))
        elif kind == "bin":
            mesh.prism((x, y, 0.0), 0.25, 0.9, 6, fl["bin"])
            obstacles.cylinders.append((x, y, 0.25, 0.0, 0.9))
        else:
            mesh.prism((x, y, 0.0), 0.1, 0.9, 4, fl["metal"])
            obstacles.cylinders.append((x, y, 0.1, 0.0, 0.9))


def _street_trees(cfg, rng, keepouts, part, obstacles: Obstacles, on_street, half: float) -> None:
    """A few trees on the pavements (``on_street(x, y, margin)`` tells where the streets are)."""
    layout = cfg["layout"]
    tcfg = layout["street_trees"]
    for _ in range(int(tcfg["density"] * (2 * half) ** 2)):
        x, y = rng.uniform(-half, half, size=2)
        height, crown_r, u = _uniform(rng, tcfg["height"]), _uniform(rng, tcfg["crown_radius"]), rng.random(2)
        if not on_street(x, y) or on_street(x, y, margin=-1.5) or keepouts.blocked(x, y, crown_r):
            continue
        cell = part(x, y)
        crown_z = height - crown_r
        trunk, crown = _pick_u(cfg["trees"]["trunk"], u[0]), _pick_u(cfg["trees"]["broadleaf"], u[1])
        cell.near.prism((x, y, 0.0), 0.12, crown_z, 5, trunk)
        cell.near.blob((x, y, crown_z), (crown_r, crown_r, crown_r * 0.9), crown)
        cell.far.prism((x, y, 0.0), 0.12, crown_z, 3, trunk)
        cell.far.octahedron((x, y, crown_z), (crown_r, crown_r, crown_r * 0.9), crown)
        obstacles.cylinders.append((x, y, 0.12, 0.0, crown_z))
        obstacles.spheres.append((x, y, crown_z, crown_r * 0.92))


def _building(cell: "ChunkMeshes", obstacles: Obstacles, center, half_extents, wall, roof, window) -> None:
    """A box building with rows of dark window bands on its four sides (plain when coarse)."""
    hx, hy, h = half_extents
    cx, cy = center
    mesh = cell.near
    mesh.box((cx, cy, h / 2), (hx, hy, h / 2), wall, top_rgb=roof)
    cell.far.box((cx, cy, h / 2), (hx, hy, h / 2), wall, top_rgb=roof)
    obstacles.boxes.append((cx, cy, h / 2, hx, hy, h / 2, 0.0))
    eps = 0.03
    for z in np.arange(2.0, h - 0.8, 3.0):
        z0, z1 = z, z + 1.1
        mesh.quad([(cx + hx + eps, cy - hy * 0.85, z0), (cx + hx + eps, cy + hy * 0.85, z0),
                   (cx + hx + eps, cy + hy * 0.85, z1), (cx + hx + eps, cy - hy * 0.85, z1)], window)
        mesh.quad([(cx - hx - eps, cy + hy * 0.85, z0), (cx - hx - eps, cy - hy * 0.85, z0),
                   (cx - hx - eps, cy - hy * 0.85, z1), (cx - hx - eps, cy + hy * 0.85, z1)], window)
        mesh.quad([(cx + hx * 0.85, cy + hy + eps, z0), (cx - hx * 0.85, cy + hy + eps, z0),
                   (cx - hx * 0.85, cy + hy + eps, z1), (cx + hx * 0.85, cy + hy + eps, z1)], window)
        mesh.quad([(cx - hx * 0.85, cy - hy - eps, z0), (cx + hx * 0.85, cy - hy - eps, z0),
                   (cx + hx * 0.85, cy - hy - eps, z1), (cx - hx * 0.85, cy - hy - eps, z1)], window)
