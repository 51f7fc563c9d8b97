"""Seconds (and bytes) one offline W&B run adds to training a fold: the price of tracking every fold.

``make reports`` makes about 190 runs, one per cross-validation fold and one per search trial. This
cross-validates one fold of ESC-10 with a tiny model (:func:`audiolab.evaluation.cross_validate`, a fresh
results folder each time, so nothing is reused) with W&B ``disabled`` and ``offline``, alternately,
and prints the median seconds of each and their difference: the per-run overhead (``wandb.init`` and
``finish``, every epoch's metrics, the confusion matrix, ROC and prediction table with the misclassified
clips' audio, and the fold's result files as an artifact). It also prints the disk space one offline run
takes: its folder under ``wandb/``, and the copies W&B keeps of its artifact files and audio until a
``wandb sync`` (under ``$WANDB_DATA_DIR``, by default ``~/.local/share/wandb``).

    python benchmarks/wandb_overhead.py [--root PATH] [--repeats 5] [--epochs 2] [--fold 1]

Everything goes to a temporary folder, deleted afterwards. Timings depend on the machine and on
anything else it runs meanwhile; the difference is what to compare.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from audiolab import configs
from audiolab.data import load_features, load_metadata
from audiolab.evaluation import cross_validate


def one_run(exp, meta, features, fold: int, mode: str, scratch: Path) -> float:
    """Seconds of :func:`cross_validate` of ``exp`` on ``fold`` alone, into a new results folder, with W&B in ``mode``."""
    results = Path(tempfile.mkdtemp(dir=scratch))
    os.environ.update(WANDB_MODE=mode, WANDB_DIR=str(scratch / "runs"))
    (scratch / "runs").mkdir(exist_ok=True)
    start = time.perf_counter()
    cross_validate(exp, meta, features, results, folds=(fold,))
    return time.perf_counter() - start


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", help="dataset folder (default: $AUDIOLAB_DATA)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--fold", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    exp = configs.arch1(name="overhead").replace({"model.channels": (8, 8, 8), "model.stride": 1,
                                                  "train.epochs": args.epochs, "train.device": "cpu"})
    meta = load_metadata(args.root, strict=False)
    features = load_features(meta, exp.features)
    seconds: dict[str, list[float]] = {"disabled": [], "offline": []}
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        os.environ["WANDB_DATA_DIR"] = str(scratch / "wandb-data")  # W&B's copies of artifact files and audio
        one_run(exp, meta, features, args.fold, "offline", scratch)  # warm-up: imports wandb, starts its service
        before = folder_bytes(scratch / "runs") + folder_bytes(scratch / "wandb-data")
        for _ in range(args.repeats):
            for mode in seconds:
                seconds[mode].append(one_run(exp, meta, features, args.fold, mode, scratch))
        per_run = (folder_bytes(scratch / "runs") + folder_bytes(scratch / "wandb-data") - before) / args.repeats
    median = {mode: statistics.median(values) for mode, values in seconds.items()}
    for mode, values in seconds.items():
        print(f"{mode:>9}: median {median[mode]:.2f} s per fold  ({', '.join(f'{v:.2f}' for v in values)})")
    print(f"W&B offline overhead: {median['offline'] - median['disabled']:.2f} s and {per_run / 1e6:.2f} MB per run "
          f"({len(meta)} clips, {args.epochs} epochs, fold {args.fold})")


if __name__ == "__main__":
    main()
