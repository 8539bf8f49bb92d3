"""The one worker pool: items handed to worker objects, in this process or in ``spawn`` processes.

A worker is built once per process by ``make_worker()`` (picklable, e.g. a ``functools.partial``
of a class) and called on items; its results come back with their item's index as they finish.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, Optional, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_WORKER: Any = None


def _init(make_worker: Callable[[], Any]) -> None:
    global _WORKER
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _WORKER = make_worker()


def _call(item: Any) -> Any:
    return _WORKER(item)


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def run_pool(make_worker: Callable[[], Callable[[T], R]], items: Sequence[T], workers: int,
             on_result: Optional[Callable[[int, R], None]] = None, describe: Callable[[T], str] = repr,
             local: Optional[Callable[[T], R]] = None) -> list[R]:
    """Call a worker on every item, in ``workers`` processes when more than one; the results in item order.

    ``on_result(index, result)`` runs in this process as each result comes. With one worker (or
    one item) the work runs here, in ``local`` if given (else a worker made here and closed after).
    A failed item stops the pool with a message naming it (``describe(item)``).
    """
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    results: list[Any] = [None] * len(items)

    def done(index: int, result: R) -> None:
        results[index] = result
        if on_result is not None:
            on_result(index, result)

    if workers == 1 or len(items) <= 1:
        worker = local if local is not None else make_worker()
        try:
            for i, item in enumerate(items):
                done(i, worker(item))
        finally:
            if local is None and hasattr(worker, "close"):
                worker.close()
        return results
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(workers, len(items)), mp_context=ctx, initializer=_init,
                             initargs=(make_worker,)) as pool:
        pending = {pool.submit(_call, item): i for i, item in enumerate(items)}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                index = pending.pop(fut)
                try:
                    result = fut.result()
                except Exception as exc:
                    for other in pending:
                        other.cancel()
                    raise RuntimeError(f"{describe(items[index])} failed: {type(exc).__name__}: {exc}") from exc
                done(index, result)
    return results
