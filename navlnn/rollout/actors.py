"""Actors decide each step's command: the expert (with its DART noise), a policy (with the
evaluation's stress options), or a per-step mixture of the two (DAgger).

An actor flies one episode at a time. Each step the loop asks it for a :class:`Query` (the
frame and ``dt`` to hand its policy, or None when it needs no policy call this step), calls the
policy (batched over all the envs a worker steps together) and hands the result to
:meth:`decide`, which returns the :class:`Decision`: the command to execute and what recorders
keep. Actors with a policy carry its recurrent state in ``state`` (a ``(1, S)`` tensor, None at
the start of an episode); the loop reads and writes it around each policy call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol

import numpy as np

from navlnn.rollout.perturbations import FrameTiming, ImagePerturbation
from navlnn.rollout.noise import InjectedNoise

NO_COMMAND = np.full(4, np.nan, np.float32)  # the policy command of a step no policy took part in


def image_of(obs: Any) -> np.ndarray:
    """The onboard image of an observation (the observation itself, or its ``image`` key)."""
    return obs["image"] if isinstance(obs, Mapping) else obs


@dataclass(frozen=True)
class Query:
    """What a policy is asked in one step: a frame ``(H, W, 3)`` uint8 and the seconds since its last frame."""

    frame: np.ndarray
    dt: float


@dataclass
class Decision:
    """One step's command and what recorders keep of it.

    ``off_label``: the executed command is on purpose not the expert's clean label (its injected
    noise was on, or the policy flew this step); datasets store it as ``noise_on``.
    """

    action: np.ndarray  # (4,) float32, executed
    frame: np.ndarray  # the frame as the policy saw it (the raw onboard image where it saw none)
    label: Optional[np.ndarray] = None  # (4,) the expert's command in this state
    policy_action: np.ndarray = field(default_factory=lambda: NO_COMMAND)  # (4,) the policy's (held) command
    told_dt: float = 0.0  # the dt the policy was told (0 where it got no frame)
    frame_used: bool = False  # the policy got this step's frame
    expert_flew: bool = False  # the expert's command (noise included) was executed
    off_label: bool = False
    policy_state: Any = None  # the policy's state after this step (a (1, S) tensor), if any


class Actor(Protocol):
    """What the rollout loop needs of an actor."""

    policy: Any  # the network to call (a navlnn.policies.policy.Policy), or None
    state: Any  # its carried state

    def start(self, env: Any) -> None:
        """Get ready for an episode of ``env`` (called after its reset)."""

    def query(self, obs: Any, info: Mapping) -> Optional[Query]:
        """The policy call this step needs, or None."""

    def decide(self, obs: Any, info: Mapping, action: Optional[np.ndarray]) -> Decision:
        """The step's decision, given the policy's command (None where it was not called)."""


class ExpertActor:
    """The privileged expert; with ``noise``, its label plus injected noise flies (DART)."""

    policy = None
    state = None

    def __init__(self, expert: Any, noise: Optional[InjectedNoise] = None) -> None:
        self.expert, self.noise = expert, noise
        self._label: Optional[np.ndarray] = None

    def start(self, env: Any) -> None:
        self.expert.reset()

    def query(self, obs: Any, info: Mapping) -> None:
        self._label = self.expert.act(info)
        return None

    def decide(self, obs: Any, info: Mapping, action: Optional[np.ndarray]) -> Decision:
        label = self._label
        on = False
        executed = label
        if self.noise is not None:
            delta, on = self.noise()
            executed = np.clip(label + delta, -1.0, 1.0)
        return Decision(np.asarray(executed, np.float32), image_of(obs), label=label, expert_flew=True, off_label=on)


class PolicyActor:
    """A policy flying on its own frames, under the evaluation's stress options.

    ``perturb`` changes the frames it sees; ``timing`` drops frames (the command is held and the
    next frame comes with the whole elapsed time as its ``dt``; the first frame is never dropped)
    and jitters the ``dt`` it is told. Their random numbers come from ``rng``.
    """

    def __init__(self, policy: Any, rng: np.random.Generator, perturb: ImagePerturbation = ImagePerturbation(),
                 timing: FrameTiming = FrameTiming(), keep_state: bool = False) -> None:
        self.policy, self.rng, self.perturb, self.timing, self.keep_state = policy, rng, perturb, timing, keep_state
        self.state: Any = None

    def start(self, env: Any) -> None:
        self.env_dt = float(env.unwrapped.dt)
        self.state = None
        self.held = np.zeros(4, np.float32)
        self.elapsed = 0.0
        self.steps = 0
        self._query: Optional[Query] = None

    def query(self, obs: Any, info: Mapping) -> Optional[Query]:
        self.elapsed += self.env_dt
        self._query = None
        if self.steps == 0 or not self.timing.dropped(self.rng):
            frame = self.perturb(image_of(obs), self.rng)
            self._query = Query(frame, self.timing.reported_dt(self.elapsed, self.rng))
            self.elapsed = 0.0
        return self._query

    def decide(self, obs: Any, info: Mapping, action: Optional[np.ndarray]) -> Decision:
        self.steps += 1
        if action is not None:
            self.held = action
        q = self._query
        return Decision(self.held.astype(np.float32), q.frame if q is not None else image_of(obs),
                        policy_action=self.held, told_dt=q.dt if q is not None else 0.0, frame_used=q is not None,
                        policy_state=self.state if self.keep_state else None)


class MixtureActor:
    """DAgger's actor: each step the expert's label flies with probability ``beta``, else the policy's command.

    The policy sees every step (its state is carried whoever flies); the expert's label is kept
    at every visited state. One draw from ``rng`` per step, after the policy's own.
    """

    def __init__(self, policy_actor: PolicyActor, expert: Any, beta: float, rng: np.random.Generator) -> None:
        if not 0.0 <= beta <= 1.0:
            raise ValueError(f"beta must be in [0, 1], got {beta}")
        self.policy_actor, self.expert, self.beta, self.rng = policy_actor, expert, float(beta), rng
        self._label: Optional[np.ndarray] = None

    @property
    def policy(self) -> Any:
        return self.policy_actor.policy

    @property
    def state(self) -> Any:
        return self.policy_actor.state

    @state.setter
    def state(self, value: Any) -> None:
        self.policy_actor.state = value

    def start(self, env: Any) -> None:
        self.policy_actor.start(env)
        self.expert.reset()

    def query(self, obs: Any, info: Mapping) -> Optional[Query]:
        self._label = self.expert.act(info)
        return self.policy_actor.query(obs, info)

    def decide(self, obs: Any, info: Mapping, action: Optional[np.ndarray]) -> Decision:
        d = self.policy_actor.decide(obs, info, action)
        d.label = self._label
        d.expert_flew = bool(self.rng.random() < self.beta)
        d.off_label = not d.expert_flew
        if d.expert_flew:
            d.action = np.asarray(self._label, np.float32)
        return d
