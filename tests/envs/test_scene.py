"""Scenes: config resolution, layouts, keep-outs, obstacles, culling, looks, the target."""

import math

import numpy as np
import pytest

from envs import DroneNavEnv
from envs.camera import onboard_pose
from envs.obstacles import Obstacles
from envs.scene import Keepouts, modifier_names, resolve_scene, scene_names

SMALL_CAMERA = {"width": 64, "height": 36}


def test_scene_and_modifier_names():
    assert set(scene_names()) == {"summer", "fall", "winter", "spring", "urban"}
    assert set(modifier_names()) == {"dusk", "fog", "camera_noise"}


def test_resolve_merges_modifiers_and_overrides():
    cfg = resolve_scene("winter+fog", modifiers=["dusk"])
    assert cfg["full_name"] == "winter+fog+dusk"
    assert cfg["post"]["fog"]["density"] > 0 and cfg["post"]["exposure"] < 1
    assert cfg["layout"]["kind"] == "forest"
    cfg = resolve_scene({"name": "urban", "layout": {"area_half_size": 12.0}, "modifiers": ["fog"]})
    assert cfg["layout"]["area_half_size"] == 12.0 and cfg["layout"]["kind"] == "urban"
    assert cfg["full_name"] == "urban+fog"


@pytest.mark.parametrize("bad", ["desert", "summer+snowstorm"])
def test_unknown_scene_names_fail_with_the_list(bad):
    with pytest.raises(ValueError) as err:
        resolve_scene(bad)
    for name in ("summer", "urban") if bad == "desert" else ("dusk", "fog", "camera_noise"):
        assert name in str(err.value)


def test_keepouts():
    k = Keepouts(circles=[(0.0, 0.0, 1.0)], corridors=[(2.0, 0.0, 10.0, 0.0, 0.5)])
    assert k.blocked(0.5, 0.5, 0.1)
    assert k.blocked(6.0, 0.3, 0.3)
    assert not k.blocked(6.0, 1.0, 0.3)
    assert not k.blocked(-3.0, 0.0, 0.5)


def test_obstacle_distances():
    obs = Obstacles(cylinders=[(0.0, 0.0, 0.5, 0.0, 3.0)], cones=[(10.0, 0.0, 1.0, 2.0, 4.0)],
                    spheres=[(0.0, 10.0, 2.0, 1.0)], boxes=[(20.0, 0.0, 1.0, 1.0, 2.0, 1.0, math.pi / 2)]).freeze()
    d = obs.distances((2.0, 0.0, 1.0))
    assert d[0] == pytest.approx(1.5)
    assert obs.distances((10.0, 0.0, 1.0))[1] == pytest.approx(1.0)  # below the cone's base
    assert obs.distances((0.0, 10.0, 4.0))[2] == pytest.approx(1.0)
    # the box is turned by 90 degrees: its long side (2 m half-extent) lies along x
    assert obs.distances((22.5, 0.0, 1.0))[3] == pytest.approx(0.5)
    assert obs.distances((20.0, 1.5, 1.0))[3] == pytest.approx(0.5)
    assert obs.distance((0.2, 0.0, 1.0)) < 0  # inside the trunk
    near = obs.near((0.0, 0.0, 1.0), 1.0)
    assert len(near) == 1 and len(obs + near) == 5


@pytest.mark.parametrize("task", ["fly_to_target", "chain", "moving_target"])
def test_start_and_way_are_clear_and_target_in_view(task):
    e = DroneNavEnv(task=task, camera=SMALL_CAMERA)
    try:
        for seed in range(3):
            _, info = e.reset(seed=seed)
            start = info["drone"]["pos_world"]
            assert e.scene.obstacles.distance(start) > 1.0
            app = info["target"]["approach_world"]
            for t in np.linspace(0, 1, 20):  # the straight way to the first approach point
                assert e.scene.obstacles.distance(start + t * (app - start)) > 0.3
            assert not e.scene.out_of_bounds(start)
    finally:
        e.close()


