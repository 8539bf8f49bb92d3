"""Fixtures of the rollout tests: the evaluation tests' short-episode env and tiny policies."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
for helper in ("evaluation", "data"):  # _tiny (small policies, short task) and _demos (a small collection spec)
    if str(TESTS / helper) not in sys.path:
        sys.path.insert(0, str(TESTS / helper))

from _tiny import CAMERA, SHORT_TASK, tiny_policy  # noqa: E402

from navlnn.nn.checkpoint import save_checkpoint  # noqa: E402
from navlnn.rollout.jobs import EnvFactory  # noqa: E402


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
