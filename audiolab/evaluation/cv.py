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

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

import pandas as pd
import torch

from .._util import PathLike
from ..checkpoint import save_checkpoint
from ..data import TEST_FOLD, cv_folds, development_folds
from ..experiment import Experiment
from ..metrics import evaluate
from ..stats import summarize_folds
from ..tracking import resolve_mode
from .parallel import resolve_workers, run_jobs
from .run_log import open_run_log
from .runner import check_inputs, class_names, prob_columns, probs_table, train_and_score
from .store import DEV_CV, OFFICIAL_CV, ResultsStore, data_fingerprint, file_sha256

__all__ = ["run_cv", "run_dev_cv", "cross_validate_many", "fold_row", "fold_stats"]

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
           wandb_mode: Optional[str] = None, progress: bool = True, wandb_dir: Optional[PathLike] = None,
           workers: Optional[int] = None) -> dict:
    """The official cross-validation of ``exp`` on the folds of ``meta`` (default: all of them).

    Stored under ``<name>/cv/``: ``fold<k>.json`` + ``fold<k>.csv`` (per-clip probabilities) per
    fold, then ``summary.json`` (mean ± std over folds, pooled out-of-fold metrics, parameter counts,
    seconds) and ``oof.csv``. With ``keep_test_model`` the model trained for ``test_fold`` is saved as
    ``fold<test_fold>.pt`` (:meth:`ResultsStore.test_model`). Returns the summary with ``"per_fold"``,
    the fold records as stored. W&B: one run per fold (job type ``cv``), the scored fold as ``test/*``, with
    the fold's two files as an artifact of type ``cv-fold`` (:mod:`audiolab.evaluation.run_log`). ``workers``
    (default ``$AUDIOLAB_WORKERS``, else 1) folds train at once, in processes of their own
    (:mod:`audiolab.evaluation.parallel`).
    """
    return cross_validate_many([exp], meta, features, store, OFFICIAL_CV, folds, test_fold, keep_test_model,
                               wandb_mode, progress, wandb_dir, workers)[0]


def run_dev_cv(exp: Experiment, meta: pd.DataFrame, features: torch.Tensor, store: "ResultsStore | PathLike",
               test_fold: int = TEST_FOLD, wandb_mode: Optional[str] = None, progress: bool = True,
               wandb_dir: Optional[PathLike] = None, workers: Optional[int] = None) -> dict:
    """Cross-validation of ``exp`` over the development folds (all but ``test_fold``), stored under
    ``<name>/dev-cv/`` like :func:`run_cv`. The scores every choice of the kit is made on. W&B: job type
    ``dev-cv``, the scored fold as ``val/*``, artifacts of type ``dev-cv-fold``."""
    return cross_validate_many([exp], meta, features, store, DEV_CV, test_fold=test_fold, wandb_mode=wandb_mode,
                               progress=progress, wandb_dir=wandb_dir, workers=workers)[0]


