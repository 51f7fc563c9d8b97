"""Result tables read back from the store: one row per experiment, for the notebooks and the README."""
from __future__ import annotations

from typing import Optional, Sequence

import pandas as pd

from .._util import PathLike
from .store import ResultsStore

__all__ = ["comparison_table", "COMPARISON_COLUMNS"]

COMPARISON_COLUMNS = [
    "name", "arch", "heads", "folds", "cv_accuracy_mean", "cv_accuracy_std", "cv_macro_f1_mean",
    "cv_macro_f1_std", "cv_auc_mean", "cv_auc_std", "test_accuracy", "test_macro_f1", "test_auc",
    "params_trainable", "params_non_trainable", "buffers", "train_seconds_total", "seconds_per_epoch",
    "accuracy",
]


def _pm(mean, std) -> Optional[str]:
    return None if mean is None else f"{mean * 100:.1f} ± {(std or 0.0) * 100:.1f} %"


def _test_fold_metrics(store: ResultsStore, name: str, summary: dict) -> dict:
    """The metrics of the official cross-validation's test fold (its model is the held-out model), if run."""
    test_fold = summary.get("test_fold", 5)
    if test_fold not in [row["fold"] for row in summary["folds"]]:
        return {}
    return store.load_fold(name, test_fold)["metrics"]


def comparison_table(store: "ResultsStore | PathLike", names: Optional[Sequence[str]] = None) -> pd.DataFrame:
    """One row per experiment with an official cross-validation: CV mean ± std, test fold, sizes, times.

    Columns: :data:`COMPARISON_COLUMNS` (``heads`` for Architecture 2 only; ``test_*``: the scores of
    the cross-validation's test fold, i.e. of the held-out model; ``accuracy`` as ``"91.2 ± 2.3 %"``). Also written to the
    store's ``comparison.csv`` and ``comparison.json``. By default every experiment is listed except
    the extra seeds of a seed ensemble (``<name>-seed<s>``, see
    :func:`~audiolab.evaluation.ensemble_table`).
    """
    store = ResultsStore.of(store)
    if names is None:
        extra_seeds = {m["name"] for e in store.ensembles() for m in e["members"] if m["name"] != e["experiment"]["name"]}
        names = [n for n in store.summaries() if n not in extra_seeds]
    rows = []
    for name in names:
        s = store.load_summary(name)
        test = _test_fold_metrics(store, name, s)
        params = s.get("params", {})
        rows.append({
            "name": name,
            "arch": s["experiment"]["arch"],
            "heads": s["experiment"]["model"].get("heads"),
            "folds": len(s["folds"]),
            "cv_accuracy_mean": s["accuracy_mean"],
            "cv_accuracy_std": s["accuracy_std"],
            "cv_macro_f1_mean": s["macro_f1_mean"],
            "cv_macro_f1_std": s["macro_f1_std"],
            "cv_auc_mean": s["auc_mean"],
            "cv_auc_std": s["auc_std"],
            "test_accuracy": test.get("accuracy"),
            "test_macro_f1": test.get("macro_f1"),
            "test_auc": test.get("auc_macro_ovr"),
            "params_trainable": params.get("trainable"),
            "params_non_trainable": params.get("non_trainable"),
            "buffers": params.get("buffers"),
            "train_seconds_total": s.get("train_seconds_total"),
            "seconds_per_epoch": s.get("seconds_per_epoch"),
            "accuracy": _pm(s["accuracy_mean"], s["accuracy_std"]),
        })
    table = pd.DataFrame(rows, columns=COMPARISON_COLUMNS).astype({"heads": "Int64", "folds": "Int64"})
    if store.root.is_dir():
        store.write_csv(store.root / "comparison.csv", table)
        store.write_json(store.root / "comparison.json",
                         table.astype(object).where(table.notna(), None).to_dict("records"))
    return table
