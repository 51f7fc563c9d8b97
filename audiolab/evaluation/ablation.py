"""What each ingredient of the recipe is worth, measured on the development folds only.

Each *variant* switches one ingredient off (dotted overrides, e.g. ``{"augment.mixup": False}``,
see :data:`audiolab.configs.ABLATIONS`). The recipe and every variant are cross-validated over the
development folds (:func:`~audiolab.evaluation.run_dev_cv`) with the same seeds, so each variant's
difference from the recipe is *paired*: same seed, same folds, and the luck of one seed cancels.
The test fold is never trained on nor scored, so the table may guide the recipe.
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import pandas as pd
import torch
from scipy import stats as scipy_stats

from .._util import PathLike
from ..experiment import Experiment
from ..features import FeatureConfig
from .cv import cross_validate_many
from .ensemble import seed_members
from .store import DEV_CV, ResultsStore

__all__ = ["run_ablation", "ablation_table"]


def run_ablation(base: Experiment, variants: Mapping[str, Mapping], seeds: Sequence[int], meta: pd.DataFrame,
                 features: Callable[[FeatureConfig], torch.Tensor], store: "ResultsStore | PathLike",
                 **cv_options) -> pd.DataFrame:
    """Development-fold cross-validation of ``base`` and of each variant, once per seed; returns
    :func:`ablation_table`. ``features(config)`` gives the features of a front-end (a variant may change
    it). Runs are ordinary stored results named ``<base.name>[-<variant>][-seed<s>]``, reused when present;
    the missing ones train together (:func:`~audiolab.evaluation.cv.cross_validate_many`)."""
    members = {label: seed_members(base if label == "recipe" else base.replace(overrides, name=f"{base.name}-{label}"),
                                   seeds)
               for label, overrides in {"recipe": {}, **variants}.items()}
    return ablation_table(cross_validate_many(members, meta, features, store, DEV_CV, **cv_options))


def ablation_table(runs: Mapping[str, Sequence[dict]], alpha: float = 0.05) -> pd.DataFrame:
    """One row per variant: its development accuracy (mean over seeds and folds) and its paired
    difference from ``runs["recipe"]``, in points: mean over seeds, standard error over seeds and a
    ``1 - alpha`` t-interval (the same seeds and folds on both sides)."""
    recipe = [summary["accuracy_mean"] for summary in runs["recipe"]]
    rows = []
    for label, summaries in runs.items():
        accs = [summary["accuracy_mean"] for summary in summaries]
        row = {"variant": label, "seeds": len(accs), "dev_accuracy": 100 * sum(accs) / len(accs)}
        if label != "recipe":
            diffs = [100 * (a - r) for a, r in zip(accs, recipe)]
            mean = sum(diffs) / len(diffs)
            se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) / len(diffs)) if len(diffs) > 1 else float("nan")
            half = float(scipy_stats.t.ppf(1 - alpha / 2, len(diffs) - 1)) * se if len(diffs) > 1 else float("nan")
            row.update(difference=mean, se=se, ci_low=mean - half, ci_high=mean + half)
        rows.append(row)
    return pd.DataFrame(rows, columns=["variant", "seeds", "dev_accuracy", "difference", "se", "ci_low", "ci_high"])
