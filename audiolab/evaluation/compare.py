"""Comparing configurations honestly: seeds, seed ensembles, the recipe's ablation and the result tables.

A single cross-validation run of a configuration moves by a point or more with its seed alone, so each configuration is
run with several seeds (:func:`seed_members`) and compared by its **mean over seeds**, fold by fold. The difference gets
a 95 % interval from the corrected resampled t-test (:func:`audiolab.stats.corrected_resampled_ttest`), and the kit's
one rule decides the wording (:func:`audiolab.stats.describe_difference`): an interval that contains zero is "no
evidence of a difference", never "equal". :func:`run_seed_ensemble` scores the average of the seeds' probabilities as
one model; :func:`run_ablation` switches each ingredient of the recipe off on the development folds, paired by seed."""
from __future__ import annotations

import math
from typing import Callable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd
import torch
from scipy import stats as scipy_stats

from .._util import PathLike
from ..data import TEST_FOLD
from ..experiment import Experiment
from ..features import FeatureConfig
from ..metrics import evaluate
from ..stats import corrected_resampled_ttest, describe_difference, mcnemar_test, proportion_ci
from .cv import class_names, cross_validate, fold_row, fold_stats, prob_columns
from .store import ResultsStore


def seed_fold_scores(store: "ResultsStore | PathLike", names: Sequence[str], protocol: str = "official") -> pd.DataFrame:
    """One row per scored fold, one column per run in ``names`` (the seeds of one configuration): its accuracy."""
    store = ResultsStore.of(store)
    columns = {name: {r["fold"]: r["accuracy"] for r in store.load_summary(name, protocol)["folds"]} for name in names}
    return pd.DataFrame(columns).sort_index().rename_axis("fold")


def compare_configurations(store: "ResultsStore | PathLike", a: Sequence[str], b: Sequence[str],
                           protocol: str = "official", labels: Optional[tuple[str, str]] = None) -> dict:
    """Configuration A (its seeds' runs ``a``) against B (``b``) on the folds both were scored on: ``per_fold`` (each
    fold's seed-mean accuracy of A and B and their difference), ``mean_a``/``mean_b``, ``test`` (the corrected t-test
    of the fold differences, with a 95 % ``ci_low``/``ci_high``), ``mcnemar`` (an exact test per seed pair on the
    pooled predictions of all scored folds), ``text`` (the result in words), ``labels`` and ``protocol``."""
    store = ResultsStore.of(store)
    labels = labels or (a[0], b[0])
    fa, fb = seed_fold_scores(store, a, protocol).mean(axis=1), seed_fold_scores(store, b, protocol).mean(axis=1)
    folds = fa.index.intersection(fb.index)
    if len(folds) < 2:
        raise ValueError(f"{labels[0]} and {labels[1]} share {len(folds)} scored fold(s); a comparison needs two")
    per_fold = pd.DataFrame({labels[0]: fa[folds], labels[1]: fb[folds]})
    per_fold["difference"] = per_fold[labels[0]] - per_fold[labels[1]]
    fold = store.load_fold(a[0], int(folds[0]), protocol)  # its training and scored clips
    test = corrected_resampled_ttest(per_fold["difference"], int(fold["n_train"]), int(fold["n_eval"]))
    pairs = []
    for name_a, name_b in zip(a, b):
        oa, ob = store.load_oof(name_a, protocol), store.load_oof(name_b, protocol)
        both = oa[["filename", "target", "pred"]].merge(ob[["filename", "target", "pred"]], on=["filename", "target"],
                                                        suffixes=("_a", "_b"))
        pairs.append({"a": name_a, "b": name_b, **mcnemar_test(both["target"], both["pred_a"], both["pred_b"])})
    return {"labels": labels, "protocol": protocol, "per_fold": per_fold, "mean_a": float(fa[folds].mean()),
            "mean_b": float(fb[folds].mean()), "test": test, "mcnemar": pairs,
            "text": describe_difference(test, *labels)}


def per_class_counts(store: "ResultsStore | PathLike", names: Sequence[str], classes: Sequence[str],
                     protocol: str = "official") -> pd.DataFrame:
    """Per class: its clips and how many the runs ``names`` (seeds) classify correctly, as a mean over seeds."""
    store = ResultsStore.of(store)
    oofs = [store.load_oof(name, protocol) for name in names]
    correct = [(oof["pred"] == oof["target"]).groupby(oof["target"]).sum() for oof in oofs]
    clips = oofs[0]["target"].value_counts().sort_index()
    table = pd.DataFrame({"clips": clips, "correct": pd.concat(correct, axis=1).mean(axis=1)})
    table.index = [classes[int(i)] for i in table.index]
    return table


def held_out_score(store: "ResultsStore | PathLike", name: str, alpha: float = 0.05) -> dict:
    """The test-fold accuracy of ``name`` (its official cross-validation's test fold: the held-out model),
    with its clips and a Wilson ``1 - alpha`` interval: ``accuracy``, ``correct``, ``n``, ``ci_low``, ``ci_high``."""
    metrics = ResultsStore.of(store).load_fold(name, TEST_FOLD)["metrics"]
    n = int(metrics["n"])
    correct = int(round(metrics["accuracy"] * n))
    low, high = proportion_ci(correct, n, alpha)
    return {"name": name, "fold": TEST_FOLD, "accuracy": metrics["accuracy"], "correct": correct, "n": n,
            "ci_low": low, "ci_high": high}


