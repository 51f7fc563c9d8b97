"""Every choice the kit makes, and the guard that keeps the test fold out of them.

* :func:`chosen_trial` -- a search's pick, by the one-standard-error rule: with a few hundred
  validation clips the top of a ranking is mostly noise, so every trial within one standard
  error of the best is as good (Hastie, Tibshirani and Friedman, *The Elements of Statistical
  Learning*, 7.10) and the one with the fewest trainable parameters is kept;
* :func:`choose_by_development` -- a pick among configurations (the number of heads, the shipped
  model) by their mean development-fold accuracy over seeds.

Both refuse scores of the test fold with :class:`TestFoldError`: a search trial must have been
scored on validation folds, a configuration on the development folds (:func:`run_dev_cv`).
"""
from __future__ import annotations

import ast
import math
from typing import Any, Mapping, Optional, Sequence

import pandas as pd

from .._util import plain, tupled
from ..experiment import Experiment

__all__ = ["RULES", "TRIAL_RESULT_COLUMNS", "TestFoldError", "ranked", "validation_se", "chosen_trial",
           "describe_choice", "best_experiment", "choose_by_development"]

RULES = ("one_se", "best")

#: The columns of a search's trials table after the trial number and its searched values.
TRIAL_RESULT_COLUMNS = ("val_accuracy", "val_macro_f1", "val_auc", "val_clips", "val_folds", "test_fold",
                        "params_trainable", "seconds", "key")


class TestFoldError(ValueError):
    """A choice was handed scores of the test fold; choices are made on the development folds only."""

    __test__ = False  # not a test class, whatever pytest thinks of its name


def _check_trials(trials: pd.DataFrame) -> None:
    """Raise :class:`TestFoldError` if any trial was scored on (or did not say it kept out) the test fold."""
    if "val_folds" not in trials.columns or "test_fold" not in trials.columns:
        raise TestFoldError("the trials table does not say which folds scored it ('val_folds', 'test_fold'): "
                            "choose only from a table written by audiolab.evaluation.search")
    for folds, test in zip(trials["val_folds"], trials["test_fold"]):
        scored = {int(f) for f in str(folds).split(",") if f.strip()}
        if int(test) in scored:
            raise TestFoldError(f"a trial was scored on the test fold {int(test)} (validation folds {sorted(scored)}): "
                                "a search scores validation folds inside the development folds, never the test fold")


def choose_by_development(candidates: Mapping[Any, Sequence[Mapping]], test_fold: int = 5) -> tuple[Any, pd.DataFrame]:
    """The candidate with the highest mean development-fold accuracy over its seeds, and the table behind it.

    ``candidates`` maps a label (a number of heads, an experiment name) to the development
    cross-validation summaries of its seeds (:func:`~audiolab.evaluation.run_dev_cv`). Ties go to the
    first candidate. Any summary that is not a development cross-validation, or that scored the test
    fold, raises :class:`TestFoldError`: the choice would have looked at the test fold.
    """
    rows = {}
    for label, summaries in candidates.items():
        if not summaries:
            raise ValueError(f"candidate {label!r} has no results")
        for summary in summaries:
            scored = [int(r["fold"]) for r in summary["folds"]]
            if summary.get("protocol") != "dev-cv" or test_fold in scored:
                raise TestFoldError(
                    f"{summary.get('name')!r}: its scores cover folds {scored} of a {summary.get('protocol', 'cv')!r} "
                    f"run; choices use development-fold cross-validation (run_dev_cv), which never trains on or "
                    f"scores the test fold {test_fold}")
        accs = [s["accuracy_mean"] for s in summaries]
        rows[label] = {"seeds": len(accs), "dev_accuracy_mean": float(sum(accs) / len(accs)),
                       "dev_accuracy_min": float(min(accs)), "dev_accuracy_max": float(max(accs))}
    table = pd.DataFrame(rows).T.rename_axis("candidate")
    best = max(rows, key=lambda label: rows[label]["dev_accuracy_mean"])  # max keeps the first of equals
    return best, table


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
                         "rerun search() to add it, or choose with rule='best'")
    p, n = float(top["val_accuracy"]), int(top["val_clips"])
    return math.sqrt(p * (1.0 - p) / n)


