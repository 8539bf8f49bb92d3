"""Gymnasium's and Stable-Baselines3's env checkers on every scene, modifier and task; the info format."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gymnasium_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs  # noqa: F401  (registers DroneNav-v0)
from envs import modifier_names, scene_names, task_names
from envs.drone_nav import NEAREST_OBSTACLES, OBSTACLE_PAD

# small cameras keep the grid fast; 36 px is the smallest image SB3's CnnPolicy takes
FAST = {"camera": {"width": 48, "height": 36}, "drone": {"name": "cf2x", "chase_camera": {"width": 48, "height": 36}}}
GRID = [(f"{scene}+{mod}" if mod else scene, task)
        for scene in scene_names() for mod in [None, *modifier_names()] for task in task_names()]
# the cases whose info once held NaN (unequal to itself, so Gymnasium's determinism check failed)
FAST_SUBSET = [("urban", "chain"), ("urban", "moving_target"), ("urban+fog", "chain")]
# one fast case per task that stands props (occluders, decoys) or several targets in the scene
FAST_TASKS = [("summer", "rotation"), ("summer", "occlusion"), ("summer", "hike"), ("winter", "loop")]


def check_both(scene: str, task: str, observation: str = "image") -> None:
    """Run Gymnasium's checker (render check included) and SB3's on one scene and task."""
    env = gym.make("DroneNav-v0", scene=scene, task=task, observation=observation, render_mode="rgb_array",
                   **FAST).unwrapped
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # advice (e.g. "not wrapped"), not failures
            gymnasium_check_env(env)
            sb3_check_env(env, warn=True)
    finally:
        env.close()


def test_grid_covers_every_scene_modifier_and_task():
    assert len(GRID) == len(scene_names()) * (1 + len(modifier_names())) * len(task_names()) >= 80
    assert set(FAST_SUBSET) <= set(GRID) and set(FAST_TASKS) <= set(GRID)
    assert {"rotation", "occlusion", "hike", "loop"} <= set(task_names())


@pytest.mark.parametrize("scene,task", FAST_SUBSET, ids=[f"{s}-{t}" for s, t in FAST_SUBSET])
def test_checkers_pass_on_the_urban_cases(scene: str, task: str):
    check_both(scene, task)


@pytest.mark.parametrize("scene,task", FAST_TASKS, ids=[f"{s}-{t}" for s, t in FAST_TASKS])
def test_checkers_pass_on_the_new_tasks(scene: str, task: str):
    check_both(scene, task)


def test_checkers_pass_with_the_state_observation():
    check_both("urban+dusk", "range", observation="image+state")


@pytest.mark.slow
@pytest.mark.parametrize("scene,task", GRID, ids=[f"{s}-{t}" for s, t in GRID])
def test_checkers_pass_on_every_scene_and_task(scene: str, task: str):
    check_both(scene, task)


def assert_obstacle_table(info: dict) -> int:
    """The obstacles table is finite where counted, padded with OBSTACLE_PAD after; returns the count."""
    table, count = info["obstacles"], info["obstacles_count"]
    assert table.shape == (NEAREST_OBSTACLES, 4) and table.dtype == np.float64
    assert isinstance(count, int) and 0 <= count <= NEAREST_OBSTACLES
    assert not np.isnan(table).any()
    assert np.isfinite(table[:count]).all()
    assert (table[count:] == np.array(OBSTACLE_PAD)).all()
    assert (np.diff(table[:count, 3]) >= 0).all()  # nearest first
    return count


def test_obstacles_info_is_padded_with_inf_and_counted():
    env = gym.make("DroneNav-v0", scene="urban", task="chain", camera=FAST["camera"]).unwrapped
    try:
        counts = []
        for seed in range(4):
            obs, info = env.reset(seed=seed)
            counts.append(assert_obstacle_table(info))
            for _ in range(5):
                obs, reward, terminated, truncated, info = env.step(np.array([1.0, 0.0, 0.0, 0.0], np.float32))
                counts.append(assert_obstacle_table(info))
                if terminated or truncated:
                    break
            table, count = info["obstacles"], info["obstacles_count"]
            if count:  # the nearest of all (the target's sign included) is no farther than the first row
                assert info["nearest_obstacle_distance"] <= table[0, 3] + 1e-9
        assert min(counts) < NEAREST_OBSTACLES  # padding was exercised
    finally:
        env.close()


def test_step_infos_compare_equal_for_the_same_seed():
    """What Gymnasium's determinism check does, with the padded rows in view."""
    infos = []
    for _ in range(2):
        env = gym.make("DroneNav-v0", scene="urban", task="moving_target", camera=FAST["camera"]).unwrapped
        try:
            env.reset(seed=3)
            infos.append(env.step(np.zeros(4, np.float32))[4])
        finally:
            env.close()
    assert infos[0]["obstacles_count"] < NEAREST_OBSTACLES
    assert gym.utils.env_checker.data_equivalence(infos[0], infos[1])
