"""Jobs: episodes described by picklable factories, flown by workers that keep what they build.

A :class:`~navlnn.rollout.specs.Job` names who flies (a policy factory, or None for the expert
alone), the env factory, the seed and the :class:`FlyOptions`. :func:`run_jobs` groups the jobs by scene (env factory and
seed), hands groups to workers of the one pool, and each :class:`FlightWorker` flies a group's
episodes one after another in the same env (so the env builds the scene once), stepping
``batch`` envs together with batched policy calls.

Every episode depends only on its job: its extra random numbers (image noise, dropped frames,
the expert's share of control) come from ``default_rng([seed, RUNNER_STREAM])``
(:mod:`navlnn.rollout.seeds`), and policies run with one torch thread; so the episodes are the
same for any ``workers`` and ``batch``. Jobs are cached under :func:`~navlnn.rollout.keys.job_key`.
"""

from __future__ import annotations

import functools
import importlib
import math
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Optional

from navlnn.rollout.actors import ExpertActor, MixtureActor, PolicyActor
from navlnn.rollout.flight import Flight
from navlnn.rollout.keys import job_key
from navlnn.rollout.loop import Task, lockstep
from navlnn.rollout.pool import run_pool
from navlnn.rollout.recorders import FlightRecorder, FrameRecorder, make_recorder, recorder_providers
from navlnn.rollout.seeds import RUNNER_STREAM, runner_rng
from navlnn.rollout.specs import CheckpointPolicy, EnvFactory, ExpertFactory, FlyOptions, Job

__all__ = ["CheckpointPolicy", "EnvFactory", "ExpertFactory", "FlightWorker", "FlyOptions", "Job", "RUNNER_STREAM",
           "bundle_size", "fly", "job_key", "make_actor", "run", "run_jobs", "scene_groups"]

_ENV_CACHE = 4  # envs a worker slot keeps open (one per scene x task x settings)
_POLICY_CACHE = 8  # policies a worker keeps loaded
GROUPS_PER_SLOT = 4  # scene groups handed to a worker at once, per slot (at most)
BUNDLES_PER_WORKER = 4  # at least this many hand-outs per worker where there are enough groups


def make_actor(policy: Any, env: Any, seed: int, options: FlyOptions, expert: Any = None):
    """The actor of a job: the policy alone, the expert alone, or their mixture (``options.expert``)."""
    if policy is None and expert is None:
        raise ValueError("give a policy, an expert, or both")
    rng = runner_rng(seed)
    if policy is None:
        return ExpertActor(expert)
    actor = PolicyActor(policy, rng, options.perturb, options.timing, keep_state=options.record_state)
    return actor if expert is None else MixtureActor(actor, expert, options.beta, rng)


def _recorders(options: FlyOptions, tags: Mapping, policy: Any = None) -> list:
    out: list = [FlightRecorder(tags)]
    if options.record_images or options.record_state or options.render or options.record_mask:
        out.append(FrameRecorder(options.record_images, options.render, options.record_state, options.record_mask))
    for name in options.recorders:  # registered above the rollout layer (attention)
        recorder = make_recorder(name, policy, options)
        if recorder is not None:
            out.append(recorder)
    return out


def _flight(results: Mapping) -> Flight:
    """The flight, with the arrays of the other recorders (frames, attention...) as its attributes."""
    flight = results["flight"]
    for part, recorded in results.items():
        if part != "flight" and isinstance(recorded, Mapping):
            for key, value in recorded.items():
                setattr(flight, key, value)
    return flight


def fly(policy: Any, env: Any, seed: int, options: FlyOptions = FlyOptions(), expert: Any = None) -> Flight:
    """Fly one episode of ``env`` from ``seed`` with ``policy`` (a Policy, or None with an ``expert``)."""
    from navlnn.rollout.loop import rollout

    actor = make_actor(policy, env, seed, options, expert)
    return _flight(rollout(env, actor, int(seed), _recorders(options, {}, policy)))


class _Cache(OrderedDict):
    """The most recently used values, built on demand; the oldest closed beyond ``limit``."""

    def __init__(self, limit: int, close: Callable[[Any], None] = lambda v: None) -> None:
        super().__init__()
        self.limit, self.close = limit, close

    def get_or_make(self, key: Any, make: Callable[[], Any]) -> Any:
        if key in self:
            self.move_to_end(key)
            return self[key]
        value = self[key] = make()
        while len(self) > self.limit:
            _, old = self.popitem(last=False)
            self.close(old)
        return value