def chosen_trial(trials: pd.DataFrame, rule: str = "one_se") -> pd.Series:
    """The row of the trial a search picks: ``"best"`` (highest validation accuracy, then macro F1)
    or ``"one_se"`` (default: the fewest trainable parameters among the trials within one standard
    error of the best; ties: higher accuracy)."""
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; choose one of {RULES}")
    _check_trials(trials)
    table = ranked(trials)
    if rule == "best":
        return table.iloc[0]
    floor = table.iloc[0]["val_accuracy"] - validation_se(table)
    within = table[table["val_accuracy"] >= floor - 1e-12]
    return within.sort_values(["params_trainable", "val_accuracy", "val_macro_f1", "trial"],
                              ascending=[True, False, False, True], kind="stable").iloc[0]


def _from_cell(value: Any) -> Any:
    """A table cell back to a Python value (``"(32, 64)"`` read from CSV becomes a tuple)."""
    if isinstance(value, str) and value[:1] in "([":
        try:
            return tupled(ast.literal_eval(value))
        except (ValueError, SyntaxError):
            return value
    if isinstance(value, float) and value.is_integer():
        return value  # keep floats floats (lr=1.0 stays 1.0)
    return tupled(value)


def chosen_values(base: Experiment, trials: pd.DataFrame, rule: str = "one_se") -> dict:
    """The searched values of the chosen trial, typed like ``base``'s fields."""
    best = chosen_trial(trials, rule)
    skip = {"trial", "name", *TRIAL_RESULT_COLUMNS}
    values = {k: _from_cell(best[k]) for k in best.index if k not in skip}
    for k, v in values.items():  # integers stored as floats by pandas
        current = base.get(k)
        if isinstance(current, int) and not isinstance(current, bool) and isinstance(v, float) and v.is_integer():
            values[k] = int(v)
    return values


def describe_choice(base: Experiment, trials: pd.DataFrame, space: Mapping[str, Sequence],
                    rule: str = "one_se") -> str:
    """A Markdown paragraph: which trial the search picked, by which rule, and what it changes from ``base``."""
    table = ranked(trials)
    top, pick = table.iloc[0], chosen_trial(table, rule)

    def trial(row) -> str:
        return (f"**trial {int(row['trial'])}** (validation accuracy {row['val_accuracy']:.3f}, "
                f"macro F1 {row['val_macro_f1']:.3f}, {int(row['params_trainable']):,} parameters)")

    if rule == "best":
        text = f"The best trial is {trial(pick)}."
    else:
        se = validation_se(table)
        text = (f"The highest validation accuracy is {trial(top)}. On {int(top['val_clips'])} validation clips "
                f"its standard error is {100 * se:.1f} points, so every trial above "
                f"{top['val_accuracy'] - se:.3f} cannot be told apart from the best by this search. Of those we take the one with "
                f"the fewest parameters (the *one-standard-error rule*): ")
        text += "the same trial." if int(pick["trial"]) == int(top["trial"]) else f"{trial(pick)}."
    changes = {k: (base.get(k), _from_cell(pick[k])) for k in space}
    changed = [f"`{k}` {a} → {b}" for k, (a, b) in changes.items() if str(plain(a)) != str(plain(b))]
    return text + (f" Compared with the starting configuration it changes {', '.join(changed)}." if changed
                   else " It is the starting configuration itself.")


def best_experiment(base: Experiment, trials: pd.DataFrame, name: Optional[str] = None,
                    rule: str = "one_se") -> Experiment:
    """``base`` with the values of the trial :func:`chosen_trial` picks, named ``name``
    (default ``"<base.name>-best"``). Works on :func:`~audiolab.evaluation.search`'s table and
    on ``trials.csv`` read back with pandas."""
    return base.replace(chosen_values(base, trials, rule), name=name or f"{base.name}-best")
