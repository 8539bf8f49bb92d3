"""Shared helpers for the envs tests."""

import math

import numpy as np
import pytest


def pilot(info: dict, gain: float = 1.2) -> np.ndarray:
    """A privileged pilot: fly straight to the approach point while facing the target."""
    pos = info["drone"]["pos_world"]
    yaw = info["drone"]["rpy"][2]
    d = info["target"]["approach_world"] - pos
    dx = math.cos(yaw) * d[0] + math.sin(yaw) * d[1]
    dy = -math.sin(yaw) * d[0] + math.cos(yaw) * d[1]
    action = np.array([gain * dx / 2.0, gain * dy / 2.0, gain * d[2], info["bearing_to_target"] * 2.0 / 1.5])
    return np.clip(action, -1.0, 1.0).astype(np.float32)


@pytest.fixture
def steer():
    """The privileged pilot function."""
    return pilot


def fly(env, seed: int, max_steps: int = 2000):
    """Run one episode with the privileged pilot; returns (steps, last info, terminated)."""
    obs, info = env.reset(seed=seed)
    for step in range(max_steps):
        obs, reward, terminated, truncated, info = env.step(pilot(info))
        if terminated or truncated:
            return step + 1, info, terminated
    return max_steps, info, False


@pytest.fixture
def fly_episode():
    """Function running one piloted episode."""
    return fly
