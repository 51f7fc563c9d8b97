"""Comparing two configurations honestly: means over seeds, a corrected interval, clip counts.

A single cross-validation run of a configuration moves by a point or more with its seed alone,
so each configuration is run with several seeds (:func:`~audiolab.evaluation.seed_members`) and
compared by its **mean over seeds**, fold by fold. The difference gets a 95 % interval from the
corrected resampled t-test (:func:`audiolab.stats.corrected_resampled_ttest`), and the kit's one
rule decides the wording (:func:`audiolab.stats.describe_difference`): an interval that contains
zero is "no evidence of a difference", never "equal".
"""
from __future__ import annotations

from typing import Optional, Sequence

import pandas as pd

from .._util import PathLike
from ..stats import corrected_resampled_ttest, describe_difference, mcnemar_test, proportion_ci
from .store import OFFICIAL_CV, ResultsStore

__all__ = ["seed_fold_scores", "compare_configurations", "per_class_counts", "held_out_score"]


def seed_fold_scores(store: "ResultsStore | PathLike", names: Sequence[str], kind: str = OFFICIAL_CV,
                     metric: str = "accuracy") -> pd.DataFrame:
    """One row per scored fold, one column per run in ``names`` (the seeds of one configuration)."""
    store = ResultsStore.of(store)
    columns = {name: {r["fold"]: r[metric] for r in store.load_summary(name, kind)["folds"]} for name in names}
    return pd.DataFrame(columns).sort_index().rename_axis("fold")


def _fold_sizes(store: ResultsStore, name: str, kind: str) -> tuple[int, int]:
    """``(training clips, scored clips)`` of one fold of ``name``'s cross-validation."""
    record = store.load_fold(name, store.load_summary(name, kind)["folds"][0]["fold"], kind)
    return int(record["n_train"]), int(record["n_eval"])


def compare_configurations(store: "ResultsStore | PathLike", a: Sequence[str], b: Sequence[str],
                           kind: str = OFFICIAL_CV, labels: Optional[tuple[str, str]] = None,
                           alpha: float = 0.05) -> dict:
    """Configuration A (its seeds' runs ``a``) against B (``b``) on the folds both were scored on.

    Returns ``per_fold`` (a DataFrame: each fold's seed-mean accuracy of A and B and their
    difference), ``mean_a``/``mean_b`` (seed and fold means), ``test`` (the corrected t-test of the
    fold differences, with ``ci_low``/``ci_high``), ``mcnemar`` (one exact test per seed pair on the
    pooled predictions of all scored folds), ``text`` (the result in words) and ``labels``.
    """
    store = ResultsStore.of(store)
    labels = labels or (a[0], b[0])
    fa, fb = seed_fold_scores(store, a, kind).mean(axis=1), seed_fold_scores(store, b, kind).mean(axis=1)
    folds = fa.index.intersection(fb.index)
    if len(folds) < 2:
        raise ValueError(f"{labels[0]} and {labels[1]} share {len(folds)} scored fold(s); a comparison needs two")
    per_fold = pd.DataFrame({labels[0]: fa[folds], labels[1]: fb[folds]})
    per_fold["difference"] = per_fold[labels[0]] - per_fold[labels[1]]
    n_train, n_test = _fold_sizes(store, a[0], kind)
    test = corrected_resampled_ttest(per_fold["difference"], n_train, n_test, alpha)
    pairs = []
    for name_a, name_b in zip(a, b):
        oa, ob = store.load_oof(name_a, kind), store.load_oof(name_b, kind)
        both = oa[["filename", "target", "pred"]].merge(ob[["filename", "target", "pred"]], on=["filename", "target"],
                                                        suffixes=("_a", "_b"))
        pairs.append({"a": name_a, "b": name_b, **mcnemar_test(both["target"], both["pred_a"], both["pred_b"])})
    return {"labels": labels, "kind": kind, "per_fold": per_fold, "mean_a": float(fa[folds].mean()),
            "mean_b": float(fb[folds].mean()), "test": test, "mcnemar": pairs,
            "text": describe_difference(test, *labels)}


def per_class_counts(store: "ResultsStore | PathLike", names: Sequence[str], classes: Sequence[str],
                     kind: str = OFFICIAL_CV) -> pd.DataFrame:
    """Per class: its clips and how many the runs ``names`` (seeds) classify correctly, as a mean over seeds."""
    store = ResultsStore.of(store)
    correct = []
    for name in names:
        oof = store.load_oof(name, kind)
        correct.append((oof["pred"] == oof["target"]).groupby(oof["target"]).sum())
    clips = store.load_oof(names[0], kind)["target"].value_counts().sort_index()
    table = pd.DataFrame({"clips": clips, "correct": pd.concat(correct, axis=1).mean(axis=1)})
    table.index = [classes[int(i)] for i in table.index]
    return table


def held_out_score(store: "ResultsStore | PathLike", name: str, test_fold: int = 5, alpha: float = 0.05) -> dict:
    """The test-fold accuracy of ``name`` (its official cross-validation's test fold: the held-out model),
    with its clips and a Wilson ``1 - alpha`` interval: ``accuracy``, ``correct``, ``n``, ``ci_low``, ``ci_high``."""
    metrics = ResultsStore.of(store).load_fold(name, test_fold)["metrics"]
    n = int(metrics["n"])
    correct = int(round(metrics["accuracy"] * n))
    low, high = proportion_ci(correct, n, alpha)
    return {"name": name, "fold": test_fold, "accuracy": metrics["accuracy"], "correct": correct, "n": n,
            "ci_low": low, "ci_high": high}

