"""Hyperparameter search on validation folds inside the development folds, and every choice the kit makes.

* :func:`search` -- for each validation fold ``v`` of :data:`audiolab.data.SEARCH_VAL_FOLDS` a trial trains on
  the development folds but ``v`` and predicts ``v``; its score pools all its validation predictions, so two
  validation folds halve the noise of the ranking. The test fold is never used, for training or for scoring.
* :func:`chosen_trial` -- a search's pick, by the one-standard-error rule: with a few hundred validation clips the top
  of a ranking is mostly noise, so every trial within one standard error of the best is as good (Hastie, Tibshirani
  and Friedman, *The Elements of Statistical Learning*, 7.10) and the one with the fewest trainable parameters is kept;
* :func:`choose_by_development` -- a pick among configurations (the number of heads, the shipped model) by
  their mean development-fold accuracy over seeds.

Both choices refuse scores of the test fold with :class:`TestFoldError`."""
from __future__ import annotations

import ast
import contextlib
import itertools
import math
import random
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from tqdm.auto import tqdm

from .. import tracking
from .._util import PathLike, plain, read_json, tupled
from ..data import SEARCH_VAL_FOLDS, TEST_FOLD, development_folds
from ..experiment import Experiment
from ..metrics import evaluate
from .cv import Job, check_inputs, class_names, cohorts, train_and_score, worker_processes, workers
from .store import FOLDERS, ResultsStore, data_fingerprint

#: W&B artifact type of a search trial's result file (what :func:`audiolab.sweeps.collect` downloads).
TRIAL_ARTIFACT = "search-trial"

#: The columns of a search's trials table after the trial number and its searched values.
TRIAL_RESULT_COLUMNS = ("val_accuracy", "val_macro_f1", "val_auc", "val_clips", "val_folds", "test_fold",
                        "params_trainable", "seconds", "key")


class TestFoldError(ValueError):
    """A choice was handed scores of the test fold; choices are made on the development folds only."""

    __test__ = False  # not a test class, whatever pytest thinks of its name


def chosen_trial(trials: pd.DataFrame) -> pd.Series:
    """The row of the trial a search picks by the one-standard-error rule: the fewest trainable parameters
    among the trials within one standard error of the best (ties: higher accuracy, then macro F1). A trial
    scored on the test fold (or a table that does not say) raises :class:`TestFoldError`."""
    if "val_folds" not in trials.columns or "test_fold" not in trials.columns:
        raise TestFoldError("the trials table does not say which folds scored it ('val_folds', 'test_fold'): "
                            "choose only from a table written by audiolab.evaluation.search")
    for folds, test in zip(trials["val_folds"], trials["test_fold"]):
        scored = {int(f) for f in str(folds).split(",") if f.strip()}
        if int(test) in scored:
            raise TestFoldError(f"a trial was scored on the test fold {int(test)} (validation folds {sorted(scored)}): "
                                "a search scores validation folds inside the development folds, never the test fold")
    table = ranked(trials)
    within = table[table["val_accuracy"] >= table.iloc[0]["val_accuracy"] - validation_se(table) - 1e-12]
    return within.sort_values(["params_trainable", "val_accuracy", "val_macro_f1", "trial"],
                              ascending=[True, False, False, True], kind="stable").iloc[0]


def choose_by_development(candidates: Mapping[Any, Sequence[Mapping]]) -> tuple[Any, pd.DataFrame]:
    """The candidate with the highest mean development-fold accuracy over its seeds, and the table behind it.
    ``candidates`` maps a label (a number of heads, an experiment name) to the development cross-validation summaries of
    its seeds. Ties go to the first candidate. Any summary that is not a development cross-validation, or that scored
    the test fold, raises :class:`TestFoldError`: the choice would have looked at the test fold."""
    rows = {}
    for label, summaries in candidates.items():
        if not summaries:
            raise ValueError(f"candidate {label!r} has no results")
        for summary in summaries:
            scored = [int(r["fold"]) for r in summary["folds"]]
            if summary.get("protocol") != FOLDERS["development"] or TEST_FOLD in scored:
                raise TestFoldError(
                    f"{summary.get('name')!r}: its scores cover folds {scored} of a {summary.get('protocol', 'cv')!r} "
                    f"run; choices use development-fold cross-validation (protocol='development'), which never trains on or "
                    f"scores the test fold {TEST_FOLD}")
        accs = [s["accuracy_mean"] for s in summaries]
        rows[label] = {"seeds": len(accs), "dev_accuracy_mean": float(sum(accs) / len(accs)),
                       "dev_accuracy_min": float(min(accs)), "dev_accuracy_max": float(max(accs))}
    table = pd.DataFrame(rows).T.rename_axis("candidate")
    return max(rows, key=lambda label: rows[label]["dev_accuracy_mean"]), table  # max keeps the first of equals


