"""The privileged expert: success on a seeded sample, bounded smooth actions, target kept in
view, braking at the approach zone, obstacle avoidance, season-blindness, bad config."""

from __future__ import annotations

import math

import numpy as np
import pytest

from envs import DroneNavEnv
from envs.expert import Expert, ExpertParams
from envs.obstacles import Obstacles

CAMERA = {"width": 32, "height": 18}  # the expert never looks at the image


def fly(env, expert, seed: int, after_reset=None):
    """One expert episode; returns (actions, infos, terminated, truncated)."""
    _, info = env.reset(seed=seed)
    if after_reset is not None:
        after_reset(env, info)
    expert.reset()
    actions, infos = [], [info]
    terminated = truncated = False
    while not (terminated or truncated):
        action = expert.act(info)
        actions.append(action)
        _, _, terminated, truncated, info = env.step(action)
        infos.append(info)
    return np.array(actions), infos, terminated, truncated


@pytest.fixture(scope="module")
def summer():
    env = DroneNavEnv(scene="summer", task="fly_to_target", camera=CAMERA)
    yield env
    env.close()


@pytest.fixture(scope="module")
def summer_flights(summer):
    expert = Expert(summer)
    return [fly(summer, expert, seed) for seed in range(6)]


def test_succeeds_on_a_seeded_sample_without_collisions(summer_flights):
    for seed, (actions, infos, terminated, truncated) in enumerate(summer_flights):
        last = infos[-1]
        assert terminated and last["is_success"], f"seed {seed}: collision={last['collision']} time={last['time_s']}"
        assert not last["collision"]


def test_actions_are_bounded_and_smooth(summer, summer_flights):
    prm, dt, ctl = Expert(summer).params, summer.dt, summer.control
    for actions, *_ in summer_flights:
        assert actions.dtype == np.float32 and actions.shape[1] == 4
        assert np.all(np.abs(actions) <= 1.0)
        yaw_rate = actions[:, 3] * ctl.max_yaw_rate
        assert np.max(np.abs(np.diff(yaw_rate))) <= prm.max_yaw_accel * dt + 1e-5
        assert np.max(np.abs(yaw_rate)) <= prm.max_yaw_rate + 1e-5
        vz = actions[:, 2] * ctl.max_speed_z
        assert np.max(np.abs(np.diff(vz))) <= prm.max_accel_z * dt + 1e-5
        speed_xy = np.hypot(actions[:, 0], actions[:, 1]) * ctl.max_speed_xy
        assert np.max(speed_xy) <= prm.cruise_speed + prm.push_speed + 1e-5


def test_keeps_the_target_near_the_image_centre(summer_flights):
    for actions, infos, *_ in summer_flights:
        bearings = np.abs([i["bearing_to_target"] for i in infos])
        settle = 15  # steps (1 s) to turn from the start's heading offset
        assert np.median(bearings[settle:]) < math.radians(5)
        assert np.max(bearings[settle:-5]) < math.radians(20)


def test_brakes_into_the_approach_zone(summer_flights):
    for actions, infos, *_ in summer_flights:
        speed = [float(np.linalg.norm(i["drone"]["vel_world"][:2])) for i in infos]
        assert max(speed) > 1.0  # it cruises...
        assert speed[-1] < 0.6 * max(speed)  # ...and arrives braking
        assert infos[-1]["distance_to_approach"] < 0.7


def test_season_blind_same_actions_in_every_season():
    runs = []
    for scene in ("summer", "winter"):
        env = DroneNavEnv(scene=scene, camera=CAMERA)
        runs.append(fly(env, Expert(env), seed=3)[0])
        env.close()
    assert np.array_equal(runs[0], runs[1])


def _block_the_way(env, info):
    """Stand a trunk on the straight line from the start to the approach point."""
    start, app = info["drone"]["pos_world"], info["target"]["approach_world"]
    mid = start + 0.5 * (app - start)
    env.scene.obstacles = env.scene.obstacles + Obstacles(cylinders=[(mid[0], mid[1], 0.25, 0.0, 6.0)]).freeze()


def test_goes_around_an_obstacle_on_the_straight_path(summer):
    expert = Expert(summer)
    for seed in (0, 1):
        actions, infos, terminated, _ = fly(summer, expert, seed, after_reset=_block_the_way)
        assert terminated and infos[-1]["is_success"] and not infos[-1]["collision"]
        clear = min(float(summer.scene.obstacles.distance(i["drone"]["pos_world"])) for i in infos)
        assert clear > summer.airframe.collision_radius + 0.1


@pytest.mark.parametrize("scene,task", [("urban", "fly_to_target"), ("summer", "chain"), ("summer", "moving_target")])
def test_other_tasks_and_scenes(scene, task):
    env = DroneNavEnv(scene=scene, task=task, camera=CAMERA)
    try:
        _, infos, terminated, _ = fly(env, Expert(env), seed=1)
        assert terminated and infos[-1]["is_success"] and not infos[-1]["collision"]
        if task == "chain":
            assert infos[-1]["target"]["index"] == infos[-1]["target"]["count"] - 1
    finally:
        env.close()


def test_works_through_gym_wrappers():
    import gymnasium as gym

    env = gym.make("DroneNav-v0", camera=CAMERA)
    try:
        _, info = env.reset(seed=2)
        expert = Expert(env)
        action = expert.act(info)
        assert env.action_space.contains(action)
    finally:
        env.close()


def test_bad_config_is_named(summer):
    with pytest.raises(ValueError, match="unknown keys cruise_sped"):
        Expert(summer, {"name": "default", "cruise_sped": 1.0})
    with pytest.raises(ValueError, match="stop_distance"):
        Expert(summer, {"name": "default", "avoid": {"stop_distance": 2.0}})
    with pytest.raises(ValueError, match="unknown expert 'fast'"):
        Expert(summer, "fast")
    assert Expert(summer, {"name": "default", "cruise_speed": 1.0}).params.cruise_speed == 1.0
    assert isinstance(Expert(summer).params, ExpertParams)
