"""What a job is: who flies (a policy factory), where (an env factory), from which seed, how.

Every part is a small frozen dataclass, picklable and hashable, so that jobs travel to worker
processes and workers can keep what the factories build (see :mod:`navlnn.rollout.jobs`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from navlnn.constants import ENV_ID
from navlnn.rollout.flight import plain_json
from navlnn.rollout.perturbations import FrameTiming, ImagePerturbation


@dataclass(frozen=True)
class EnvFactory:
    """Builds ``DroneNav-v0`` with fixed keyword arguments (picklable and hashable)."""

    kwargs_json: str

    @classmethod
    def of(cls, **kwargs: Any) -> "EnvFactory":
        """The factory of ``gym.make(ENV_ID, **kwargs)`` (the kwargs kept as canonical JSON)."""
        return cls(json.dumps(kwargs, sort_keys=True, default=plain_json))

    @property
    def kwargs(self) -> dict:
        """The env's keyword arguments."""
        return json.loads(self.kwargs_json)

    def __call__(self):
        import gymnasium as gym

        import envs  # noqa: F401  (registers the env)

        return gym.make(ENV_ID, **self.kwargs)


@dataclass(frozen=True)
class CheckpointPolicy:
    """Loads a policy checkpoint; ``image_hw`` (if given) must match the checkpoint's camera."""

    path: str
    image_hw: Optional[tuple[int, int]] = None

    def __call__(self):
        from navlnn.policies.checkpoint import load_policy

        policy = load_policy(self.path, self.image_hw)
        policy.eval()
        return policy


@dataclass(frozen=True)
class ExpertFactory:
    """Builds the privileged expert for an env (``params``: a ``conf/expert`` mapping as JSON)."""

    params_json: str = "null"

    @classmethod
    def of(cls, params: Mapping | str | None = None) -> "ExpertFactory":
        return cls(json.dumps(params, sort_keys=True, default=plain_json))

    def __call__(self, env):
        from envs.expert import Expert

        params = json.loads(self.params_json)
        return Expert(env, params if params is not None else "default")


@dataclass(frozen=True)
class FlyOptions:
    """How a job flies besides its policy.

    ``expert``: with a policy, the expert's label is kept at every state and its command flies
    with probability ``beta`` per step (DAgger); without one, the expert flies alone.
    ``perturb``/``timing``: the stress options of the frames the policy sees. ``record_images``,
    ``record_state``, ``render``, ``record_mask``: keep the frames seen, the policy's state, the
    chase camera, the target's pixel mask. ``attention``: measure where the policy looks (the
    recorder registered as ``attention``; the flight is the same), its saliency SSIM against
    ``attention_perturb`` when given, else against the frames as the policy saw them. Every field
    is part of the job's cache key (:class:`navlnn.rollout.keys.JobKey`): a new field goes there too.
    """

    expert: Optional[ExpertFactory] = None
    beta: float = 0.0
    record_images: bool = False
    record_state: bool = False
    render: bool = False
    perturb: ImagePerturbation = ImagePerturbation()
    timing: FrameTiming = FrameTiming()
    record_mask: bool = False
    attention: bool = False
    attention_perturb: Optional[ImagePerturbation] = None

    @property
    def recorders(self) -> tuple[str, ...]:
        """The names of the registered recorders (:func:`navlnn.rollout.recorders.register_recorder`)
        these options ask for beyond the built-in ones."""
        return ("attention",) if self.attention else ()


@dataclass(frozen=True)
class Job:
    """One episode to fly: who flies, where, from which seed, how; ``tags`` end up in the flight."""

    policy: Optional[Callable[[], Any]]
    env: Callable[[], Any]
    seed: int
    options: FlyOptions = FlyOptions()
    tags: tuple = ()