def ranked(trials: pd.DataFrame) -> pd.DataFrame:
    """Trials best first: validation accuracy, then macro F1, then the earlier trial."""
    if trials is None or len(trials) == 0:
        raise ValueError("no trials: run search() first")
    return trials.sort_values(["val_accuracy", "val_macro_f1", "trial"], ascending=[False, False, True],
                              kind="stable").reset_index(drop=True)


def validation_se(trials: pd.DataFrame) -> float:
    """Standard error of the best trial's validation accuracy: ``sqrt(p (1 - p) / n)`` on its ``n`` clips."""
    top = ranked(trials).iloc[0]
    if "val_clips" not in trials.columns or pd.isna(top["val_clips"]):
        raise ValueError("the trials table has no 'val_clips' column (written by an older audiolab): "
                         "rerun search() to add it")
    p, n = float(top["val_accuracy"]), int(top["val_clips"])
    return math.sqrt(p * (1.0 - p) / n)


def _typed(value: Any, like: Any) -> Any:
    """A table cell as a value of the field ``like`` is (read from CSV, ``"(32, 64)"`` is a tuple, ``32.0`` an int)."""
    if isinstance(value, str) and value[:1] in "([":
        with contextlib.suppress(ValueError, SyntaxError):  # a string that is no literal stays a string
            value = ast.literal_eval(value)
    if isinstance(like, int) and not isinstance(like, bool) and isinstance(value, float) and value.is_integer():
        return int(value)
    return tupled(value)


def describe_choice(base: Experiment, trials: pd.DataFrame, space: Mapping[str, Sequence]) -> str:
    """A Markdown paragraph: which trial the search picked, by which rule, and what it changes from ``base``."""
    table = ranked(trials)
    top, pick = table.iloc[0], chosen_trial(table)

    def trial(row) -> str:
        return (f"**trial {int(row['trial'])}** (validation accuracy {row['val_accuracy']:.3f}, "
                f"macro F1 {row['val_macro_f1']:.3f}, {int(row['params_trainable']):,} parameters)")

    se = validation_se(table)
    text = (f"The highest validation accuracy is {trial(top)}. On {int(top['val_clips'])} validation clips "
            f"its standard error is {100 * se:.1f} points, so every trial above {top['val_accuracy'] - se:.3f} cannot be "
            f"told apart from the best by this search. Of those we take the one with the fewest parameters (the "
            f"*one-standard-error rule*): ")
    text += "the same trial." if int(pick["trial"]) == int(top["trial"]) else f"{trial(pick)}."
    changes = {k: (base.get(k), _typed(pick[k], base.get(k))) for k in space}
    changed = [f"`{k}` {a} → {b}" for k, (a, b) in changes.items() if str(plain(a)) != str(plain(b))]
    return text + (f" Compared with the starting configuration it changes {', '.join(changed)}." if changed
                   else " It is the starting configuration itself.")


def best_experiment(base: Experiment, trials: pd.DataFrame, name: Optional[str] = None) -> Experiment:
    """``base`` with the values of the trial :func:`chosen_trial` picks, named ``name``
    (default ``"<base.name>-best"``). Works on :func:`~audiolab.evaluation.search`'s table and
    on ``trials.csv`` read back with pandas."""
    best = chosen_trial(trials)  # its searched values, typed like base's fields
    values = {k: _typed(best[k], base.get(k)) for k in best.index if k not in {"trial", "name", *TRIAL_RESULT_COLUMNS}}
    return base.replace(values, name=name or f"{base.name}-best")


