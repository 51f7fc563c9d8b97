"""k-fold cross-validation on the official folds: each fold is the test set once.

For each test fold ``k`` a fresh model trains on the other folds; fold ``k`` is scored after
every epoch for the history only (``test_loss``/``test_acc``: it never chooses weights), and
the **last-epoch** model is evaluated on it. Each finished fold is stored at once, and a fold
already stored with the same configuration and clips is loaded instead of retrained.
"""
from __future__ import annotations

from typing import Iterable, Optional

import pandas as pd
import torch

from .._util import PathLike
from ..data import cv_folds
from ..experiment import Experiment
from ..metrics import evaluate
from ..stats import summarize_folds
from ..tracking import resolve_mode
from .runner import check_inputs, class_names, prob_columns, probs_table, train_and_score
from .store import ResultsStore, data_fingerprint

__all__ = ["run_cv", "fold_row", "fold_stats"]

_METRICS = ("accuracy", "macro_f1", "auc")


def fold_row(fold: int, metrics: dict) -> dict:
    """The per-fold numbers a summary lists: accuracy, macro F1 and AUC of one test fold."""
    return {"fold": int(fold), "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
            "auc": metrics["auc_macro_ovr"]}


def fold_stats(rows: list) -> dict:
    """Mean ± std over the fold rows: ``metrics`` plus the flat ``<metric>_mean``/``_std`` fields."""
    stats = summarize_folds(rows, keys=_METRICS)
    flat = {f"{k}_{s}": stats[k][s] for k in _METRICS for s in ("mean", "std")}
    return {"metrics": stats, **flat}


def run_cv(
    exp: Experiment,
    meta: pd.DataFrame,
    features: torch.Tensor,
    store: "ResultsStore | PathLike",
    folds: Optional[Iterable[int]] = None,
    wandb_mode: Optional[str] = None,
    progress: bool = True,
    wandb_dir: Optional[PathLike] = None,
) -> dict:
    """Cross-validate ``exp`` on the folds of ``meta`` (default: all of them) and return its summary.

    ``store`` is a :class:`ResultsStore` or its folder.
    Writes ``cv/fold<k>.json`` (+ ``fold<k>.csv``, per-clip probabilities) per fold, then
    ``summary.json`` (mean ± std over folds, pooled metrics of all out-of-fold predictions,
    parameter counts, seconds) and ``oof.csv``; ``summary["complete"]`` says whether the folds
    run are all the folds of ``meta``. The returned summary also has ``"per_fold"``, the fold
    records as stored.

    W&B: one run per fold (group ``exp.name``, name ``<name>-fold<k>``, job type ``cv``).
    """
    from tqdm.auto import tqdm

    store = ResultsStore.of(store)
    y = check_inputs(exp, meta, features)
    resolve_mode(wandb_mode)  # a bad mode is a user error: raise before any training
    classes = class_names(meta)
    splits = {k: (train, test) for k, train, test in cv_folds(meta)}
    wanted = sorted(splits) if folds is None else sorted({int(k) for k in folds})
    absent = [k for k in wanted if k not in splits]
    if absent or not wanted:
        raise ValueError(f"fold(s) {absent or wanted} not in the table; folds present: {sorted(splits)}")
    key = exp.key()

    per_fold = []
    bar = tqdm(wanted, desc=f"{exp.name} CV", unit="fold", disable=not progress)
    for k in bar:
        train_idx, test_idx = splits[k]
        json_path, csv_path = store.fold_paths(exp.name, k)
        data = data_fingerprint(meta, train_idx, test_idx)
        stored = store.read(json_path)
        if store.reusable(stored, key, data, json_path, needs=[csv_path]):
            per_fold.append(stored)
            continue
        run_args = dict(name=f"{exp.name}-fold{k}", group=exp.name, job_type="cv", mode=wandb_mode, dir=wandb_dir,
                        config={**exp.to_dict(), "fold": k, "key": key}, tags=[exp.arch, "cv"])
        _, probs, record = train_and_score(exp, features, y, train_idx, test_idx, classes, "test", run_args, progress,
                                           f"{exp.name} fold {k}")
        record = {"fold": k, **record, "experiment": exp.to_dict(), "key": key, "data": data}
        store.write_csv(csv_path, probs_table(meta, test_idx, probs))
        store.write_json(json_path, record)  # written last: a fold json means the fold is complete
        per_fold.append(store.read(json_path))  # what a rerun will load, so both return the same objects
        bar.set_postfix(acc=f"{record['metrics']['accuracy']:.3f}")
    bar.close()

    summary = _summary(exp, key, per_fold, store, classes, complete=wanted == sorted(splits))
    store.write_json(store.cv_dir(exp.name) / "summary.json", summary)
    return {**summary, "per_fold": per_fold}


def _summary(exp: Experiment, key: str, per_fold: list, store: ResultsStore, classes, complete: bool) -> dict:
    rows = [{**fold_row(r["fold"], r["metrics"]), "train_seconds": r["train_seconds"], "epochs": r["epochs"]}
            for r in per_fold]
    oof = pd.concat([pd.read_csv(store.fold_paths(exp.name, r["fold"])[1]) for r in per_fold], ignore_index=True)
    probs = oof[prob_columns(oof)].to_numpy()
    oof["pred"] = probs.argmax(axis=1)
    store.write_csv(store.cv_dir(exp.name) / "oof.csv", oof)
    total_seconds = float(sum(r["train_seconds"] for r in per_fold))
    total_epochs = int(sum(r["epochs"] for r in per_fold))
    return {
        "name": exp.name,
        "experiment": exp.to_dict(),
        "key": key,
        "complete": bool(complete),
        "folds": rows,
        **fold_stats(rows),
        "pooled": evaluate(oof["target"].to_numpy(), probs, classes),
        "params": per_fold[0]["params"],
        "train_seconds_total": total_seconds,
        "seconds_per_epoch": total_seconds / total_epochs if total_epochs else None,
        "epochs": per_fold[0]["epochs"],
    }
