"""Simulation side of navlnn: PyBullet quadrotor, scenes, tasks and Gymnasium environments.

This package stands alone: it never imports ``navlnn``. ``import envs`` registers
``DroneNav-v0`` (keyword arguments ``scene=``, ``task=``, ``drone=``, ...; see
:class:`envs.drone_nav.DroneNavEnv`). PyBullet is imported when a simulator part is first used
(``envs.DroneNavEnv``, ``gymnasium.make("DroneNav-v0")``, ``envs.scene``...), not by ``import
envs``: the configs (``envs.config``, Hydra's ``pkg://envs.conf``) and training work on a machine
without it.
"""

from __future__ import annotations

import importlib
from typing import Any

from gymnasium.envs.registration import register, registry

MAX_EPISODE_STEPS = 2000  # a bound above every task's own time limit (which truncates first)

if "DroneNav-v0" not in registry:
    register(id="DroneNav-v0", entry_point="envs.drone_nav:DroneNavEnv", max_episode_steps=MAX_EPISODE_STEPS)

_LAZY = {"DroneNavEnv": "envs.drone_nav", "Expert": "envs.expert", "scene_names": "envs.scene",
         "modifier_names": "envs.scene", "task_names": "envs.tasks"}

__all__ = ["DroneNavEnv", "Expert", "scene_names", "modifier_names", "task_names"]


def __getattr__(name: str) -> Any:
    """The simulator's public names, imported on first use (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'envs' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
