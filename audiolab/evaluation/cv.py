"""Cross-validation, in the two protocols of the kit.

* :func:`run_cv` -- the **official** k-fold cross-validation on all five folds, the literature's
  protocol, for configurations fixed before it runs. Each fold is the test set once; the model
  trained for the test fold (fold 5) *is* the held-out model: its score is the test-fold score,
  and it can be kept (``keep_test_model``) for ``audiolab predict``.
* :func:`run_dev_cv` -- cross-validation over the **development** folds (1-4): each is scored
  by a model trained on the other three. The test fold is never trained on nor scored, so these
  scores may choose (heads, recipe, the shipped model).

A fresh model trains for each fold; the scored fold is watched after every epoch for the
history only (``test_*`` in the official protocol, ``val_*`` in development), and the
**last-epoch** model is evaluated. Each finished fold is stored at once, and a fold already
stored with the same configuration and clips is loaded instead of retrained.
"""
from __future__ import annotations

from typing import Iterable, Optional

import pandas as pd
import torch

from .._util import PathLike
from ..checkpoint import save_checkpoint
from ..data import TEST_FOLD, cv_folds, development_folds
from ..experiment import Experiment
from ..metrics import evaluate
from ..stats import summarize_folds
from ..tracking import resolve_mode
from .run_log import open_run_log
from .runner import check_inputs, class_names, prob_columns, probs_table, train_and_score
from .store import DEV_CV, OFFICIAL_CV, ResultsStore, data_fingerprint

__all__ = ["run_cv", "run_dev_cv", "fold_row", "fold_stats"]

_METRICS = ("accuracy", "macro_f1", "auc")


def fold_row(fold: int, metrics: dict) -> dict:
    """The per-fold numbers a summary lists: accuracy, macro F1 and AUC of one scored fold."""
    return {"fold": int(fold), "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
            "auc": metrics["auc_macro_ovr"]}


def fold_stats(rows: list) -> dict:
    """Mean ± std over the fold rows: ``metrics`` plus the flat ``<metric>_mean``/``_std`` fields."""
    stats = summarize_folds(rows, keys=_METRICS)
    flat = {f"{k}_{s}": stats[k][s] for k in _METRICS for s in ("mean", "std")}
    return {"metrics": stats, **flat}


def run_cv(exp: Experiment, meta: pd.DataFrame, features: torch.Tensor, store: "ResultsStore | PathLike",
           folds: Optional[Iterable[int]] = None, test_fold: int = TEST_FOLD, keep_test_model: bool = False,
           wandb_mode: Optional[str] = None, progress: bool = True, wandb_dir: Optional[PathLike] = None) -> dict:
    """The official cross-validation of ``exp`` on the folds of ``meta`` (default: all of them).

    Stored under ``<name>/cv/``: ``fold<k>.json`` + ``fold<k>.csv`` (per-clip probabilities) per
    fold, then ``summary.json`` (mean ± std over folds, pooled out-of-fold metrics, parameter counts,
    seconds) and ``oof.csv``. With ``keep_test_model`` the model trained for ``test_fold`` is saved as
    ``fold<test_fold>.pt`` (:meth:`ResultsStore.test_model`). Returns the summary with ``"per_fold"``,
    the fold records as stored. W&B: one run per fold (job type ``cv``), the scored fold as ``test/*``, with
    the fold's two files as an artifact of type ``cv-fold`` (:mod:`audiolab.evaluation.run_log`).
    """
    splits = {k: (train, test) for k, train, test in cv_folds(meta)}
    return _cross_validate(exp, meta, features, ResultsStore.of(store), splits, folds, OFFICIAL_CV, "test",
                           test_fold if keep_test_model else None, test_fold, wandb_mode, progress, wandb_dir)


def run_dev_cv(exp: Experiment, meta: pd.DataFrame, features: torch.Tensor, store: "ResultsStore | PathLike",
               test_fold: int = TEST_FOLD, wandb_mode: Optional[str] = None, progress: bool = True,
               wandb_dir: Optional[PathLike] = None) -> dict:
    """Cross-validation of ``exp`` over the development folds (all but ``test_fold``), stored under
    ``<name>/dev-cv/`` like :func:`run_cv`. The scores every choice of the kit is made on. W&B: job type
    ``dev-cv``, the scored fold as ``val/*``, artifacts of type ``dev-cv-fold``."""
    splits = {k: (train, val) for k, train, val in development_folds(meta, test_fold)}
    return _cross_validate(exp, meta, features, ResultsStore.of(store), splits, None, DEV_CV, "val", None, test_fold,
                           wandb_mode, progress, wandb_dir)


