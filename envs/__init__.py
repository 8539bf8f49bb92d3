"""Simulation side of navlnn: PyBullet quadrotor, scenes, tasks and Gymnasium environments.

This package stands alone: it never imports ``navlnn``. ``import envs`` registers
``DroneNav-v0`` (keyword arguments ``scene=``, ``task=``, ``drone=``, ...; see
:class:`envs.drone_nav.DroneNavEnv`).
"""

from gymnasium.envs.registration import register, registry

from envs.quiet_import import import_pybullet

import_pybullet()  # before the modules below import it, so its banner stays off stderr

from envs.drone_nav import DroneNavEnv  # noqa: E402
from envs.expert import Expert  # noqa: E402
from envs.scene import modifier_names, scene_names  # noqa: E402
from envs.tasks import task_names  # noqa: E402

MAX_EPISODE_STEPS = 2000  # a bound above every task's own time limit (which truncates first)

if "DroneNav-v0" not in registry:
    register(id="DroneNav-v0", entry_point="envs.drone_nav:DroneNavEnv", max_episode_steps=MAX_EPISODE_STEPS)

__all__ = ["DroneNavEnv", "Expert", "scene_names", "modifier_names", "task_names"]
