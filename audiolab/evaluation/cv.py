"""Cross-validation in the kit's two protocols, and the one step every protocol repeats (read this first).

* ``protocol="official"`` -- the literature's k-fold cross-validation on all five folds, for configurations fixed
  before it runs. Each fold is the test set once (scored as ``test``); the model trained for the test fold
  (:data:`audiolab.data.TEST_FOLD`) *is* the held-out model, kept with ``keep_test_model`` for ``audiolab predict``.
* ``protocol="development"`` -- cross-validation over the development folds (1-4): each is scored (as ``val``) by a
  model trained on the other three. The test fold is never trained on nor scored, so these scores may choose (heads,
  recipe, the shipped model).

:func:`cross_validate` -> :func:`train_and_score` -> :func:`audiolab.train.fit_cohort`: a fresh model trains for each
fold, the scored fold is watched after every epoch for the history only, and the **last-epoch** model is evaluated.
The models of one configuration (its folds, its seeds) train together, up to :func:`cohort_size` (4 on a CPU, 16 on a GPU) in
one step (:func:`cohorts`). Each finished fold is stored at once (:mod:`~audiolab.evaluation.store`), and a fold already
stored with the same configuration and clips is loaded instead of retrained. Cohorts train ``$AUDIOLAB_WORKERS`` at a
time (``2``, or ``auto`` for one per core, or one on a GPU; default 1), each worker a process of one torch thread
(joblib), so the numbers do not depend on the number of workers."""
from __future__ import annotations

import os
from contextlib import ExitStack, nullcontext
from dataclasses import replace
from typing import NamedTuple, Optional, Sequence

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, cpu_count, delayed, parallel_config

from .. import tracking
from .._util import PathLike, file_sha256, plain, read_json
from ..checkpoint import save_checkpoint
from ..data import ESC10_CLASSES, TEST_FOLD, cv_folds, development_folds
from ..experiment import Experiment
from ..metrics import count_parameters, evaluate
from ..models import build_model
from ..stats import summarize_folds
from ..train import fit_cohort, predict_proba, seed_everything
from .store import FOLDERS, ResultsStore, data_fingerprint

#: protocol -> what its scored folds are
PROTOCOLS = {"official": "test", "development": "val"}
WORKERS_ENV = "AUDIOLAB_WORKERS"
COHORT_ENV = "AUDIOLAB_COHORT"
_METRICS = ("accuracy", "macro_f1", "auc")


def workers() -> int:
    """How many cohorts train at once: ``$AUDIOLAB_WORKERS`` (a count, or ``auto``: one per core, or 1 on a GPU,
    where one process's cohort keeps it busy), default 1."""
    value = os.environ.get(WORKERS_ENV, "").strip().lower() or "1"
    if value == "auto":
        return 1 if torch.cuda.is_available() else cpu_count()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"${WORKERS_ENV}={value!r}: give a number of trainings to run at once (1, 2, ...) or 'auto'")
    return int(value)


def worker_processes():
    """``with worker_processes(): Parallel(...)``: loky's worker processes of one torch thread each. loky reuses
    them, and a worker keeps the environment it started with; keyed on the parent's ``$AUDIOLAB_*``/``$WANDB_*``
    settings as now (the initializer, ``dict``, does nothing with them), they start afresh when those changed (notebook
    01 sets ``$AUDIOLAB_COHORT`` for one cell)."""
    settings = {k: v for k, v in os.environ.items() if k.startswith(("AUDIOLAB_", "WANDB_"))}
    return parallel_config(backend="loky", inner_max_num_threads=1, initializer=dict, initargs=(settings,))


def class_names(meta: pd.DataFrame) -> tuple[str, ...]:
    """The class names of a metadata table (ESC-10's when it does not say)."""
    return tuple(meta.attrs.get("classes") or ESC10_CLASSES)


def check_inputs(exp: Experiment, meta: pd.DataFrame, features: torch.Tensor) -> np.ndarray:
    """The labels of ``meta``, after checking that ``features`` are this experiment's features of its clips."""
    if not isinstance(exp, Experiment):
        raise TypeError(f"expected an Experiment, got {type(exp).__name__}")
    if len(features) != len(meta):
        raise ValueError(f"features has {len(features)} clips but meta has {len(meta)} rows: compute them with "
                         "audiolab.data.load_features(meta, exp.features) from the same table")
    expected = (len(meta), exp.features.n_mels, exp.features.num_frames)
    if tuple(features.shape) != expected:
        raise ValueError(f"features of shape {tuple(features.shape)} (clips, n_mels, frames) but experiment {exp.name!r} "
                         f"expects {expected}: they come from another front-end; compute them with "
                         "load_features(meta, exp.features)")
    return meta["target"].to_numpy().astype(np.int64)