def _cross_validate(exp, meta, features, store: ResultsStore, splits: dict, folds, kind: str, scored_as: str,
                    keep_model_fold: Optional[int], test_fold: int, wandb_mode, progress, wandb_dir) -> dict:
    from tqdm.auto import tqdm

    y = check_inputs(exp, meta, features)
    resolve_mode(wandb_mode)  # a bad mode is a user error: raise before any training
    classes = class_names(meta)
    wanted = sorted(splits) if folds is None else sorted({int(k) for k in folds})
    absent = [k for k in wanted if k not in splits]
    if absent or not wanted:
        raise ValueError(f"fold(s) {absent or wanted} not in the table; folds present: {sorted(splits)}")
    key = exp.key()
    per_fold = []
    bar = tqdm(wanted, desc=f"{exp.name} {kind}", unit="fold", disable=not progress)
    for k in bar:
        train_idx, scored_idx = splits[k]
        json_path, csv_path = store.fold_paths(exp.name, k, kind)
        model_path = store.fold_model(exp.name, k, kind) if k == keep_model_fold else None
        data = data_fingerprint(meta, train_idx, scored_idx)
        stored = store.read(json_path)
        if store.reusable(stored, key, data, json_path, needs=[csv_path] + ([model_path] if model_path else [])):
            per_fold.append(stored)
            continue
        run_args = dict(name=f"{exp.name}-{kind}-fold{k}", group=exp.name, job_type=kind, mode=wandb_mode,
                        dir=wandb_dir, config={**exp.to_dict(), "fold": k, "key": key}, tags=[exp.arch, kind])
        with open_run_log(run_args, scored_as) as log:  # open until the fold's files are written and logged
            result, probs, record = train_and_score(exp, features, y, train_idx, scored_idx, classes, scored_as, log,
                                                    progress, f"{exp.name} {kind} fold {k}")
            log.scored(y[scored_idx], probs, record["metrics"], classes, record["params"], clips=meta.iloc[scored_idx],
                       features=exp.features)
            record = {"fold": k, "scored_as": scored_as, **record, "experiment": exp.to_dict(), "key": key,
                      "data": data}
            store.write_csv(csv_path, probs_table(meta, scored_idx, probs))
            if model_path:
                info = {"arch": exp.arch, "params": exp.model.to_dict(), "n_mels": exp.features.n_mels,
                        "classes": list(classes), "features": exp.features.to_dict(), "experiment": exp.name,
                        "key": key, "tta_shifts": exp.train.tta_shifts, "trained_on_folds": sorted(
                            int(f) for f in meta["fold"].iloc[train_idx].unique())}
                save_checkpoint(model_path, result.model.cpu(), result.normalizer.cpu(), record["returned_epoch"],
                                info)
            store.write_json(json_path, record)  # written last: a fold json means the fold is complete
            log.result_files(f"{exp.name}-{kind}-fold{k}", f"{kind}-fold", store.root, [json_path, csv_path],
                             metadata={"experiment": exp.name, "key": key, "fold": k, "protocol": kind})
        per_fold.append(store.read(json_path))  # what a rerun will load, so both return the same objects
        bar.set_postfix(acc=f"{record['metrics']['accuracy']:.3f}")
    bar.close()
    summary = _summary(exp, key, per_fold, store, kind, classes, complete=wanted == sorted(splits),
                       test_fold=test_fold)
    store.write_json(store.cv_dir(exp.name, kind) / "summary.json", summary)
    return {**summary, "per_fold": per_fold}


def _summary(exp: Experiment, key: str, per_fold: list, store: ResultsStore, kind: str, classes, complete: bool,
             test_fold: int) -> dict:
    rows = [{**fold_row(r["fold"], r["metrics"]), "train_seconds": r["train_seconds"], "epochs": r["epochs"]}
            for r in per_fold]
    oof = pd.concat([pd.read_csv(store.fold_paths(exp.name, r["fold"], kind)[1]) for r in per_fold],
                    ignore_index=True)
    probs = oof[prob_columns(oof)].to_numpy()
    oof["pred"] = probs.argmax(axis=1)
    store.write_csv(store.cv_dir(exp.name, kind) / "oof.csv", oof)
    total_seconds = float(sum(r["train_seconds"] for r in per_fold))
    total_epochs = int(sum(r["epochs"] for r in per_fold))
    return {
        "name": exp.name,
        "experiment": exp.to_dict(),
        "key": key,
        "protocol": kind,
        "test_fold": int(test_fold),
        "complete": bool(complete),
        "folds": rows,
        **fold_stats(rows),
        "pooled": evaluate(oof["target"].to_numpy(), probs, classes),
        "params": per_fold[0]["params"],
        "train_seconds_total": total_seconds,
        "seconds_per_epoch": total_seconds / total_epochs if total_epochs else None,
        "epochs": per_fold[0]["epochs"],
    }
