"""Weight averaging: would an average of the last epochs' weights beat the last epoch's?

The kit evaluates the model of the **last** epoch. Two cheap alternatives average weights instead:
an exponential moving average over epochs (EMA, ``--decay``) and stochastic weight averaging (SWA: the
plain average of the last ``--swa-epochs`` epochs). Both can be scored from the *same* training as the
last epoch, so each (seed, fold) gives a perfectly paired difference at no extra training cost.

Every training is exactly one fold of the kit's development cross-validation (folds 1-4, fold 5 never
trained on nor scored), with the seed of the committed runs and one torch thread per training, so the
last-epoch scores equal the committed ``reports/results/<name>/dev-cv/`` ones to the last digit.
Batch-norm statistics are averaged along with the weights.

    python benchmarks/weight_averaging.py [--arch arch1|arch2] [--heads 4] [--seeds 0,1,2]
        [--epochs 100] [--workers 2] [--root PATH]

Prints, per architecture, the mean development accuracy of each rule and its paired difference from the
last epoch (points, mean over seeds with a 95 % t-interval over the seeds). On the 2-core development
machine, three seeds of one architecture take about 4 minutes with ``--workers 2``.
"""
from __future__ import annotations

import argparse
import os
import statistics

import numpy as np
import torch
from joblib import Parallel, delayed, parallel_config
from scipy import stats

from audiolab import configs
from audiolab.data import DEV_FOLDS, development_folds
from audiolab.evaluation import cv
from audiolab.models import build_model
from audiolab.train import fit, predict_proba, seed_everything

FOLDS = DEV_FOLDS
RULES = ("last", "ema", "swa")


class WeightAverages:
    """Call after every epoch (``fit``'s ``on_epoch``): keeps the EMA of ``model``'s state and the uniform
    average of its last ``swa_epochs`` epochs. Integer buffers (batch counts) are copied, not averaged."""

    def __init__(self, model: torch.nn.Module, epochs: int, decay: float = 0.9, swa_epochs: int = 25):
        self.model, self.epochs, self.decay, self.swa_epochs = model, epochs, decay, swa_epochs
        self.ema: dict = {}
        self.swa: dict = {}
        self.swa_count = 0

    def __call__(self, row: dict) -> None:
        state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        in_swa = row["epoch"] > self.epochs - self.swa_epochs
        self.swa_count += in_swa
        for k, v in state.items():
            if not v.is_floating_point():
                self.ema[k] = self.swa[k] = v
                continue
            self.ema[k] = v if k not in self.ema else self.decay * self.ema[k] + (1 - self.decay) * v
            if in_swa:
                self.swa[k] = v if self.swa_count == 1 else self.swa[k] + (v - self.swa[k]) / self.swa_count


def score_fold(base, seed: int, fold: int, root) -> tuple[int, int, dict]:
    """``(seed, fold, {rule: accuracy})`` of one development fold, trained with one torch thread."""
    torch.set_num_threads(1)
    exp = base.replace({"train.seed": seed})
    meta, X = configs.load_dataset(root=root, features=exp.features, strict=False)
    y = meta["target"].to_numpy().astype(np.int64)
    train_idx, val_idx = next((train, val) for k, train, val in development_folds(meta) if k == fold)
    seed_everything(seed)  # as the kit's runner does: the initial weights depend on the seed too
    model = build_model(exp.model, exp.features.n_mels, len(meta.attrs["classes"]))
    averages = WeightAverages(model, exp.train.epochs)
    result = fit(model, X[train_idx], y[train_idx], X[val_idx], y[val_idx], config=exp.train,
                 augment=exp.augment, on_epoch=averages)
    scores = {}
    for rule, state in (("last", None), ("ema", averages.ema), ("swa", averages.swa)):
        if state is not None:
            model.load_state_dict(state)
        probs = predict_proba(model, X[val_idx], result.normalizer, exp.train.eval_batch_size, exp.train.tta_shifts)
        scores[rule] = float((probs.argmax(1) == y[val_idx]).mean())
    return seed, fold, scores


def summarize(results: dict) -> list[dict]:
    """Rows per rule: mean development accuracy (%) and the paired difference from ``last`` over seeds."""
    seeds = sorted({s for s, _ in results})
    rows = []
    for rule in RULES:
        per_seed = {s: 100 * statistics.mean(results[s, f][rule] for f in FOLDS if (s, f) in results) for s in seeds}
        row = {"rule": rule, "accuracy": statistics.mean(per_seed.values())}
        if rule != "last":
            diffs = [per_seed[s] - 100 * statistics.mean(results[s, f]["last"] for f in FOLDS if (s, f) in results)
                     for s in seeds]
            row["difference"] = statistics.mean(diffs)
            if len(diffs) > 1:
                half = stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5
                row["ci"] = (row["difference"] - half, row["difference"] + half)
        rows.append(row)
    return rows


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=("arch1", "arch2"), default="arch1")
    parser.add_argument("--heads", type=int, default=4, help="attention heads of arch2 (default 4)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="trainings at a time, one torch thread each "
                        "(sets $AUDIOLAB_WORKERS: joblib processes, as the kit's cross-validation)")
    parser.add_argument("--root", help="dataset folder (default: $AUDIOLAB_DATA or the cache)")
    args = parser.parse_args(argv)
    profile = configs.get_profile("full", epochs=args.epochs)
    base = configs.arch1(profile) if args.arch == "arch1" else configs.arch2(args.heads, profile)
    os.environ[cv.WORKERS_ENV] = str(args.workers)
    with parallel_config(backend="loky", inner_max_num_threads=1):
        done = Parallel(n_jobs=cv.workers())(delayed(score_fold)(base, int(s), f, args.root)
                                             for s in args.seeds.split(",") for f in FOLDS)
    results = {(seed, fold): scores for seed, fold, scores in done}
    rows = summarize(results)
    print(f"\n{base.name}, development folds {FOLDS}, seeds {args.seeds}, {args.epochs} epochs")
    for r in rows:
        diff = "" if "difference" not in r else f"{r['difference']:+.2f} points"
        if "ci" in r:
            diff += f" (95 % CI {r['ci'][0]:+.2f} to {r['ci'][1]:+.2f})"
        print(f"  {r['rule']:<5} {r['accuracy']:6.2f} %  {diff}")
    return rows


if __name__ == "__main__":
    main()