def seed_members(exp: Experiment, seeds: Sequence[int]) -> list[Experiment]:
    """The members of ``exp``'s seed ensemble: ``exp`` itself for its own seed, ``<name>-seed<s>`` for the others."""
    return [exp if s == exp.train.seed else exp.replace({"train.seed": s}, name=f"{exp.name}-seed{s}") for s in seeds]


def run_seed_ensemble(exp: Experiment, seeds: Sequence[int], meta: pd.DataFrame, features: torch.Tensor,
                      store: "ResultsStore | PathLike", folds: Optional[Sequence[int]] = None) -> dict:
    """Cross-validate ``exp`` once per seed in the official protocol on ``folds`` (each member an ordinary stored
    experiment; their missing folds train together), then score the average of the members' probabilities per
    fold and pooled, exactly as one model is scored. Written to ``<name>-ensemble/summary.json``."""
    store = ResultsStore.of(store)
    seeds = [int(s) for s in dict.fromkeys(seeds)]
    if len(seeds) < 2:
        raise ValueError(f"an ensemble needs at least two seeds, got {seeds}")
    members = seed_members(exp, seeds)
    cvs = cross_validate(members, meta, features, store, folds=folds)
    scores = average_members(store, [m.name for m in members], class_names(meta))
    member_rows = [{"name": c["name"], "seed": s, **{k: c[k] for k in ("accuracy_mean", "accuracy_std", "macro_f1_mean",
                                                                      "auc_mean")}} for c, s in zip(cvs, seeds)]
    summary = {"name": f"{exp.name}-ensemble", "experiment": exp.to_dict(), "seeds": seeds, "members": member_rows,
               **scores, "params": cvs[0]["params"], "params_trainable_total": cvs[0]["params"]["trainable"] * len(members),
               "train_seconds_total": float(sum(c["train_seconds_total"] for c in cvs))}
    store.write_json(store.ensemble_path(exp.name), summary)
    return summary


def average_members(store: "ResultsStore | PathLike", names: Sequence[str], classes: Sequence[str],
                    protocol: str = "official") -> dict:
    """Score the average of the stored out-of-fold probabilities of ``names`` (any experiments
    cross-validated the same way, e.g. seeds of one configuration or both architectures), exactly as one
    model is scored: ``folds`` (one row per fold), their mean ± std (:func:`~audiolab.evaluation.cv.fold_stats`)
    and ``pooled``. ``protocol`` is ``"official"`` or ``"development"``."""
    store = ResultsStore.of(store)
    if not names:
        raise ValueError("an ensemble needs at least one stored experiment")
    oofs = [store.load_oof(name, protocol).set_index("filename") for name in names]
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


def run_ablation(base: Experiment, variants: Mapping[str, Mapping], seeds: Sequence[int], meta: pd.DataFrame,
                 features: Callable[[FeatureConfig], torch.Tensor], store: "ResultsStore | PathLike") -> pd.DataFrame:
    """Development-fold cross-validation of ``base`` and of each variant, once per seed (stored runs named
    ``<base.name>[-<variant>][-seed<s>]``, the missing ones trained together); returns :func:`ablation_table`.
    ``features(config)`` gives the features of a front-end (a variant may change it)."""
    members = {label: seed_members(base if label == "recipe" else base.replace(overrides, name=f"{base.name}-{label}"),
                                   seeds)
               for label, overrides in {"recipe": {}, **variants}.items()}
    runs = iter(cross_validate([e for group in members.values() for e in group], meta, features, store, "development"))
    return ablation_table({label: [next(runs) for _ in group] for label, group in members.items()})


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


COMPARISON_COLUMNS = ["name", "arch", "heads", "folds", "cv_accuracy_mean", "cv_accuracy_std", "cv_macro_f1_mean",
                      "cv_macro_f1_std", "cv_auc_mean", "cv_auc_std", "test_accuracy", "test_macro_f1", "test_auc",
                      "params_trainable", "params_non_trainable", "buffers", "train_seconds_total",
                      "seconds_per_epoch", "accuracy"]


def comparison_table(store: "ResultsStore | PathLike", names: Sequence[str]) -> pd.DataFrame:
    """One row per experiment of ``names`` (each with an official cross-validation): CV mean ± std, test fold, sizes,
    times. Columns: :data:`COMPARISON_COLUMNS` (``heads`` for Architecture 2 only; ``test_*``: the scores of the
    cross-validation's test fold, i.e. of the held-out model, when it was run; ``accuracy`` as ``"91.2 ± 2.3 %"``)."""
    store = ResultsStore.of(store)
    rows = []
    for name in names:
        s = store.load_summary(name)
        test = store.load_fold(name, TEST_FOLD)["metrics"] if TEST_FOLD in [r["fold"] for r in s["folds"]] else {}
        params = s.get("params", {})
        rows.append({"name": name, "arch": s["experiment"]["arch"], "heads": s["experiment"]["model"].get("heads"),
                     "folds": len(s["folds"]),
                     **{f"cv_{m}_{stat}": s[f"{m}_{stat}"] for m in ("accuracy", "macro_f1", "auc") for stat in ("mean", "std")},
                     "test_accuracy": test.get("accuracy"), "test_macro_f1": test.get("macro_f1"),
                     "test_auc": test.get("auc_macro_ovr"), "params_trainable": params.get("trainable"),
                     "params_non_trainable": params.get("non_trainable"), "buffers": params.get("buffers"),
                     "train_seconds_total": s.get("train_seconds_total"), "seconds_per_epoch": s.get("seconds_per_epoch"),
                     "accuracy": f"{s['accuracy_mean'] * 100:.1f} ± {s['accuracy_std'] * 100:.1f} %"})
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS).astype({"heads": "Int64", "folds": "Int64"})