def cross_validate_many(exps: "Sequence[Experiment] | Mapping[Any, Sequence[Experiment]]", meta: pd.DataFrame,
                        features, store: "ResultsStore | PathLike", protocol: str = OFFICIAL_CV,
                        folds: Optional[Iterable[int]] = None, test_fold: int = TEST_FOLD, keep_test_model: bool = False,
                        wandb_mode: Optional[str] = None, progress: bool = True, wandb_dir: Optional[PathLike] = None,
                        workers: Optional[int] = None):
    """:func:`run_cv` (``protocol="cv"``) or :func:`run_dev_cv` (``"dev-cv"``) of every experiment of ``exps``,
    with the folds that are not stored yet trained **together**: with several ``workers`` the pool gets every
    missing fold of every experiment at once, so no worker waits for the last fold of one cross-validation
    before the next begins (seeds, head counts, ablation variants). The results are exactly those of the
    one-at-a-time calls: a list of summaries for a list of experiments, or for a mapping
    ``{label: [experiments]}`` the mapping ``{label: [summaries]}``. ``features`` is a tensor, or a function of
    a :class:`~audiolab.features.FeatureConfig` for experiments whose front-ends differ."""
    if isinstance(exps, Mapping):
        groups = {label: list(group) for label, group in exps.items()}
        flat = iter(cross_validate_many([e for group in groups.values() for e in group], meta, features, store,
                                        protocol, folds, test_fold, keep_test_model, wandb_mode, progress, wandb_dir,
                                        workers))
        return {label: [next(flat) for _ in group] for label, group in groups.items()}
    if protocol not in (OFFICIAL_CV, DEV_CV):
        raise ValueError(f"protocol must be {OFFICIAL_CV!r} (official) or {DEV_CV!r} (development), got {protocol!r}")
    store = ResultsStore.of(store)
    features_of = features if callable(features) else (lambda _config: features)
    workers = resolve_workers(workers)
    resolve_mode(wandb_mode)  # a bad mode is a user error: raise before any training
    if protocol == DEV_CV:
        folds, keep_test_model = None, False
    options = dict(wandb_mode=wandb_mode, progress=progress, wandb_dir=wandb_dir)
    plan_args = [(exp, meta, features_of(exp.features) if isinstance(exp, Experiment) else features, store,
                  protocol, folds, test_fold if keep_test_model else None, test_fold, workers, *options.values())
                 for exp in exps]
    plans = [_plan(*args) for args in plan_args]  # checks the inputs (check_inputs) before any lock or training
    with ExitStack() as held:  # one process at a time trains into an experiment's folder
        for name in dict.fromkeys(plan.exp.name for plan in plans):
            held.enter_context(store.writing(name))
        plans = [_plan(*args) for args in plan_args]
        _train(plans, workers, progress)
        return [_finish(plan, store) for plan in plans]


@dataclass
class _Plan:
    """One cross-validation: its folds, and the jobs of those not stored yet."""

    exp: Experiment
    kind: str
    wanted: list
    complete: bool
    classes: list
    test_fold: int
    jobs: list


def _plan(exp, meta, features, store: ResultsStore, kind: str, folds, keep_model_fold: Optional[int],
          test_fold: int, workers: int, wandb_mode=None, progress=True, wandb_dir=None) -> _Plan:
    """Check the inputs, find the folds already stored, and make a :class:`_FoldJob` of each missing one."""
    dev = kind == DEV_CV
    pairs = development_folds(meta, test_fold) if dev else cv_folds(meta)
    splits, scored_as = {k: (train, scored) for k, train, scored in pairs}, "val" if dev else "test"
    y = check_inputs(exp, meta, features)
    classes = class_names(meta)
    wanted = sorted(splits) if folds is None else sorted({int(k) for k in folds})
    absent = [k for k in wanted if k not in splits]
    if absent or not wanted:
        raise ValueError(f"fold(s) {absent or wanted} not in the table; folds present: {sorted(splits)}")
    key = exp.key()
    jobs = []
    for k in wanted:
        train_idx, scored_idx = splits[k]
        json_path, csv_path = store.fold_paths(exp.name, k, kind)
        model_path = store.fold_model(exp.name, k, kind) if k == keep_model_fold else None
        data = data_fingerprint(meta, train_idx, scored_idx)
        stored = store.read(json_path)
        if not (store.reusable(stored, key, data, json_path, needs=[csv_path] + ([model_path] if model_path else []))
                and store.fold_files_match(stored, csv_path, meta["filename"].iloc[scored_idx])):
            jobs.append(_FoldJob(exp, meta, features, y, tuple(classes), store.root, kind, scored_as, k, train_idx,
                                 scored_idx, model_path is not None, key, data, wandb_mode, wandb_dir,
                                 progress and workers == 1))
    return _Plan(exp, kind, wanted, wanted == sorted(splits), classes, test_fold, jobs)