def search_trials(base: Experiment, space: Mapping[str, Sequence], n_trials: int = 8, seed: int = 0) -> list[dict]:
    """The trials :func:`search` runs: a list of ``{key: value}``, the base configuration first. Keys are dotted names
    (``"train.lr"``, ``"model.channels"``). If the grid (plus the base) has at most ``n_trials`` distinct
    configurations, all of them; otherwise the base and ``n_trials - 1`` distinct random grid points drawn with ``seed``
    (same seed, same trials)."""
    if not space:
        raise ValueError("the search space is empty: pass {key: [values, ...]}")
    if n_trials < 1:
        raise ValueError(f"n_trials must be >= 1, got {n_trials}")
    values = [[tupled(v) for v in options] for options in space.values()]
    if not all(values):
        raise ValueError(f"search key {[k for k, v in zip(space, values) if not v][0]!r} has no values")
    base.replace({k: v[0] for k, v in zip(space, values)})  # unknown keys and bad values fail here
    grid = [dict(zip(space, point)) for point in itertools.product(*values)]
    start = {k: base.get(k) for k in space}
    exhaustive = len(grid) + (start not in grid) <= n_trials
    # n_trials draws: if the base is among them, the others still fill n_trials - 1 slots
    order = range(len(grid)) if exhaustive else random.Random(seed).sample(range(len(grid)), min(len(grid), n_trials))
    trials = [start]
    for i in order:
        if grid[i] not in trials and (exhaustive or len(trials) < n_trials):
            trials.append(grid[i])
    return trials


def search_splits(meta: pd.DataFrame) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """``(val fold, train idx, val idx)`` per validation fold: train on the development folds but that one."""
    splits = [split for split in development_folds(meta) if split[0] in SEARCH_VAL_FOLDS]
    if TEST_FOLD in SEARCH_VAL_FOLDS or len(splits) != len(SEARCH_VAL_FOLDS):
        raise ValueError(f"the search needs validation folds {sorted(SEARCH_VAL_FOLDS)} and a different test fold "
                         f"{TEST_FOLD}; the table has {sorted(set(meta['fold']))}")
    return splits


def search(base: Experiment, space: Mapping[str, Sequence], meta: pd.DataFrame, features: torch.Tensor,
           store: "ResultsStore | PathLike", n_trials: int = 8, seed: int = 0) -> pd.DataFrame:
    """Run the :func:`search_trials` of ``base`` over ``space`` (dotted keys) on the validation folds. Each trial is
    stored as it finishes in ``<base.name>/search/trial-<key>.json`` and reused on a rerun (``$AUDIOLAB_WORKERS`` of
    them train at once). Returns a DataFrame best first (validation accuracy, then macro F1) with columns ``trial``, one
    per space key, and :data:`TRIAL_RESULT_COLUMNS`; also written to ``trials.csv``. W&B: one run per trial
    (:func:`run_trial`)."""
    store = ResultsStore.of(store)
    check_inputs(base, meta, features)
    points = search_trials(base, space, n_trials=n_trials, seed=seed)
    missing = [(i, values) for i, values in enumerate(points)  # only asked when they may train side by side
               if not store.reusable(*_trial_stored(base, values, meta, store, i))] if workers() > 1 else []
    if len(missing) > 1:  # side by side; the loop below then finds every one stored
        with worker_processes():
            Parallel(n_jobs=min(workers(), len(missing)))(
                delayed(run_trial)(base, values, meta, features, store, i) for i, values in missing)
    rows = []
    for i, values in enumerate(tqdm(points, desc=f"{base.name} search", unit="trial")):
        stored = run_trial(base, values, meta, features, store, index=i)
        metrics = stored["metrics"]
        rows.append({"trial": i, **values, "val_accuracy": metrics["accuracy"], "val_macro_f1": metrics["macro_f1"],
                     "val_auc": metrics["auc_macro_ovr"], "val_clips": int(metrics["n"]), "test_fold": TEST_FOLD,
                     "val_folds": ",".join(str(v) for v in stored["val_folds"]), "key": stored["key"],
                     "params_trainable": stored["params"]["trainable"], "seconds": stored["train_seconds"]})
    table = ranked(pd.DataFrame(rows, columns=["trial", *space, *TRIAL_RESULT_COLUMNS]))
    store.write_csv(store.search_dir(base.name) / "trials.csv", table)
    return table