def test_culling_hides_what_is_behind():
    e = DroneNavEnv(camera=SMALL_CAMERA)
    try:
        e.reset(seed=0)
        scene, cam = e.scene, e.camera.params
        state = e.quad.state()
        eye, forward, up = onboard_pose(cam, state.pos_world, state.rot)
        shown = scene.cull(eye, forward, cam.half_fov_diag, cam.far)
        assert 0 < shown < len(scene.chunks)
        for chunk in scene.chunks:
            rel = chunk.center - eye
            dist = np.linalg.norm(rel)
            if dist > chunk.radius + 1 and rel @ forward < -chunk.radius:
                assert chunk.shown == 0  # behind the camera
            if chunk.shown == 1:
                assert dist - chunk.radius <= scene.lod_distance
        assert scene.shown_triangles < scene.triangle_count / 2
    finally:
        e.close()


def first_image(scene: str, seed: int = 0, **kw) -> np.ndarray:
    e = DroneNavEnv(scene=scene, **kw)
    try:
        return e.reset(seed=seed)[0]
    finally:
        e.close()


def red_pixels(img: np.ndarray) -> int:
    r, g, b = (img[..., i].astype(int) for i in range(3))
    return int(np.count_nonzero((r > 120) & (r > 2 * g) & (r > 2 * b)))


def test_seasons_look_different_and_keep_the_target():
    images = {s: first_image(s) for s in ("summer", "fall", "winter", "spring", "urban")}
    means = {s: img.reshape(-1, 3).mean(axis=0) for s, img in images.items()}
    names = list(images)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert np.abs(means[a] - means[b]).max() > 8, (a, b)
    assert means["winter"].mean() > means["summer"].mean() + 30  # snow
    assert means["fall"][0] > means["summer"][0] + 15  # autumn leaves
    for s, img in images.items():
        assert red_pixels(img) >= 15, s  # the red sign is in view in every season


def test_target_legible_at_12m_with_the_default_camera():
    task = {"name": "range", "distance": 12.0, "lateral_offset": [0.0, 0.0], "heading_offset_deg": [0.0, 0.0],
            "altitude": [1.5, 1.5]}
    for seed in range(3):
        img = first_image("summer", seed=seed, task=task)
        red = (img[..., 0].astype(int) > 120) & (img[..., 0] > 2 * img[..., 1].astype(int))
        rows, cols = np.nonzero(red)
        assert red.sum() >= 12
        assert cols.max() - cols.min() + 1 >= 4  # several pixels across: a sign, not a speck
        assert abs(cols.mean() - img.shape[1] / 2) < 4  # straight ahead


def test_modifiers_change_the_image_as_named():
    base = first_image("summer").astype(float)
    dusk = first_image("summer+dusk").astype(float)
    fog = first_image("summer+fog").astype(float)
    assert dusk.mean() < base.mean() - 20
    # fog: distant pixels tend to the fog colour, contrast drops
    assert fog.std() < base.std() * 0.8
    noisy1 = first_image("summer+camera_noise", seed=0)
    noisy2 = first_image("summer+camera_noise", seed=1)
    clean = first_image("summer", seed=0)
    assert np.abs(noisy1.astype(int) - clean.astype(int)).mean() > 2
    assert not np.array_equal(noisy1, noisy2)


def test_urban_has_buildings_and_no_forest():
    e = DroneNavEnv(scene="urban", camera=SMALL_CAMERA)
    try:
        e.reset(seed=0)
        obs = e.scene.obstacles
        assert len(obs.boxes) > 20 and len(obs.cones) == 0
        assert obs.boxes[:, 5].max() * 2 > 10  # tall buildings
    finally:
        e.close()


def _mesh(rng: np.random.Generator, n: int) -> tuple[list, list, list, list]:
    """Fresh vertex, index, normal and uv lists of an ``n``-vertex mesh."""
    return (rng.random((n, 3)).tolist(), list(range(n)), [[0.0, 0.0, 1.0] for _ in range(n)],
            [[0.5, 0.5] for _ in range(n)])


