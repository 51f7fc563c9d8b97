"""Folds side by side: one process with every thread, against one-thread worker processes.

Cross-validates each architecture over the development folds (1-4) twice from scratch, into
throwaway result folders: once folds one after the other in this process (torch's default threads),
once ``--workers`` folds at a time in worker processes of one thread each
(``$AUDIOLAB_WORKERS``, joblib). Prints the wall time of both and their ratio; the worker pool's
start-up (importing torch in each worker) is counted.

    python benchmarks/parallel_folds.py [--epochs 20] [--workers 2] [--root PATH]

Timings depend on the machine and on anything else it runs meanwhile; compare the ratios.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from audiolab import configs
from audiolab.data import load_features, load_metadata
from joblib.externals.loky import get_reusable_executor

from audiolab.evaluation import cross_validate, cv


def timed_dev_cv(exp, meta, x, workers: int) -> float:
    os.environ[cv.WORKERS_ENV] = str(workers)
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        cross_validate(exp, meta, x, Path(scratch), "development")
        seconds = time.perf_counter() - start
    get_reusable_executor().shutdown(wait=True)  # the next measurement pays the workers' start-up again
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="dataset folder (default: $AUDIOLAB_DATA or the cache)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs per fold (the kit trains 100)")
    parser.add_argument("--workers", default="auto", help="worker processes (default: one per core)")
    args = parser.parse_args()
    os.environ[cv.WORKERS_ENV] = args.workers
    workers = cv.workers()
    meta = load_metadata(args.root)
    print(f"{torch.get_num_threads()} torch threads in one process, or {workers} workers of 1 thread; "
          f"4 development folds x {args.epochs} epochs\n")
    print(f"{'architecture':<16}{'one process (s)':>16}{'workers (s)':>13}{'speed-up':>10}")
    for exp in (configs.arch1(), configs.arch2(heads=2)):
        exp = exp.replace({"train.epochs": args.epochs})
        x = load_features(meta, exp.features)
        one = timed_dev_cv(exp, meta, x, 1)
        many = timed_dev_cv(exp, meta, x, workers)
        print(f"{exp.name:<16}{one:>16.1f}{many:>13.1f}{one / many:>9.2f}x", flush=True)


if __name__ == "__main__":
    main()