class FlightWorker:
    """Flies groups of jobs (one process's share): ``batch`` envs in lockstep, each taking a whole
    scene group (same env and seed) before the next, so its env builds that scene once."""

    def __init__(self, batch: int = 1, providers: Sequence[str] = ()) -> None:
        import torch

        for module in providers:  # register the recorders defined above rollout (in a spawned worker)
            importlib.import_module(module)
        self._threads = torch.get_num_threads()
        torch.set_num_threads(1)
        self.batch = int(batch)
        self.envs = [_Cache(_ENV_CACHE, lambda e: e.close()) for _ in range(self.batch)]
        self.policies = _Cache(_POLICY_CACHE)

    def __call__(self, groups: Sequence[Sequence[tuple[int, Job]]]) -> list[tuple[int, Flight]]:
        todo = deque(groups)
        current: list[deque] = [deque() for _ in range(self.batch)]
        out: list[tuple[int, Flight]] = []

        def next_task(slot: int) -> Optional[Task]:
            if not current[slot]:
                if not todo:
                    return None
                current[slot] = deque(todo.popleft())
            index, job = current[slot].popleft()
            env = self.envs[slot].get_or_make(job.env, job.env)
            policy = job.policy
            if policy is not None and not hasattr(policy, "step"):  # a factory, not a policy
                policy = self.policies.get_or_make(job.policy, job.policy)
            opt = job.options
            expert = opt.expert(env) if opt.expert is not None else None
            actor = make_actor(policy, env, job.seed, opt, expert)
            return Task(env, actor, int(job.seed), _recorders(opt, dict(job.tags), policy), key=index)

        lockstep(next_task, self.batch, lambda task: out.append((task.key, _flight(task.results))))
        return out

    def close(self) -> None:
        import torch

        for cache in self.envs:
            for env in cache.values():
                env.close()
            cache.clear()
        self.policies.clear()
        torch.set_num_threads(self._threads)


def scene_groups(jobs: Sequence[Job]) -> list[list[tuple[int, Job]]]:
    """The jobs (with their indices) grouped by env factory and seed, in order of first appearance."""
    groups: dict[tuple, list[tuple[int, Job]]] = {}
    for i, job in enumerate(jobs):
        groups.setdefault((job.env, int(job.seed)), []).append((i, job))
    return list(groups.values())


def bundle_size(groups: int, workers: int, batch: int) -> int:
    """Scene groups per hand-out to a worker process.

    Up to ``batch * GROUPS_PER_SLOT`` (fewer hand-outs, envs reused), but small enough that each
    worker gets about ``BUNDLES_PER_WORKER`` of them: with 24 groups on 2 workers, 16-group
    bundles left one worker flying the last 8 alone, and nothing was saved until a bundle ended.
    Never below ``batch``, so a worker's slots stay filled. One worker flies in ``batch``-group steps.
    """
    batch = max(1, batch)
    if workers <= 1:
        return batch
    return max(batch, min(batch * GROUPS_PER_SLOT, math.ceil(groups / (workers * BUNDLES_PER_WORKER))))


def run_jobs(jobs: Sequence[Job], workers: int = 1, progress: bool = False,
             on_result: Optional[Callable[[int, Flight], None]] = None, desc: str = "episodes",
             batch: int = 1) -> list[Flight]:
    """Fly ``jobs`` (in ``workers`` processes when more than one, ``batch`` envs each); the flights in job order.

    ``on_result(index, flight)`` is called as each flight comes back (to save work as it comes).
    """
    if int(batch) < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    groups = scene_groups(jobs)
    size = bundle_size(len(groups), int(workers), int(batch))
    bundles = [groups[i:i + size] for i in range(0, len(groups), size)]
    results: list[Optional[Flight]] = [None] * len(jobs)
    bar = _bar(len(jobs), progress, desc)

    def done(_: int, flown: list[tuple[int, Flight]]) -> None:
        for index, flight in flown:
            results[index] = flight
            if on_result is not None:
                on_result(index, flight)
        if bar is not None:  # success among the policy's flights (not the expert's reference flights)
            mine = [f for f, j in zip(results, jobs) if f is not None and j.policy is not None]
            bar.set_postfix(success=f"{sum(f.success for f in mine)}/{len(mine)}", refresh=False)
            bar.update(len(flown))

    def describe(bundle) -> str:
        return f"the episodes with seeds {sorted({job.seed for group in bundle for _, job in group})}"

    try:
        providers = recorder_providers({name for job in jobs for name in job.options.recorders})
        run_pool(functools.partial(FlightWorker, int(batch), providers), bundles, workers, done, describe)
    finally:
        if bar is not None:
            bar.close()
    return results  # type: ignore[return-value]


def run(policy_factory: Optional[Callable[[], Any]], env_factory: Callable[[], Any], seeds: Sequence[int],
        workers: int = 1, progress: bool = False, options: FlyOptions = FlyOptions(), batch: int = 1) -> list[Flight]:
    """Fly one episode per seed with the policy from ``policy_factory`` in envs from ``env_factory``.

    ``policy_factory`` may also be a policy itself (in this process only, ``workers=1``).
    Factories must be picklable (e.g. :class:`CheckpointPolicy`, :class:`EnvFactory`) when
    ``workers > 1``. Returns the flights in the order of ``seeds``, the same for any ``workers``.
    """
    return run_jobs([Job(policy_factory, env_factory, int(s), options) for s in seeds], workers, progress,
                    batch=batch)


def _bar(total: int, enabled: bool, desc: str):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="episode", desc=desc, dynamic_ncols=True)