def prob_columns(table: pd.DataFrame) -> list[str]:
    return sorted((c for c in table.columns if c.startswith("prob_")), key=lambda c: int(c[5:]))


def fold_row(fold: int, metrics: dict) -> dict:
    """The per-fold numbers a summary lists: accuracy, macro F1 and AUC of one scored fold."""
    return {"fold": int(fold), "accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"],
            "auc": metrics["auc_macro_ovr"]}


def fold_stats(rows: list) -> dict:
    """Mean ± std over the fold rows: ``metrics`` plus the flat ``<metric>_mean``/``_std`` fields."""
    stats = summarize_folds(rows, keys=_METRICS)
    return {"metrics": stats, **{f"{k}_{s}": stats[k][s] for k in _METRICS for s in ("mean", "std")}}


class Job(NamedTuple):
    """One model to train and score: ``exp`` trained on the clips ``train_idx``, scored on ``scored_idx`` (a
    cross-validation's fold ``fold``); its model kept in the store with ``keep_model``."""

    exp: Experiment
    train_idx: np.ndarray
    scored_idx: np.ndarray
    fold: Optional[int] = None
    keep_model: bool = False


def cohort_size() -> int:
    """The most models one training step holds: ``$AUDIOLAB_COHORT``; default 4 on a CPU (a configuration's 5 folds
    make two cohorts, so two workers stay busy), 16 on a GPU (its 15 official-CV models in one step). A model's dropout
    masks depend on the models it trains beside, so the same value gives the same numbers."""
    value = os.environ.get(COHORT_ENV, "").strip() or ("16" if torch.cuda.is_available() else "4")
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"${COHORT_ENV}={value!r}: give the number of models one training step holds (1, 8, 16, ...)")
    return int(value)


def _cohort_key(job: Job) -> tuple:
    """What jobs of one cohort share: the model, features, augmentation, recipe but the seed, and clip counts."""
    e = job.exp
    return e.model, e.features, e.augment, replace(e.train, seed=0), len(job.train_idx), len(job.scored_idx)


