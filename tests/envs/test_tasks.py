"""The tasks of the MIT drone work (rotation, occlusion, hike, loop): they reset and step, repeat
per seed, place what they promise, keep the other tasks free of props, and the expert flies them."""

from __future__ import annotations

import math

import numpy as np
import pytest

from envs import DroneNavEnv, task_names
from envs.config import load
from envs.expert import Expert
from envs.props import Prop, props_obstacles
from envs.tasks import Episode, make_task

CAMERA = {"width": 32, "height": 18}  # the expert never looks at the image
NEW_TASKS = ["rotation", "occlusion", "hike", "loop"]
AREA_HALF = 30.0
SIGN_HEIGHT = 1.5
SAMPLES = 60  # episodes drawn (no scene built) per geometry test


def _episodes(name: str, n: int = SAMPLES) -> list[Episode]:
    task = make_task(name, SIGN_HEIGHT)
    return [task.sample(np.random.default_rng(seed), AREA_HALF) for seed in range(n)]


def _flat(v: np.ndarray) -> np.ndarray:
    return np.array([v[0], v[1], 0.0])


def _segment_distance(point: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Horizontal distance from ``point`` to the segment ``a``-``b``."""
    p, a, b = point[:2], a[:2], b[:2]
    d = b - a
    t = float(np.clip((p - a) @ d / max(float(d @ d), 1e-12), 0.0, 1.0))
    return float(np.linalg.norm(p - a - t * d))


def _sight_blocked(solids, eye: np.ndarray, target: np.ndarray, samples: int = 200) -> bool:
    """True when the straight line from ``eye`` to ``target`` passes through ``solids``."""
    return any(solids.distance(eye + (target - eye) * t) < 0.0 for t in np.linspace(0.0, 1.0, samples))


def _fly(env: DroneNavEnv, expert: Expert, seed: int) -> tuple[np.ndarray, list[dict]]:
    """One expert episode: (drone positions, infos)."""
    _, info = env.reset(seed=seed)
    expert.reset()
    infos = [info]
    while True:
        _, _, terminated, truncated, info = env.step(expert.act(info))
        infos.append(info)
        if terminated or truncated:
            return np.array([i["drone"]["pos_world"] for i in infos]), infos


@pytest.fixture(scope="module")
def flights():
    """Expert flights in summer: ``{task: [(episode, positions, infos), ...]}`` (a few seeds each)."""
    out = {}
    for name, seeds in (("rotation", range(3)), ("occlusion", range(4)), ("hike", range(2)), ("loop", range(1))):
        env = DroneNavEnv(scene="summer", task=name, camera=CAMERA)
        expert = Expert(env)
        out[name] = []
        for seed in seeds:
            positions, infos = _fly(env, expert, seed)
            out[name].append((env.episode, positions, infos))
        env.close()
    return out


def test_new_tasks_are_registered_with_configs():
    assert set(NEW_TASKS) <= set(task_names())
    for name in NEW_TASKS:
        assert load("task", name)["name"] == name


@pytest.mark.parametrize("name", NEW_TASKS)
def test_resets_steps_and_repeats_per_seed(name):
    runs = []
    for _ in range(2):
        env = DroneNavEnv(scene="summer", task=name, camera={"width": 48, "height": 36})
        try:
            obs, info = env.reset(seed=7)
            frames, infos = [obs], [info]
            for _ in range(3):
                obs, reward, terminated, truncated, info = env.step(np.array([0.5, 0.1, 0.0, 0.2], np.float32))
                frames.append(obs)
                infos.append(info)
                assert np.isfinite(reward) and not terminated and not truncated
            runs.append((env.episode, np.array(frames), infos))
        finally:
            env.close()
    (ep_a, frames_a, infos_a), (ep_b, frames_b, infos_b) = runs
    np.testing.assert_array_equal(frames_a, frames_b)
    np.testing.assert_array_equal(ep_a.start_pos, ep_b.start_pos)
    assert [t.yaw for t in ep_a.targets] == [t.yaw for t in ep_b.targets]
    assert ep_a.props == ep_b.props
    for a, b in zip(infos_a, infos_b):
        np.testing.assert_array_equal(a["drone"]["pos_world"], b["drone"]["pos_world"])
        assert not np.isnan(a["obstacles"]).any()
    # another seed, another episode
    other = make_task(name, SIGN_HEIGHT).sample(np.random.default_rng(8), AREA_HALF)
    assert not np.allclose(other.start_pos, ep_a.start_pos)


def test_rotation_turns_the_sign_up_to_60_degrees_with_the_approach_point_in_front():
    angles = []
    for ep in _episodes("rotation"):
        target = ep.targets[0]
        to_start = _flat(ep.start_pos - target.pos_world)
        angle = math.degrees(math.atan2(np.cross(to_start, target.facing)[2], float(to_start @ target.facing)))
        angles.append(angle)
        assert abs(angle) <= 60.0 + 1e-9
        assert float((target.approach_point(1.0) - target.pos_world) @ target.facing) > 0.99  # in front
        assert float(to_start @ target.facing) > 0  # the start is on the sign's face side
    angles = np.array(angles)
    assert angles.max() > 40 and angles.min() < -40  # turned both ways, far
    assert np.mean(np.abs(angles) > 20) > 0.4  # mostly beyond fly_to_target's 20 degrees


def test_occluder_stands_on_the_line_of_sight_at_the_start():
    kinds = set()
    for ep in _episodes("occlusion"):
        (prop,) = ep.props
        kinds.add(prop.kind)
        assert prop.role == "occluder"
        assert _sight_blocked(props_obstacles([prop]), ep.start_pos, ep.targets[0].pos_world)
        # between the start and the target, not beside them
        way = _flat(ep.targets[0].pos_world - ep.start_pos)
        along = float(_flat(prop.center - ep.start_pos) @ way / (way @ way))
        assert 0.3 < along < 0.65
    assert kinds == {"trunk", "board"}


def test_occluder_hides_the_sign_for_part_of_the_approach_only(flights):
    for episode, positions, infos in flights["occlusion"]:
        solids = props_obstacles(episode.props)
        sign = episode.targets[0].pos_world
        blocked = [_sight_blocked(solids, pos, sign, samples=80) for pos in positions[::3]]
        assert blocked[0] and not blocked[-1]
        assert 0 < np.mean(blocked) < 1


def test_props_are_solid_obstacles_of_the_scene_and_in_info():
    env = DroneNavEnv(scene="summer", task="occlusion", camera=CAMERA)
    try:
        _, info = env.reset(seed=3)
        (prop,) = env.episode.props
        assert env.scene.obstacles.distance(prop.center) < 0  # inside the scene's solids
        # a drone just in front of the occluder: it is the nearest obstacle in info
        facing = prop.facing
        env.quad.reset(prop.center + facing * 0.5, 0.0)
        _, _, terminated, _, info = env.step(np.zeros(4, np.float32))
        count = info["obstacles_count"]
        assert count >= 1 and np.hypot(*(info["obstacles"][0, :2] - [prop.x, prop.y])) < 1e-6
        # flying into it ends the episode with a collision
        env.quad.reset(prop.center + facing * 0.2, math.atan2(-facing[1], -facing[0]))
        for _ in range(15):
            _, _, terminated, _, info = env.step(np.array([1.0, 0.0, 0.0, 0.0], np.float32))
            if terminated:
                break
        assert terminated and info["collision"] and not info["is_success"]
    finally:
        env.close()


def test_the_older_tasks_stand_no_props():
    for name in ("fly_to_target", "range", "chain", "moving_target"):
        assert all(not ep.props for ep in _episodes(name, 5))


def _ways(ep: Episode) -> list[tuple[np.ndarray, np.ndarray]]:
    stops = [ep.start_pos] + [t.approach_point(1.0) for t in ep.targets]
    return list(zip(stops[:-1], stops[1:]))


def test_hike_places_red_decoys_beside_the_way_and_off_it():
    cfg = load("task", "hike")
    lo, hi = cfg["decoys"]["side"]
    half_width = cfg["clearance"]["corridor_half_width"]
    shapes, sides = set(), set()
    for ep in _episodes("hike", 30):
        assert len(ep.targets) == cfg["targets"]
        assert len(ep.props) >= len(ep.targets)  # about one or two per way
        for prop in ep.props:
            assert prop.role == "decoy"
            assert prop.colors["face"] == [225, 18, 28]  # the sign's red
            shapes.add(prop.kind)
            sides.add(prop.size.get("sides"))
            d = min(_segment_distance(prop.center, a, b) for a, b in _ways(ep))
            assert half_width + prop.reach <= d <= hi + 1e-9  # near the way, never on it
            for t in ep.targets:
                assert np.hypot(*(prop.center - t.pos_world)[:2]) > 1.5
    assert shapes == {"ball", "plate"} and {0, 3, 4} <= sides  # balls, boards, signs of other shapes


def test_hike_decoys_are_passed_by_not_reached(flights):
    for episode, positions, infos in flights["hike"]:
        assert infos[-1]["is_success"] and infos[-1]["target"]["index"] == len(episode.targets) - 1
        for prop in episode.props:
            horiz = np.hypot(positions[:, 0] - prop.x, positions[:, 1] - prop.y)
            # the targets are reached to 1 m; the decoys are never within their own approach zone
            assert horiz.min() > 1.2, f"decoy {prop.kind} at {prop.x:.1f},{prop.y:.1f}: {horiz.min():.2f} m"
            zone = np.array([prop.x, prop.y]) + prop.facing[:2] * 1.0
            assert np.hypot(*(positions[:, :2] - zone).T).min() > 0.6


def test_loop_is_three_corners_flown_round_twice():
    cfg = load("task", "loop")
    for ep in _episodes("loop", 30):
        assert len(ep.targets) == 3 * cfg["laps"] == 6
        corners = ep.targets[:3]
        for k in range(3, 6):
            assert ep.targets[k] is corners[k - 3]
        lo, hi = cfg["side"]
        for k in range(3):
            a, b = corners[k].pos_world, corners[(k + 1) % 3].pos_world
            assert lo - 1e-9 <= np.linalg.norm(a - b) <= hi + 1e-9
            # each sign faces the corner the drone comes from
            prev = corners[k - 1].pos_world
            assert float(corners[k].facing @ _flat(prev - corners[k].pos_world)) > 0.99 * np.linalg.norm(prev - corners[k].pos_world)
        assert float(corners[0].facing @ _flat(ep.start_pos - corners[0].pos_world)) > 0  # starts before the first


@pytest.mark.parametrize("name", NEW_TASKS)
def test_the_expert_succeeds(flights, name):
    for episode, positions, infos in flights[name]:
        last = infos[-1]
        assert last["is_success"] and not last["collision"], f"{name}: t={last['time_s']:.1f} s"
        assert last["target"]["index"] == len(episode.targets) - 1
        indices = [i["target"]["index"] for i in infos]
        assert sorted(set(indices)) == list(range(len(episode.targets)))  # every target in turn


def test_props_carry_their_own_look_and_solids():
    plate = Prop("plate", 1.0, 2.0, 0.3, "decoy",
                 {"sides": 3, "radius": 0.6, "rim": 0.06, "bar": 0.6, "height": 1.5, "thickness": 0.05,
                  "post_radius": 0.045},
                 {"face": [225, 18, 28], "rim": [250, 250, 250], "bar": [250, 250, 250], "post": [236, 236, 236]})
    solids = props_obstacles([plate])
    assert solids.distance(plate.center) < 0 and solids.distance(plate.center + np.array([0, 0, 1.0])) > 0
    assert plate.reach == pytest.approx(0.6)


def test_reset_on_a_built_scene_keeps_its_props_once():
    env = DroneNavEnv(scene="summer", task="hike", camera={"width": 48, "height": 36})
    try:
        first, _ = env.reset(seed=2)
        solids = len(env.scene.obstacles)
        again, _ = env.reset(seed=2)  # the scene of seed 2 is kept: props neither lost nor added twice
        np.testing.assert_array_equal(first, again)
        assert len(env.scene.obstacles) == solids
        for prop in env.episode.props:
            assert env.scene.obstacles.distance(prop.center) < 0
    finally:
        env.close()
