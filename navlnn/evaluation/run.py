"""Running an evaluation: its shard of the episodes, flown through :mod:`navlnn.rollout`, cached and resumed.

Every finished episode is saved in the cache folder as ``<job key>.npz``
(:func:`navlnn.rollout.keys.job_key`) as it comes, so an interrupted evaluation resumes where it
stopped, and the shards of a sharded evaluation are pooled by looking their flights up by key.
Caches written before the versioned key are found through :func:`find_cached` (the migration).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

from navlnn.evaluation.plan import BadInput, Plan, plan_jobs
from navlnn.evaluation.report import Result, measure
from navlnn.rollout.flight import Flight, load_flight, save_flight
from navlnn.rollout.keys import job_key, legacy_job_key
from navlnn.rollout.jobs import run_jobs, scene_groups
from navlnn.rollout.specs import Job

FLIGHT_SUFFIX = ".npz"
_UNREADABLE = (OSError, ValueError, KeyError, TypeError)  # what a half-written or stale flight file raises


def parse_shard(text: Any) -> tuple[int, int]:
    """``"i/n"`` (0 <= i < n) as ``(i, n)``; None is the whole evaluation, ``(0, 1)``."""
    if text is None:
        return (0, 1)
    try:
        index, count = (int(v) for v in str(text).split("/"))
    except ValueError:
        raise BadInput(f"shard: expected i/n (the i-th of n slices, 0 <= i < n), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise BadInput(f"shard: expected i/n with 0 <= i < n, got {text!r}")
    return (index, count)


def shard_jobs(jobs: Sequence[Job], shard: tuple[int, int]) -> list[int]:
    """The indices of the jobs of shard ``(i, n)``: the scene groups (scene, task and seed, every
    model and the expert's reference together) ``g`` with ``g % n == i``."""
    index, count = shard
    return sorted(i for g, group in enumerate(scene_groups(jobs)) if g % count == index for i, _ in group)


def _load(path: Path, writable: bool) -> Optional[Flight]:
    """The flight in ``path``; None if unreadable (then removed where ``writable``: it is flown again)."""
    try:
        return load_flight(path)
    except _UNREADABLE:
        if writable:
            path.unlink()
        return None


def find_cached(job: Job, key: str, folder: Path, writable: bool) -> Optional[Flight]:
    """``job``'s flight in ``folder``, under its key ``key``, else under its legacy key.

    The one migration of caches written before :class:`~navlnn.rollout.keys.JobKey`: a flight
    found under :func:`~navlnn.rollout.keys.legacy_job_key` is renamed to ``key`` in a
    ``writable`` folder (the cache of this run), read where it is otherwise (a shard's folder).
    """
    path = folder / f"{key}{FLIGHT_SUFFIX}"
    if not path.is_file():
        legacy = legacy_job_key(job)
        old = folder / f"{legacy}{FLIGHT_SUFFIX}"
        if legacy is None or not old.is_file():
            return None
        if not writable:
            return _load(old, False)
        os.replace(old, path)
    return _load(path, writable)


def cached(jobs: Sequence[Job], keys: Sequence[str], cache: Optional[Path],
           found_in: Sequence[Path] = ()) -> list[Optional[Flight]]:
    """The flights of ``jobs`` already in ``cache`` or the folders ``found_in`` (None where not)."""
    flown: list[Optional[Flight]] = [None] * len(jobs)
    for folder in [*([cache] if cache is not None else []), *map(Path, found_in)]:
        for i, (job, key) in enumerate(zip(jobs, keys)):
            if flown[i] is None:
                flown[i] = find_cached(job, key, folder, writable=folder == cache)
    return flown


def fly_plan(plan_: Plan, workers: int = 1, progress: bool = False, cache: Optional[Path] = None,
             log: Callable[[str], Any] = print, batch: int = 1, shard: tuple[int, int] = (0, 1),
             found_in: Sequence[Path] = (), fly: bool = True) -> list[Flight]:
    """The flights of the plan's shard ``shard``, in :func:`~navlnn.evaluation.plan.plan_jobs` order.

    With ``cache`` (a folder), each episode is saved there as it finishes, and episodes already
    there or in ``found_in`` are not flown again; ``fly=False`` flies nothing and stops naming
    what is missing (merging the shards' folders).
    """
    jobs = plan_jobs(plan_)
    jobs = [jobs[i] for i in shard_jobs(jobs, shard)]
    keys = [job_key(job) for job in jobs]
    if cache is not None:
        cache = Path(cache)
        cache.mkdir(parents=True, exist_ok=True)
    flown = cached(jobs, keys, cache, found_in)
    found = sum(e is not None for e in flown)
    if found and fly:
        log(f"resuming: {found} of {len(jobs)} episodes already flown in '{cache}'")
    todo = [i for i, e in enumerate(flown) if e is None]
    if todo and not fly:
        raise BadInput(f"{len(todo)} of {len(jobs)} episodes are in none of the folders "
                       f"({', '.join(map(str, found_in))}); run the missing shards first (with the same settings)")

    def keep(k: int, episode: Flight) -> None:
        if cache is not None:
            save_flight(cache / f"{keys[todo[k]]}{FLIGHT_SUFFIX}", episode)

    for k, episode in enumerate(run_jobs([jobs[i] for i in todo], workers, progress, on_result=keep, desc="eval",
                                         batch=batch)):
        flown[todo[k]] = episode
    return flown  # type: ignore[return-value]


def evaluate(plan_: Plan, workers: int = 1, progress: bool = False, level: float = 0.95, resamples: int = 2000,
             bootstrap_seed: int = 0, cache: Optional[Path] = None, log: Callable[[str], Any] = print, batch: int = 1,
             shard: tuple[int, int] = (0, 1), found_in: Sequence[Path] = (), fly: bool = True) -> Result:
    """Fly the plan (the expert's reference flights first in each scene x task) and compute the metrics.

    With ``cache`` (a folder), every finished episode is saved there as it comes, and episodes
    already there (or in the folders ``found_in``) are not flown again: an interrupted evaluation
    resumes where it stopped. ``shard=(i, n)`` flies only the i-th of n fixed slices (see
    :func:`shard_jobs`); ``fly=False`` flies nothing and stops naming what is missing (merging
    the shards' folders). ``batch``: envs each worker steps together.
    """
    flown = fly_plan(plan_, workers, progress, cache, log, batch, shard, found_in, fly)
    return measure(plan_, flown, level, resamples, bootstrap_seed)