def cohorts(jobs: Sequence[Job]) -> list[list[Job]]:
    """``jobs`` in cohorts that train together (:func:`audiolab.train.fit_cohort`): the same model, features,
    augmentation and recipe but for the seed, and as many clips; in their order, at most :func:`cohort_size` each,
    split evenly (15 at most 4 each -> 4 + 4 + 4 + 3)."""
    groups: dict = {}
    for job in jobs:
        groups.setdefault(_cohort_key(job), []).append(job)
    out = []
    for group in groups.values():
        n = -(-len(group) // cohort_size())
        out += [group[round(i * len(group) / n) : round((i + 1) * len(group) / n)] for i in range(n)]
    return out


def train_and_score(jobs: Sequence[Job], meta: pd.DataFrame, features: torch.Tensor, scored: str = "test", run=None,
                    store: Optional[ResultsStore] = None) -> list[tuple]:
    """Seed and build every job's model, fit them together as one cohort (:func:`audiolab.train.fit_cohort`), then score
    each last-epoch model on its scored clips (watched after every epoch for the history only):
    ``[(TrainResult, probabilities, record)]``, one per job. The jobs must form one cohort (see :func:`cohorts`).
    ``scored`` is ``"test"`` (a cross-validation test fold) or ``"val"`` (a validation fold). W&B
    (:mod:`audiolab.tracking`): each job's epochs and result go to ``run`` (a search trial's run, shared by its folds),
    or to a run of the job's own. With ``store``, each fold is stored there (probabilities CSV, the model too with
    ``keep_model``, then its record, written last) and its files become an artifact."""
    if scored not in tracking.SCORED:
        raise ValueError(f"scored must be 'test' or 'val', got {scored!r}")
    if len({_cohort_key(job) for job in jobs}) > 1:
        raise ValueError("these jobs cannot train as one cohort (their model, features, augmentation, recipe but the "
                         "seed, or clip counts differ): group them with audiolab.evaluation.cv.cohorts")
    y, classes = check_inputs(jobs[0].exp, meta, features), class_names(meta)
    protocol = "official" if scored == "test" else "development"
    kind, exp = FOLDERS[protocol], jobs[0].exp
    models = []
    for job in jobs:
        seed_everything(job.exp.train.seed)  # the initial weights depend on the seed too
        models.append(build_model(job.exp.model, exp.features.n_mels, len(classes)))
    params = count_parameters(models[0])
    names = sorted({job.exp.name for job in jobs})
    title = f"{names[0] if len(names) == 1 else f'{len(names)} experiments'} {kind} " + (
        f"fold {jobs[0].fold}" if len(jobs) == 1 else f"x{len(jobs)}")
    results = fit_cohort(models, features, y, [job.train_idx for job in jobs], [job.scored_idx for job in jobs],
                         [job.exp.train for job in jobs], exp.augment, scored, description=title)
    out = []
    for job, result in zip(jobs, results):
        probs = predict_proba(result.model, features[job.scored_idx], result.normalizer, exp.train.eval_batch_size,
                              exp.train.tta_shifts, exp.augment.crop_frames)
        record = {"metrics": evaluate(y[job.scored_idx], probs, classes), "history": result.history,
                  "params": params, "train_seconds": float(result.seconds), "epochs": len(result.history),
                  "returned_epoch": len(result.history), "device": result.device, "n_train": int(len(job.train_idx)),
                  "n_eval": int(len(job.scored_idx)), "cohort": len(jobs)}
        fold, e, own = job.fold, job.exp, run is None
        with tracking.start_run(name=f"{e.name}-{kind}" + (f"-fold{fold}" if fold is not None else ""), group=e.name,
                                job_type=kind, tags=[e.arch, kind], config={**e.to_dict(), "fold": fold,
                                                                             "key": e.key()}) if own else nullcontext(run) as r:
            for row in result.history:
                tracking.log_epoch(r, row, scored, None if own else fold)
            tracking.log_result(r, scored, record["metrics"], params, y[job.scored_idx], probs, classes,
                                meta.iloc[job.scored_idx], e.features)
            if store is not None:
                record = _store_fold(store, e, meta, protocol, scored, fold, job.train_idx, job.scored_idx, probs,
                                     record, result if job.keep_model else None, r)
        out.append((result, probs, record))
    return out


def _store_fold(store: ResultsStore, exp, meta, protocol, scored, fold, train_idx, scored_idx, probs, record, result,
                run) -> dict:
    """Write one fold's files (the record last: it marks the fold complete), and log them as an artifact."""
    json_path, csv_path, kind = *store.fold_paths(exp.name, fold, protocol), FOLDERS[protocol]
    rows = meta.iloc[scored_idx]  # per clip: filename, fold, target, prob_0, prob_1, ...
    store.write_csv(csv_path, pd.DataFrame({**{c: rows[c].to_numpy() for c in ("filename", "fold", "target")},
                                            **{f"prob_{c}": probs[:, c] for c in range(probs.shape[1])}}))
    record = {"fold": fold, "scored_as": scored, **record, "experiment": exp.to_dict(), "key": exp.key(),
              "data": data_fingerprint(meta, train_idx, scored_idx), "csv_sha256": file_sha256(csv_path)}
    if result is not None:
        info = {"arch": exp.arch, "params": plain(exp.model), "n_mels": exp.features.n_mels,
                "classes": list(class_names(meta)), "features": plain(exp.features), "experiment": exp.name,
                "key": exp.key(), "tta_shifts": exp.train.tta_shifts,
                "trained_on_folds": sorted(int(f) for f in meta["fold"].iloc[train_idx].unique())}
        save_checkpoint(store.fold_model(exp.name, fold, protocol), result.model.cpu(), result.normalizer.cpu(),
                        record["returned_epoch"], info)
    store.write_json(json_path, record)
    tracking.log_files(run, f"{exp.name}-{kind}-fold{fold}", f"{kind}-fold", store.root, [json_path, csv_path],
                       metadata={"experiment": exp.name, "key": exp.key(), "fold": fold, "protocol": kind})
    return record


def _is_stored(store: ResultsStore, exp: Experiment, meta, protocol: str, fold: int, train_idx, scored_idx,
               keep_model: bool) -> bool:
    json_path, csv_path = store.fold_paths(exp.name, fold, protocol)
    needs = [csv_path] + ([store.fold_model(exp.name, fold, protocol)] if keep_model else [])
    stored = read_json(json_path)
    return (store.reusable(stored, exp.key(), data_fingerprint(meta, train_idx, scored_idx), json_path, needs)
            and store.fold_files_match(stored, csv_path, meta["filename"].iloc[scored_idx], len(class_names(meta))))


def cross_validate(exp: "Experiment | Sequence[Experiment]", meta: pd.DataFrame, features,
                   store: "ResultsStore | PathLike", protocol: str = "official", folds: Optional[Sequence[int]] = None,
                   keep_test_model: bool = False):
    """Cross-validate ``exp`` in ``protocol`` (``"official"`` or ``"development"``); returns its summary. Stored under
    ``<name>/cv/`` (official) or ``<name>/dev-cv/``: ``fold<k>.json`` + ``fold<k>.csv`` per fold, then ``summary.json``
    (mean ± std over folds, pooled out-of-fold metrics, parameters, seconds; returned with ``"per_fold"``, the fold
    records) and ``oof.csv``. ``folds``: the official protocol's test folds to run (default all); ``keep_test_model``
    keeps the test fold's model (:meth:`ResultsStore.test_model`). A list of experiments (seeds, variants) trains its
    missing folds together and returns a list of summaries; ``features`` is then a tensor or a function of a
    :class:`~audiolab.features.FeatureConfig`. One process at a time trains an experiment: another gets
    :class:`~audiolab.evaluation.store.ExperimentBusy`."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be 'official' or 'development', got {protocol!r}")
    scored = PROTOCOLS[protocol]
    exps = [exp] if isinstance(exp, Experiment) else list(exp)
    store = ResultsStore.of(store)
    splits = {k: (train, test) for k, train, test in (cv_folds(meta) if scored == "test" else development_folds(meta))}
    wanted = sorted(splits) if folds is None or scored == "val" else sorted({int(k) for k in folds})
    if not wanted or not set(wanted) <= set(splits):
        raise ValueError(f"fold(s) {sorted(set(wanted) - set(splits)) or wanted} not in the table; "
                         f"folds present: {sorted(splits)}")
    inputs = [(e, features(e.features) if callable(features) else features) for e in exps]
    for e, x in inputs:
        check_inputs(e, meta, x)
    keep = TEST_FOLD if keep_test_model and scored == "test" else None
    with ExitStack() as held:
        for name in dict.fromkeys(e.name for e in exps):
            held.enter_context(store.writing(name))
        missing = [(e, x, k) for e, x in inputs for k in wanted
                   if not _is_stored(store, e, meta, protocol, k, *splits[k], k == keep)]
        features_of = {e.name: x for e, x in inputs}
        todo = cohorts([Job(e, *splits[k], k, k == keep) for e, x, k in missing])
        with worker_processes():
            Parallel(n_jobs=max(1, min(workers(), len(todo))))(
                delayed(train_and_score)(jobs, meta, features_of[jobs[0].exp.name], scored, store=store)
                for jobs in todo)
        summaries = [_summary(store, e, meta, protocol, wanted, complete=wanted == sorted(splits)) for e in exps]
    return summaries[0] if isinstance(exp, Experiment) else summaries


def _summary(store: ResultsStore, exp: Experiment, meta, protocol: str, wanted: list, complete: bool) -> dict:
    """Read the stored folds back (as a rerun will), write the summary and out-of-fold table, return both."""
    per_fold = [read_json(store.fold_paths(exp.name, k, protocol)[0]) for k in wanted]
    rows = [{**fold_row(r["fold"], r["metrics"]), "train_seconds": r["train_seconds"], "epochs": r["epochs"]}
            for r in per_fold]
    oof = pd.concat([pd.read_csv(store.fold_paths(exp.name, k, protocol)[1]) for k in wanted], ignore_index=True)
    probs = oof[prob_columns(oof)].to_numpy()
    oof["pred"] = probs.argmax(axis=1)
    store.write_csv(store.cv_dir(exp.name, protocol) / "oof.csv", oof)
    seconds, epochs = float(sum(r["train_seconds"] for r in per_fold)), int(sum(r["epochs"] for r in per_fold))
    summary = {"name": exp.name, "experiment": exp.to_dict(), "key": exp.key(), "protocol": FOLDERS[protocol],
               "test_fold": TEST_FOLD, "complete": bool(complete), "folds": rows, **fold_stats(rows),
               "pooled": evaluate(oof["target"].to_numpy(), probs, class_names(meta)), "params": per_fold[0]["params"],
               "train_seconds_total": seconds, "seconds_per_epoch": seconds / epochs if epochs else None,
               "epochs": per_fold[0]["epochs"]}
    store.write_json(store.cv_dir(exp.name, protocol) / "summary.json", summary)
    return {**summary, "per_fold": per_fold}
