"""Hyperparameter search scored on validation folds inside the training folds.

For each validation fold ``v`` a trial trains on every fold except ``v`` and the test fold,
and predicts ``v``; its score is computed on all its validation predictions pooled, so two
validation folds halve the noise of the ranking. The test fold is never used, for training
or for scoring. Which trial to keep is :mod:`audiolab.evaluation.selection`'s job.
"""
from __future__ import annotations

import json
import math
import random
from typing import Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import pandas as pd
import torch

from .._util import PathLike, plain, tupled
from ..experiment import Experiment
from ..metrics import evaluate
from ..tracking import resolve_mode
from .parallel import resolve_workers, run_jobs
from .run_log import open_run_log
from .runner import check_inputs, class_names, train_and_score
from .selection import TRIAL_RESULT_COLUMNS, ranked
from .store import ResultsStore, data_fingerprint

__all__ = ["search", "search_trials", "search_splits", "run_trial", "TRIAL_ARTIFACT"]

#: W&B artifact type of a search trial's result file (what :func:`audiolab.sweeps.collect` downloads).
TRIAL_ARTIFACT = "search-trial"


def search_trials(base: Experiment, space: Mapping[str, Sequence], n_trials: int = 8, seed: int = 0) -> list[dict]:
    """The trials :func:`search` runs: a list of ``{key: value}``, the base configuration first.

    Keys are dotted names (``"train.lr"``, ``"model.channels"``). If the grid (plus the base) has
    at most ``n_trials`` distinct configurations, all of them; otherwise the base and
    ``n_trials - 1`` distinct random grid points drawn with ``seed`` (same seed, same trials).
    """
    if not space:
        raise ValueError("the search space is empty: pass {key: [values, ...]}")
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    keys = list(space)
    values = []
    for k in keys:
        options = [tupled(v) for v in space[k]]
        if not options:
            raise ValueError(f"search key {k!r} has no values")
        values.append(options)
    base.replace({k: values[i][0] for i, k in enumerate(keys)})  # unknown keys and bad values fail here

    base_point = {k: base.get(k) for k in keys}
    sizes = [len(v) for v in values]
    size = math.prod(sizes)

    def point(i: int) -> dict:
        out = {}
        for k, options, n in zip(reversed(keys), reversed(values), reversed(sizes)):
            i, r = divmod(i, n)
            out[k] = options[r]
        return {k: out[k] for k in keys}

    def ident(p: dict) -> str:
        return json.dumps(plain(p), sort_keys=True)

    base_in_grid = all(base_point[k] in options for k, options in zip(keys, values))
    exhaustive = size + (0 if base_in_grid else 1) <= n_trials
    if exhaustive:
        order: Iterable[int] = range(size)
    else:  # n_trials draws: if the base is among them, the others still fill n_trials - 1 slots
        order = random.Random(seed).sample(range(size), min(size, n_trials))
    seen = {ident(base_point)}
    trials = [base_point]
    for i in order:
        if not exhaustive and len(trials) >= n_trials:
            break
        p = point(i)
        if ident(p) not in seen:
            seen.add(ident(p))
            trials.append(p)
    return trials


