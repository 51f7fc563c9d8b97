"""Independent trainings side by side, one process each: how audiolab uses several CPU cores.

The folds of a cross-validation do not depend on one another, so they can train at the same time. On
a small model a second *process* pays off more than a second *thread* inside one training: on the
2-core development machine two one-thread trainings side by side finish 1.3-1.4x sooner than the same
two trainings one after the other with two threads each (``benchmarks/parallel_folds.py``).

Opt in with ``$AUDIOLAB_WORKERS`` (``2``, or ``auto`` for one per core) or the ``workers`` argument of
:func:`audiolab.evaluation.run_cv`. Each worker trains with **one** thread, so a fold's numbers do not
depend on how many cores the machine has; they differ in the last digits from a one-process run with
several threads (floating-point sums in another order), so results stored by one way are not what the
other would produce: the stored results are reused either way, as their key does not change.

:func:`run_jobs` runs jobs in a pool of spawned processes, kept for the rest of the session (starting a
worker imports torch, a few seconds), and re-raises the first job's error. Each worker imports the main
script again, so a script that trains in parallel keeps its work under ``if __name__ == "__main__":``
(notebooks need nothing).
"""
from __future__ import annotations

import atexit
import os
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any, Callable, Optional, Sequence

__all__ = ["WORKERS_ENV", "resolve_workers", "run_jobs", "shutdown"]

WORKERS_ENV = "AUDIOLAB_WORKERS"

_pools: dict[int, ProcessPoolExecutor] = {}


def resolve_workers(workers: Optional[int | str] = None) -> int:
    """How many trainings run at once: ``workers``, else ``$AUDIOLAB_WORKERS``, else 1.
    ``"auto"`` is one per CPU core. Raises ``ValueError`` for anything but a positive count or ``auto``."""
    value = workers if workers is not None else os.environ.get(WORKERS_ENV, "").strip() or 1
    if str(value).strip().lower() == "auto":
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if count < 1:
        source = "workers" if workers is not None else f"${WORKERS_ENV}"
        raise ValueError(f"{source}={value!r}: give a number of trainings to run at once (1, 2, ...) or 'auto'")
    return count


def _worker_start(parent: int) -> None:
    """Each worker: one torch thread, and an exit of its own when its parent is gone (a killed notebook
    kernel or script would otherwise leave it behind, holding memory)."""
    import threading
    import time

    import torch

    torch.set_num_threads(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="audiolab-parent-watch").start()


def _pool(workers: int) -> ProcessPoolExecutor:
    pool = _pools.get(workers)
    if pool is None:
        pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_worker_start,
                                   initargs=(os.getpid(),))
        _pools[workers] = pool
    return pool


def shutdown() -> None:
    """Stop the worker processes (they are also stopped when Python exits)."""
    while _pools:
        _, pool = _pools.popitem()
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown)


def run_jobs(fn: Callable[[Any], Any], jobs: Sequence[Any], workers: int) -> list:
    """``[fn(job) for job in jobs]``, computed by ``workers`` processes (in this process when ``workers`` is 1
    or there is a single job). ``fn`` must be importable (a module-level function) and ``jobs`` picklable.
    The first error of a job is raised here, after the jobs already running have finished."""
    if workers <= 1 or len(jobs) <= 1:
        return [fn(job) for job in jobs]
    pool = _pool(workers)
    futures = [pool.submit(fn, job) for job in jobs]
    wait(futures, return_when=FIRST_EXCEPTION)
    for future in futures:
        if future.done() and future.exception() is not None:
            for other in futures:
                other.cancel()
            wait(futures)
            error = future.exception()
            if isinstance(error, BrokenProcessPool):
                _pools.pop(workers, None)
                raise RuntimeError(
                    f"the {workers} worker processes stopped before finishing ({error}). In a script, put the code "
                    "that trains under `if __name__ == \"__main__\":` (each worker imports the script again), "
                    f"or train in this process with workers=1 / {WORKERS_ENV}=1") from error
            raise error
    return [future.result() for future in futures]
