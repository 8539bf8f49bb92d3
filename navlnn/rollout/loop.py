"""The closed loop: :func:`rollout` flies one episode; :func:`lockstep` steps several envs
together, with one batched policy call per step.

Both run the same step (:class:`Running`): ask the actor what its policy should see, call the
policy, let the actor decide, let the recorders keep the step, step the env. :func:`rollout` is
:func:`lockstep` over one env.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from navlnn.constants import episode_outcome
from navlnn.rollout.actors import Actor, Query
from navlnn.rollout.recorders import Recorder


@dataclass
class Task:
    """One episode to fly: in ``env``, from ``seed``, decided by ``actor``, kept by ``recorders``."""

    env: Any
    actor: Actor
    seed: int
    recorders: Sequence[Recorder]
    key: Any = None  # the caller's handle, handed back with the results
    results: dict = field(default_factory=dict)


class Running:
    """One episode in progress: reset on construction, then :meth:`ask` and :meth:`advance` each step."""

    def __init__(self, task: Task) -> None:
        self.task = task
        env, actor = task.env, task.actor
        self.obs, self.info = env.reset(seed=int(task.seed))
        actor.start(env)
        for r in task.recorders:
            r.start(env, int(task.seed), self.obs, self.info)
        self.done = False

    def ask(self) -> Optional[Query]:
        """The policy call this step needs (None: none)."""
        return self.task.actor.query(self.obs, self.info)

    def advance(self, action: Optional[np.ndarray]) -> bool:
        """Decide (with the policy's ``action``), record and step the env; True when the episode has ended."""
        task = self.task
        decision = task.actor.decide(self.obs, self.info, action)
        for r in task.recorders:
            r.step(self.obs, self.info, decision)
        self.obs, reward, terminated, truncated, self.info = task.env.step(decision.action)
        for r in task.recorders:
            r.after(self.obs, reward, self.info)
        self.done = bool(terminated or truncated)
        if self.done:
            outcome = episode_outcome(self.info)
            task.results = {r.name: r.finish(task.env, self.info, outcome) for r in task.recorders}
            task.results["outcome"] = outcome
        return self.done


def call_policy(policy: Any, asked: Sequence[tuple[Actor, Query]], pad_to: int = 1) -> list[np.ndarray]:
    """One policy step for every ``(actor, query)``; updates each actor's ``state`` and returns
    each one's command, clamped to ``[-1, 1]``.

    The batch is padded to ``pad_to`` rows (copies of the first): a row's numbers then depend
    only on its own inputs and the batch size, not on which or how many envs asked this step.
    """
    import torch

    device = next(policy.parameters()).device
    pad = max(0, int(pad_to) - len(asked))
    with torch.inference_mode():
        frames = np.stack([np.ascontiguousarray(q.frame) for _, q in asked] + [asked[0][1].frame] * pad)
        dts = torch.tensor([q.dt for _, q in asked] + [asked[0][1].dt] * pad, device=device)
        states = [a.state if a.state is not None else policy.initial_state(1) for a, _ in asked]
        state = torch.cat(states + states[:1] * pad)
        out, new_state = policy.step(torch.as_tensor(frames, device=device), state, dts)
        commands = out[:len(asked)].clamp(-1.0, 1.0).float().cpu().numpy()
    for i, (actor, _) in enumerate(asked):
        actor.state = new_state[i:i + 1]
    return [commands[i] for i in range(len(asked))]


def lockstep(next_task: Callable[[int], Optional[Task]], slots: int, on_done: Callable[[Task], None]) -> None:
    """Fly episodes in ``slots`` envs stepped together until ``next_task(slot)`` has none left.

    Each step, every policy is called once for all the slots it flies (batch ``slots``, padded);
    when a slot's episode ends, ``on_done(task)`` gets it (results in ``task.results``) and the
    slot takes ``next_task(slot)``. A slot's tasks should use that slot's env only.
    """
    if slots < 1:
        raise ValueError(f"slots must be at least 1, got {slots}")
    running: list[Optional[Running]] = [None] * slots

    def fill(slot: int) -> None:
        task = next_task(slot)
        running[slot] = Running(task) if task is not None else None

    for slot in range(slots):
        fill(slot)
    while any(r is not None for r in running):
        active = [(slot, r) for slot, r in enumerate(running) if r is not None]
        groups: dict[int, list[tuple[int, Any, Query]]] = {}
        for slot, r in active:
            query = r.ask()
            if query is not None:
                groups.setdefault(id(r.task.actor.policy), []).append((slot, r.task.actor, query))
        commands: dict[int, np.ndarray] = {}
        for group in groups.values():
            out = call_policy(group[0][1].policy, [(actor, query) for _, actor, query in group], slots)
            commands.update({slot: c for (slot, _, _), c in zip(group, out)})
        for slot, r in active:
            if r.advance(commands.get(slot)):
                on_done(r.task)
                fill(slot)


def rollout(env: Any, actor: Actor, seed: int, recorders: Sequence[Recorder]) -> dict[str, Any]:
    """Fly one episode of ``env`` from ``seed``; each recorder's result under its name, and ``outcome``."""
    task = Task(env, actor, int(seed), list(recorders))
    pending = [task]
    lockstep(lambda slot: pending.pop() if pending else None, 1, lambda t: None)
    return task.results