def search_splits(meta: pd.DataFrame, val_fold, test_fold: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(val fold, train idx, val idx)`` per validation fold, checked to leave the test fold out."""
    folds = meta["fold"].to_numpy()
    present = set(int(f) for f in np.unique(folds))
    val_folds = sorted({int(v) for v in (val_fold if isinstance(val_fold, Iterable) else [val_fold])})
    if not val_folds or test_fold in val_folds or not set(val_folds) <= present or test_fold not in present:
        raise ValueError(
            f"val_fold={val_fold} and test_fold={test_fold} must be different folds of the table {sorted(present)}"
        )
    test_idx = np.flatnonzero(folds == test_fold)
    test_set, test_files = set(test_idx.tolist()), set(meta["filename"].iloc[test_idx])
    splits = []
    for v in val_folds:
        train_idx = np.flatnonzero((folds != v) & (folds != test_fold))
        val_idx = np.flatnonzero(folds == v)
        seen = np.concatenate([train_idx, val_idx])
        if test_set & set(seen.tolist()) or not len(train_idx):
            raise AssertionError("search split is broken: test-fold clips in the training or validation set")
        if test_files & set(meta["filename"].iloc[seen]):
            raise AssertionError("search split is broken: a test-fold file is also in the training or validation set")
        splits.append((v, train_idx, val_idx))
    return splits


def search(
    base: Experiment,
    space: Mapping[str, Sequence],
    meta: pd.DataFrame,
    features: torch.Tensor,
    store: "ResultsStore | PathLike",
    n_trials: int = 8,
    seed: int = 0,
    val_fold: Union[int, Sequence[int]] = (3, 4),
    test_fold: int = 5,
    wandb_mode: Optional[str] = None,
    progress: bool = True,
    wandb_dir: Optional[PathLike] = None,
    workers: Optional[int] = None,
) -> pd.DataFrame:
    """Run the :func:`search_trials` of ``base`` over ``space`` (dotted keys) on the validation folds.

    Each trial is stored as it finishes in ``<base.name>/search/trial-<key>.json`` and reused on a
    rerun. Returns a DataFrame best first (validation accuracy, then macro F1) with columns
    ``trial``, one per space key, ``val_accuracy``, ``val_macro_f1``, ``val_auc``, ``val_clips``
    (validation clips scored), ``params_trainable``, ``seconds`` and ``key``; also written to
    ``trials.csv``. W&B: one run per trial (group ``<name>-search``, see :func:`run_trial`). ``workers``
    (default ``$AUDIOLAB_WORKERS``, else 1) trials train at once, each in a process of its own
    (:mod:`audiolab.evaluation.parallel`).
    """
    from tqdm.auto import tqdm

    store = ResultsStore.of(store)
    points = search_trials(base, space, n_trials=n_trials, seed=seed)
    workers = resolve_workers(workers)
    missing = [(i, values) for i, values in enumerate(points) if not _is_stored(base, values, meta, store, val_fold,
                                                                                 test_fold, i)]
    if workers > 1 and len(missing) > 1:  # they train side by side; the loop below then finds every one stored
        check_inputs(base, meta, features)
        resolve_mode(wandb_mode)
        if progress:
            print(f"{base.name} search: training {len(missing)} trials, {workers} at a time", flush=True)
        run_jobs(_trial_job, [(base, values, meta, features, store.root, val_fold, test_fold, i, wandb_mode, wandb_dir)
                              for i, values in missing], workers)
    rows = []
    bar = tqdm(list(enumerate(points)), desc=f"{base.name} search", unit="trial", disable=not progress)
    for i, values in bar:
        stored = run_trial(base, values, meta, features, store, val_fold, test_fold, index=i, wandb_mode=wandb_mode,
                           progress=progress, wandb_dir=wandb_dir)
        metrics = stored["metrics"]
        rows.append({"trial": i, **values, "val_accuracy": metrics["accuracy"], "val_macro_f1": metrics["macro_f1"],
                     "val_auc": metrics["auc_macro_ovr"], "val_clips": int(metrics["n"]),
                     "val_folds": ",".join(str(v) for v in stored["val_folds"]), "test_fold": int(test_fold),
                     "params_trainable": stored["params"]["trainable"], "seconds": stored["train_seconds"],
                     "key": stored["key"]})
        bar.set_postfix(best=f"{max(r['val_accuracy'] for r in rows):.3f}")
    bar.close()
    table = ranked(pd.DataFrame(rows, columns=["trial", *space, *TRIAL_RESULT_COLUMNS]))
    store.write_csv(store.search_dir(base.name) / "trials.csv", table)
    return table


def _trial_setup(base, values, meta, store: ResultsStore, val_fold, test_fold, index):
    """``(experiment, splits, key, data fingerprint, result path)`` of one trial."""
    splits = search_splits(meta, val_fold, test_fold)
    data = data_fingerprint(meta, *[idx for _, train, val in splits for idx in (train, val)])
    exp = base.replace(values) if index == 0 else base.replace(values, name=f"{base.name}-trial{index or 'x'}")
    key = exp.key()
    return exp, splits, key, data, store.trial_path(base.name, key)


def _is_stored(base, values, meta, store: ResultsStore, val_fold, test_fold, index) -> bool:
    _, _, key, data, path = _trial_setup(base, values, meta, store, val_fold, test_fold, index)
    return bool(store.reusable(store.read(path), key, data, path))


def _trial_job(args: tuple) -> None:
    """One trial in a worker process (:func:`search` with several workers)."""
    base, values, meta, features, root, val_fold, test_fold, index, wandb_mode, wandb_dir = args
    run_trial(base, values, meta, features, root, val_fold, test_fold, index=index, wandb_mode=wandb_mode,
              progress=False, wandb_dir=wandb_dir)


def run_trial(base: Experiment, values: Mapping[str, object], meta: pd.DataFrame, features: torch.Tensor,
              store: "ResultsStore | PathLike", val_fold: Union[int, Sequence[int]] = (3, 4), test_fold: int = 5,
              index: Optional[int] = None, wandb_mode: Optional[str] = None, progress: bool = True,
              wandb_dir: Optional[PathLike] = None, log_reused: bool = False) -> dict:
    """One trial of ``base``'s search: ``base`` with ``values`` (dotted keys) applied, trained once per
    validation fold and scored on them pooled; stored as ``<base.name>/search/trial-<key>.json``, where
    :func:`search` finds it (a W&B sweep agent runs exactly this, see :mod:`audiolab.sweeps`). A trial
    already stored for the same configuration and clips is loaded. Returns the stored record.

    W&B: one run per trial (job type ``search``, group ``<base.name>-search``; under a sweep agent, the
    agent's run), started before training: every epoch of its validation folds, one after the other
    (:mod:`audiolab.evaluation.run_log`), the pooled ``val/*`` scores, and the trial's file as an artifact
    of type :data:`TRIAL_ARTIFACT` that :func:`audiolab.sweeps.collect` downloads into a results store.
    A reused trial makes no run, unless ``log_reused``: then its run gets the stored scores and file (a
    sweep agent's run must report its metric even for a trial it finds stored)."""
    store = ResultsStore.of(store)
    y = check_inputs(base, meta, features)
    resolve_mode(wandb_mode)
    exp, splits, key, data, path = _trial_setup(base, values, meta, store, val_fold, test_fold, index)
    stored = store.read(path)
    run_args = dict(name=f"{base.name}-trial{index}" if index is not None else f"{base.name}-trial-{key[:8]}",
                    group=f"{base.name}-search", job_type="search", mode=wandb_mode, dir=wandb_dir,
                    tags=[exp.arch, "search"], config={**exp.to_dict(), "trial": index, "key": key,
                                                       "val_folds": [v for v, _, _ in splits], **plain(values)})
    if store.reusable(stored, key, data, path):
        if log_reused:
            with open_run_log(run_args, "val") as log:
                log.scores(stored["metrics"], stored["params"])
                _log_trial_file(log, base.name, key, values, store, path, stored)
        return stored
    with open_run_log(run_args, "val") as log:  # open until the trial's file is written and logged
        stored = _run_trial(exp, index, values, splits, features, y, class_names(meta), log, progress)
        val_idx = np.concatenate([val for _, _, val in splits])
        log.scored(y[val_idx], np.concatenate(stored.pop("probs")), stored["metrics"], class_names(meta),
                   stored["params"], clips=meta.iloc[val_idx], features=exp.features)
        stored.update(test_fold=int(test_fold), experiment=exp.to_dict(), key=key, data=data)
        store.write_json(path, stored)
        _log_trial_file(log, base.name, key, values, store, path, stored)
    return store.read(path)


def _log_trial_file(log, base_name: str, key: str, values, store: ResultsStore, path, stored: dict) -> None:
    log.result_files(f"{base_name}-trial-{key}", TRIAL_ARTIFACT, store.root, [path],
                     metadata={"experiment": base_name, "key": key, "values": plain(values),
                               "val_accuracy": stored["metrics"]["accuracy"]})


def _run_trial(exp, i, values, splits, features, y, classes, log, progress) -> dict:
    """Train one trial once per validation fold, each fold's epochs logged to ``log``; score its pooled
    validation predictions (returned under ``probs`` too, one array per fold, not stored)."""
    per_fold, all_y, all_probs = [], [], []
    for v, train_idx, val_idx in splits:
        log.start_fold(v)
        _, probs, record = train_and_score(exp, features, y, train_idx, val_idx, classes, "val", log, progress,
                                           f"trial {i}, val fold {v}")
        per_fold.append({"val_fold": int(v), **record})
        all_y.append(y[val_idx])
        all_probs.append(probs)
    return {
        "trial": i,
        "values": plain(values),
        "val_folds": [int(v) for v, _, _ in splits],
        "metrics": evaluate(np.concatenate(all_y), np.concatenate(all_probs), classes),
        "params": per_fold[0]["params"],
        "train_seconds": float(sum(r["train_seconds"] for r in per_fold)),
        "per_fold": per_fold,
        "probs": all_probs,
    }
