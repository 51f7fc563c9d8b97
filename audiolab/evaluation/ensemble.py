"""Seed ensembles: one configuration cross-validated with several seeds, then averaged.

Two models of one configuration trained with different seeds (initial weights, batch order,
augmentations) differ by several points on a fold of 80 clips. A seed ensemble shows how
large that spread is, and what averaging the members' out-of-fold probabilities gains over
one model, at ``len(seeds)`` times the training time and parameters.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch

from .._util import PathLike
from ..experiment import Experiment
from ..metrics import evaluate
from .cv import cross_validate_many, fold_row, fold_stats
from .runner import class_names, prob_columns
from .store import OFFICIAL_CV, ResultsStore

__all__ = ["run_seed_ensemble", "average_members", "ensemble_table", "seed_members"]


def seed_members(exp: Experiment, seeds: Sequence[int]) -> list[Experiment]:
    """The members of ``exp``'s seed ensemble: ``exp`` itself for its own seed, ``<name>-seed<s>`` for the others."""
    return [exp if s == exp.train.seed else exp.replace({"train.seed": s}, name=f"{exp.name}-seed{s}") for s in seeds]


def run_seed_ensemble(
    exp: Experiment,
    seeds: Sequence[int],
    meta: pd.DataFrame,
    features: torch.Tensor,
    store: "ResultsStore | PathLike",
    **cv_options,
) -> dict:
    """Cross-validate ``exp`` once per seed (:func:`~audiolab.evaluation.run_cv` with ``cv_options``: ``folds``,
    ``wandb_mode``, ``progress``, ``wandb_dir``, ``workers``; every member is stored and reused like any other
    experiment, and the members' missing folds train together, see :func:`cross_validate_many`), then
    score the average of the members' probabilities per fold and pooled, exactly as one model is
    scored. Written to ``<name>-ensemble/summary.json``."""
    store = ResultsStore.of(store)
    seeds = [int(s) for s in dict.fromkeys(seeds)]
    if len(seeds) < 2:
        raise ValueError(f"an ensemble needs at least two seeds, got {seeds}")
    members = seed_members(exp, seeds)
    cvs = cross_validate_many(members, meta, features, store, **cv_options)  # the members' folds train together
    scores = average_members(store, [m.name for m in members], class_names(meta))
    member_rows = [
        {"name": c["name"], "seed": s, "accuracy_mean": c["accuracy_mean"], "accuracy_std": c["accuracy_std"],
         "macro_f1_mean": c["macro_f1_mean"], "auc_mean": c["auc_mean"]}
        for c, s in zip(cvs, seeds)
    ]
    summary = {
        "name": f"{exp.name}-ensemble",
        "experiment": exp.to_dict(),
        "seeds": seeds,
        "members": member_rows,
        **scores,
        "params": cvs[0]["params"],
        "params_trainable_total": cvs[0]["params"]["trainable"] * len(members),
        "train_seconds_total": float(sum(c["train_seconds_total"] for c in cvs)),
    }
    store.write_json(store.ensemble_path(exp.name), summary)
    return summary


def average_members(store: "ResultsStore | PathLike", names: Sequence[str], classes: Sequence[str],
                    kind: str = OFFICIAL_CV) -> dict:
    """Score the average of the stored out-of-fold probabilities of ``names`` (any experiments
    cross-validated the same way, e.g. seeds of one configuration or both architectures), exactly as one
    model is scored: ``folds`` (one row per fold), their mean ± std (:func:`~audiolab.evaluation.cv.fold_stats`)
    and ``pooled``. ``kind`` is ``"cv"`` (official) or ``"dev-cv"`` (development folds)."""
    store = ResultsStore.of(store)
    if not names:
        raise ValueError("an ensemble needs at least one stored experiment")
    oofs = [store.load_oof(name, kind).set_index("filename") for name in names]
    clips = oofs[0][["fold", "target"]]
    if any(set(o.index) != set(clips.index) for o in oofs[1:]):
        raise ValueError(f"{list(names)} were not scored on the same clips: only experiments cross-validated "
                         "on the same folds can be averaged")
    cols = prob_columns(oofs[0])
    probs = np.mean([o.loc[clips.index, cols].to_numpy() for o in oofs], axis=0)
    targets, fold_of = clips["target"].to_numpy(), clips["fold"].to_numpy()
    rows = [fold_row(k, evaluate(targets[fold_of == k], probs[fold_of == k], list(classes)))
            for k in sorted(set(fold_of))]
    return {"folds": rows, **fold_stats(rows), "pooled": evaluate(targets, probs, list(classes))}


_ENSEMBLE_COLUMNS = ["name", "seeds", "member_accuracy_mean", "member_accuracy_min", "member_accuracy_max",
                     "ensemble_accuracy_mean", "ensemble_accuracy_std", "ensemble_macro_f1_mean", "ensemble_auc_mean",
                     "params_trainable_total", "train_seconds_total"]


def ensemble_table(store: "ResultsStore | PathLike") -> pd.DataFrame:
    """One row per seed ensemble in the store: the members' CV accuracies next to the ensemble's.

    Columns: ``name`` (the base experiment), ``seeds``, ``member_accuracy_mean`` (mean of the
    members' CV accuracies), ``member_accuracy_min``/``_max``, ``ensemble_accuracy_mean``/``_std``,
    ``ensemble_macro_f1_mean``, ``ensemble_auc_mean``, ``params_trainable_total`` (all members)
    and ``train_seconds_total``.
    """
    rows = []
    for e in ResultsStore.of(store).ensembles():
        accs = [m["accuracy_mean"] for m in e["members"]]
        rows.append({
            "name": e["experiment"]["name"],
            "seeds": len(e["seeds"]),
            "member_accuracy_mean": float(np.mean(accs)),
            "member_accuracy_min": float(min(accs)),
            "member_accuracy_max": float(max(accs)),
            "ensemble_accuracy_mean": e["accuracy_mean"],
            "ensemble_accuracy_std": e["accuracy_std"],
            "ensemble_macro_f1_mean": e["macro_f1_mean"],
            "ensemble_auc_mean": e["auc_mean"],
            "params_trainable_total": e["params_trainable_total"],
            "train_seconds_total": e["train_seconds_total"],
        })
    return pd.DataFrame(rows, columns=_ENSEMBLE_COLUMNS)
