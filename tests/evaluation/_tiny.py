"""Small policies, settings and fixtures for the evaluation and rollout tests: a 64x36 camera, short episodes.

The fixtures are used through each folder's conftest.py, which imports them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from navlnn.policies.checkpoint import save_checkpoint
from navlnn.policies.policy import build_policy
from navlnn.rollout.jobs import EnvFactory

CONF = Path(__file__).resolve().parents[2] / "conf"
HW = (36, 64)
CAMERA = {"width": HW[1], "height": HW[0]}
SHORT_TASK = {"name": "fly_to_target", "time_limit_s": 2.0}  # 30 steps at most


def tiny_policy(model: str = "ncp_cfc", hw: tuple[int, int] = HW, seed: int = 0):
    """A small untrained policy, the same weights for the same arguments: closed-loop comparisons
    (one by one against batched) amplify rounding differently for different weights, so a test
    on fresh random weights each session would pass or fail by chance."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=["data=unused", f"model={model}", "model.trunk.channels=[8,8,8,8,8]"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        policy = build_policy(cfg.model, hw)
    policy.eval()
    return policy


@pytest.fixture(scope="session")
def env_factory() -> EnvFactory:
    return EnvFactory.of(task=SHORT_TASK, camera=CAMERA)


@pytest.fixture(scope="module")
def env(env_factory):
    env = env_factory()
    yield env
    env.close()


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny.pt", tiny_policy())
