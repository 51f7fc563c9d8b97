"""Choosing a configuration from a search's trials: the one-standard-error rule.

With a few hundred validation clips the top of a search's ranking is mostly noise, so the
rule (Hastie, Tibshirani and Friedman, *The Elements of Statistical Learning*, 7.10) treats
every trial within one standard error of the best as equally good and keeps the one with the
fewest trainable parameters.
"""
from __future__ import annotations

import ast
import math
from typing import Any, Mapping, Optional, Sequence

import pandas as pd

from .._util import plain, tupled
from ..experiment import Experiment

__all__ = ["RULES", "TRIAL_RESULT_COLUMNS", "ranked", "validation_se", "chosen_trial", "describe_choice",
           "best_experiment"]

RULES = ("one_se", "best")

#: The columns of a search's trials table after the trial number and its searched values.
TRIAL_RESULT_COLUMNS = ("val_accuracy", "val_macro_f1", "val_auc", "val_clips", "params_trainable", "seconds", "key")


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
                f"{top['val_accuracy'] - se:.3f} is as good as this search can tell. Of those we take the one with "
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