def test_mesh_shapes_do_not_keep_the_lists_alive():
    import sys

    import pybullet as p

    from envs.scene import create_mesh_shape

    cid = p.connect(p.DIRECT)
    try:
        verts, indices, normals, uvs = _mesh(np.random.default_rng(0), 6)
        arrays = [np.asarray(verts), np.arange(6), np.asarray(normals), np.asarray(uvs)]
        lists = [verts, normals, uvs, indices, verts[0], uvs[5], normals[3], *arrays]
        before = [sys.getrefcount(x) for x in lists]
        for _ in range(3):
            assert create_mesh_shape(cid, verts, indices, normals, uvs) >= 0
            assert create_mesh_shape(cid, *arrays) >= 0
        assert [sys.getrefcount(x) for x in lists] == before
    finally:
        p.disconnect(cid)


def test_mesh_shapes_leave_no_lists_behind():
    """PyBullet keeps references to the lists it is given: only long-lived ones may reach it."""
    import gc

    import pybullet as p

    from envs.scene import _ARGUMENTS, create_mesh_shape

    def live_lists() -> int:
        gc.collect()
        return sum(type(o) is list for o in gc.get_objects())

    rng = np.random.default_rng(1)
    cid = p.connect(p.DIRECT)
    try:
        assert create_mesh_shape(cid, *_mesh(rng, 400)) >= 0
        before, rows = live_lists(), _ARGUMENTS.sizes()
        for n in (400, 120, 399, 7) * 5:
            assert create_mesh_shape(cid, *_mesh(rng, n)) >= 0
        grown = live_lists() - before
        assert grown < 20, f"{grown} lists left behind by 20 meshes (a leak keeps about 3 per vertex)"
        assert _ARGUMENTS.sizes() == rows and min(rows.values()) >= 400  # rows for the largest mesh, reused
    finally:
        p.disconnect(cid)


def test_mesh_shapes_render_the_values_given():
    """The reused argument lists carry each mesh's own values: a second, different mesh
    built after a bigger one renders as it does on its own."""
    import pybullet as p

    from envs.scene import create_mesh_shape

    def image(cid: int) -> np.ndarray:
        view = p.computeViewMatrix([0, -3, 0.5], [0, 0, 0.5], [0, 0, 1])
        proj = p.computeProjectionMatrixFOV(60, 1.0, 0.1, 10)
        return np.asarray(p.getCameraImage(32, 32, view, proj, renderer=p.ER_TINY_RENDERER,
                                           physicsClientId=cid)[2])

    quad = ([[-1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]], [0, 1, 2, 0, 2, 3],
            [[0.0, -1.0, 0.0]] * 4, [[0.5, 0.5]] * 4)
    images = []
    for first in (None, _mesh(np.random.default_rng(2), 300)):
        cid = p.connect(p.DIRECT)
        try:
            if first is not None:
                create_mesh_shape(cid, *first)  # a bigger mesh first, not placed in the world
            p.createMultiBody(0, -1, create_mesh_shape(cid, *quad), physicsClientId=cid)
            images.append(image(cid))
        finally:
            p.disconnect(cid)
    assert (images[0] != images[0][0, 0]).any()  # the quad is in view
    assert np.array_equal(images[0], images[1])


def test_resets_do_not_grow_memory():
    def rss_mb() -> float:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))

    e = DroneNavEnv(scene={"name": "summer", "layout": {"area_half_size": 18.0}}, camera=SMALL_CAMERA)
    try:
        for seed in range(3):
            e.reset(seed=seed)
        before = rss_mb()
        for seed in range(10):
            e.reset(seed=seed)
        assert rss_mb() - before < 25  # a leaked scene of this size costs about 10 MB per reset
    finally:
        e.close()


def test_scene_mapping_with_a_named_layout_resolves_the_layout():
    """Hydra passes a scene group as a mapping whose layout is still a name."""
    from envs.scene import resolve_scene

    cfg = resolve_scene({"name": "winter", "layout": "forest"}, ["fog"])
    assert isinstance(cfg["layout"], dict) and cfg["full_name"] == "winter+fog"
    assert cfg["layout"] == resolve_scene("winter")["layout"]


def test_expert_is_exported_at_package_level():
    import envs
    from envs.expert import Expert

    assert envs.Expert is Expert
