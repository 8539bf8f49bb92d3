"""A reset with the seed that built the current scene keeps the scene: same episode, much faster."""

from __future__ import annotations

import time

import numpy as np
import pytest

from envs import DroneNavEnv
from envs.expert import Expert

CAMERA = {"width": 64, "height": 36}


def _fly(env: DroneNavEnv, seed: int, steps: int = 25) -> tuple[np.ndarray, np.ndarray, dict]:
    obs, info = env.reset(seed=seed)
    expert = Expert(env)
    expert.reset()
    images, positions = [obs], [info["drone"]["pos_world"]]
    for _ in range(steps):
        obs, _, terminated, truncated, info = env.step(expert.act(info))
        images.append(obs)
        positions.append(info["drone"]["pos_world"])
        if terminated or truncated:
            break
    return np.asarray(images), np.asarray(positions), info


@pytest.mark.parametrize("scene", ["summer", "winter+fog", "urban"])
def test_reset_on_a_built_scene_gives_the_episode_of_a_fresh_build(scene):
    reused, fresh = DroneNavEnv(scene=scene, camera=CAMERA), DroneNavEnv(scene=scene, camera=CAMERA)
    try:
        _fly(reused, 5)
        bodies = reused.scene.chunks[0].near_body
        images, positions, info = _fly(reused, 5)  # the scene of seed 5 again: kept
        assert reused.scene.chunks[0].near_body == bodies
        ref_images, ref_positions, ref_info = _fly(fresh, 5)
        np.testing.assert_array_equal(images, ref_images)
        np.testing.assert_array_equal(positions, ref_positions)
        assert info["time_s"] == ref_info["time_s"] and info["is_success"] == ref_info["is_success"]
        assert not np.array_equal(_fly(reused, 6)[0][0], images[0])  # another seed: another layout
    finally:
        reused.close()
        fresh.close()


def test_reset_on_a_built_scene_is_fast():
    env = DroneNavEnv(camera=CAMERA)
    try:
        env.reset(seed=9)
        env.step(env.action_space.sample())
        times = []
        for _ in range(5):
            start = time.perf_counter()
            env.reset(seed=9)
            times.append(time.perf_counter() - start)
        start = time.perf_counter()
        env.reset(seed=10)
        build = time.perf_counter() - start
        assert min(times) < 0.02 and min(times) < build / 5
    finally:
        env.close()