def _trial(base: Experiment, values, index):
    return base.replace(values) if index == 0 else base.replace(values, name=f"{base.name}-trial{index or 'x'}")


def _trial_stored(base, values, meta, store: ResultsStore, index):
    """``(stored record, key, data fingerprint, path)`` of one trial, as :meth:`ResultsStore.reusable` takes them."""
    key = _trial(base, values, index).key()
    data = data_fingerprint(meta, *[idx for _, train, val in search_splits(meta) for idx in (train, val)])
    path = store.trial_path(base.name, key)
    return read_json(path), key, data, path


def run_trial(base: Experiment, values: Mapping[str, object], meta: pd.DataFrame, features: torch.Tensor,
              store: "ResultsStore | PathLike", index: Optional[int] = None, log_reused: bool = False) -> dict:
    """One trial of ``base``'s search: ``base`` with ``values`` (dotted keys), trained once per validation fold
    and scored on them pooled; stored as ``<base.name>/search/trial-<key>.json`` (reused when stored for the same
    configuration and clips), where :func:`search` finds it; a W&B sweep agent runs exactly this. Returns the
    record. W&B: one run per trial (group ``<base.name>-search``; under a sweep agent, the agent's run) with every
    epoch, the pooled ``val/*`` scores and the trial's file as an artifact of type :data:`TRIAL_ARTIFACT`; a
    reused trial makes no run, unless ``log_reused`` (a sweep agent's run must report its metric)."""
    store = ResultsStore.of(store)
    y, classes = check_inputs(base, meta, features), class_names(meta)
    exp, splits = _trial(base, values, index), search_splits(meta)
    stored, key, data, path = _trial_stored(base, values, meta, store, index)
    reused = store.reusable(stored, key, data, path)
    if reused and not log_reused:
        return stored
    with tracking.start_run(name=f"{base.name}-trial{index}" if index is not None else f"{base.name}-trial-{key[:8]}",
                            group=f"{base.name}-search", job_type="search", tags=[exp.arch, "search"],
                            config={**exp.to_dict(), "trial": index, "key": key, "val_folds": list(SEARCH_VAL_FOLDS),
                                    **plain(values)}) as run:
        scored = ()  # a reused trial logs its scores only; a trained one its clips too
        if not reused:
            per_fold, probs = [], []
            for jobs in cohorts([Job(exp, train_idx, val_idx, v) for v, train_idx, val_idx in splits]):
                for job, (_, p, record) in zip(jobs, train_and_score(jobs, meta, features, "val", run)):
                    per_fold.append({"val_fold": int(job.fold), **record})
                    probs.append(p)
            val_idx, probs = np.concatenate([val for _, _, val in splits]), np.concatenate(probs)
            stored = {"trial": index, "values": plain(values), "val_folds": [int(v) for v, _, _ in splits],
                      "metrics": evaluate(y[val_idx], probs, classes), "params": per_fold[0]["params"],
                      "train_seconds": float(sum(r["train_seconds"] for r in per_fold)), "per_fold": per_fold,
                      "test_fold": TEST_FOLD, "experiment": exp.to_dict(), "key": key, "data": data}
            store.write_json(path, stored)
            scored = (y[val_idx], probs, classes, meta.iloc[val_idx], exp.features)
        tracking.log_result(run, "val", stored["metrics"], stored["params"], *scored)
        tracking.log_files(run, f"{base.name}-trial-{key}", TRIAL_ARTIFACT, store.root, [path],
                           metadata={"experiment": base.name, "key": key, "values": plain(values),
                                     "val_accuracy": stored["metrics"]["accuracy"]})
    return read_json(path)