def _train(plans: list, workers: int, progress: bool) -> None:
    """Train the missing folds of ``plans``: all of them at once in the worker pool, or one after the other."""
    from tqdm.auto import tqdm

    jobs = [job for plan in plans for job in plan.jobs]
    if workers > 1 and len(jobs) > 1:
        if progress:
            names = sorted({f"{plan.exp.name} {plan.kind}" for plan in plans if plan.jobs})
            what = names[0] if len(names) == 1 else f"{len(names)} cross-validations"
            print(f"{what}: training {len(jobs)} folds, {workers} at a time", flush=True)
        run_jobs(_train_fold, jobs, workers)
        return
    for plan in plans:
        for job in tqdm(plan.jobs, desc=f"{plan.exp.name} {plan.kind}", unit="fold",
                        disable=not progress or len(plan.jobs) < 2):
            _train_fold(job)


def _finish(plan: _Plan, store: ResultsStore) -> dict:
    """Read the plan's stored folds back (as a rerun will), write and return the summary."""
    exp, kind = plan.exp, plan.kind
    per_fold = [store.read(store.fold_paths(exp.name, k, kind)[0]) for k in plan.wanted]
    summary = _summary(exp, exp.key(), per_fold, store, kind, plan.classes, complete=plan.complete,
                       test_fold=plan.test_fold)
    store.write_json(store.cv_dir(exp.name, kind) / "summary.json", summary)
    return {**summary, "per_fold": per_fold}


@dataclass
class _FoldJob:
    """Everything one fold's training needs, so that another process can run it (:func:`_train_fold`)."""

    exp: Experiment
    meta: pd.DataFrame
    features: torch.Tensor
    y: Any
    classes: tuple
    root: Any
    kind: str
    scored_as: str
    fold: int
    train_idx: Any
    scored_idx: Any
    keep_model: bool
    key: str
    data: dict
    wandb_mode: Optional[str]
    wandb_dir: Optional[PathLike]
    progress: bool


def _train_fold(job: _FoldJob) -> None:
    """Train and score one fold and store its files (the json last: it marks the fold complete)."""
    exp, k, kind, meta, classes = job.exp, job.fold, job.kind, job.meta, list(job.classes)
    store = ResultsStore(job.root)
    json_path, csv_path = store.fold_paths(exp.name, k, kind)
    run_args = dict(name=f"{exp.name}-{kind}-fold{k}", group=exp.name, job_type=kind, mode=job.wandb_mode,
                    dir=job.wandb_dir, config={**exp.to_dict(), "fold": k, "key": job.key}, tags=[exp.arch, kind])
    with open_run_log(run_args, job.scored_as) as log:  # open until the fold's files are written and logged
        result, probs, record = train_and_score(exp, job.features, job.y, job.train_idx, job.scored_idx, classes,
                                                job.scored_as, log, job.progress, f"{exp.name} {kind} fold {k}")
        log.scored(job.y[job.scored_idx], probs, record["metrics"], classes, record["params"],
                   clips=meta.iloc[job.scored_idx], features=exp.features)
        record = {"fold": k, "scored_as": job.scored_as, **record, "experiment": exp.to_dict(), "key": job.key,
                  "data": job.data}
        store.write_csv(csv_path, probs_table(meta, job.scored_idx, probs))
        record["csv_sha256"] = file_sha256(csv_path)  # the record's own probabilities
        if job.keep_model:
            info = {"arch": exp.arch, "params": exp.model.to_dict(), "n_mels": exp.features.n_mels,
                    "classes": classes, "features": exp.features.to_dict(), "experiment": exp.name,
                    "key": job.key, "tta_shifts": exp.train.tta_shifts, "trained_on_folds": sorted(
                        int(f) for f in meta["fold"].iloc[job.train_idx].unique())}
            save_checkpoint(store.fold_model(exp.name, k, kind), result.model.cpu(), result.normalizer.cpu(),
                            record["returned_epoch"], info)
        store.write_json(json_path, record)  # written last: a fold json means the fold is complete
        log.result_files(f"{exp.name}-{kind}-fold{k}", f"{kind}-fold", store.root, [json_path, csv_path],
                         metadata={"experiment": exp.name, "key": job.key, "fold": k, "protocol": kind})


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
