"""Fixtures of the evaluation tests: a short-episode env with a 64x36 camera, a tiny checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
from _tiny import CAMERA, SHORT_TASK, tiny_policy

from navlnn.rollout.jobs import EnvFactory
from navlnn.nn.checkpoint import save_checkpoint


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
