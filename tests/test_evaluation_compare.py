"""audiolab.evaluation.compare: two configurations compared over seeds, fold by fold, with a corrected interval."""
import numpy as np
import pandas as pd
import pytest

from audiolab.data import ESC10_CLASSES, load_features, load_metadata
from audiolab.evaluation import (ResultsStore, compare_configurations, held_out_score, per_class_counts, cross_validate,
                                 seed_fold_scores, seed_members)
from audiolab.stats import corrected_resampled_ttest, describe_difference, mcnemar_test, proportion_ci

from _tiny import ARCH1, ARCH2, FC

SEEDS = (0, 1)


@pytest.fixture(scope="module")
def store(synthetic_esc10, tmp_path_factory):
    """Two tiny configurations, two seeds each, official cross-validation on the synthetic ESC-10."""
    meta = load_metadata(synthetic_esc10, strict=False)
    features = load_features(meta, FC)
    store = ResultsStore(tmp_path_factory.mktemp("results"))
    for exp in (ARCH1, ARCH2):
        for member in seed_members(exp, SEEDS):
            cross_validate(member, meta, features, store)
    return store


A, B = ["arch1", "arch1-seed1"], ["arch2", "arch2-seed1"]


def _fold_accuracy(store, name):
    return {r["fold"]: r["accuracy"] for r in store.load_summary(name)["folds"]}


def test_seed_fold_scores_has_a_row_per_fold_and_a_column_per_seed(store):
    table = seed_fold_scores(store, A)
    assert list(table.index) == [1, 2, 3, 4, 5] and list(table.columns) == A
    assert table.loc[3, "arch1-seed1"] == _fold_accuracy(store, "arch1-seed1")[3]


def test_per_fold_seed_means_and_their_difference(store):
    result = compare_configurations(store, A, B, labels=("Arch 1", "Arch 2"))
    per_fold = result["per_fold"]
    assert list(per_fold.columns) == ["Arch 1", "Arch 2", "difference"] and list(per_fold.index) == [1, 2, 3, 4, 5]
    for fold in range(1, 6):
        a = np.mean([_fold_accuracy(store, n)[fold] for n in A])
        b = np.mean([_fold_accuracy(store, n)[fold] for n in B])
        assert (per_fold.loc[fold, "Arch 1"], per_fold.loc[fold, "Arch 2"]) == (pytest.approx(a), pytest.approx(b))
        assert per_fold.loc[fold, "difference"] == pytest.approx(a - b)
    assert result["mean_a"] == pytest.approx(per_fold["Arch 1"].mean())
    assert result["mean_b"] == pytest.approx(per_fold["Arch 2"].mean())


def test_the_interval_is_the_corrected_ttest_of_the_fold_differences(store):
    result = compare_configurations(store, A, B, labels=("Arch 1", "Arch 2"))
    expected = corrected_resampled_ttest(result["per_fold"]["difference"], n_train=40, n_test=10)
    for key in ("mean", "se", "ci_low", "ci_high", "df", "n", "alpha"):
        assert result["test"][key] == pytest.approx(expected[key])
    assert result["test"]["ci_low"] <= result["test"]["mean"] <= result["test"]["ci_high"]
    assert result["text"] == describe_difference(expected, "Arch 1", "Arch 2")


def test_mcnemar_pairs_the_seeds(store):
    pairs = compare_configurations(store, A, B)["mcnemar"]
    assert [(p["a"], p["b"]) for p in pairs] == list(zip(A, B))
    for pair in pairs:
        oa = store.load_oof(pair["a"]).sort_values("filename")
        ob = store.load_oof(pair["b"]).sort_values("filename")
        expected = mcnemar_test(oa["target"], oa["pred"], ob["pred"])
        assert {k: pair[k] for k in expected} == expected and pair["n"] == 50


def test_labels_default_to_the_first_runs_and_two_folds_are_needed(store, tmp_path):
    assert compare_configurations(store, A, B)["labels"] == ("arch1", "arch2")
    lone = ResultsStore(tmp_path)
    for name in ("x", "y"):
        lone.write_json(lone.cv_dir(name) / "summary.json", {"folds": [{"fold": 1, "accuracy": 0.5}]})
    with pytest.raises(ValueError, match="share 1 scored fold"):
        compare_configurations(lone, ["x"], ["y"])


def test_per_class_counts_add_up_to_the_clips(store):
    table = per_class_counts(store, A, ESC10_CLASSES)
    assert list(table.index) == list(ESC10_CLASSES) and table["clips"].sum() == 50
    assert (table["correct"] <= table["clips"]).all()
    pooled = np.mean([(o["pred"] == o["target"]).sum() for o in map(store.load_oof, A)])
    assert table["correct"].sum() == pytest.approx(pooled)  # the mean over seeds of the clips classified right


def test_held_out_score_is_the_test_folds_record(store):
    score = held_out_score(store, "arch2")
    metrics = store.load_fold("arch2", 5)["metrics"]
    assert score["accuracy"] == metrics["accuracy"] and score["n"] == 10 and score["fold"] == 5
    assert score["correct"] == round(10 * metrics["accuracy"])
    assert (score["ci_low"], score["ci_high"]) == proportion_ci(score["correct"], 10)
    assert score["ci_low"] <= score["accuracy"] <= score["ci_high"]
    fold5 = pd.read_csv(store.fold_paths("arch2", 5)[1])
    probs = fold5[[f"prob_{c}" for c in range(10)]].to_numpy()
    assert score["correct"] == int((probs.argmax(axis=1) == fold5["target"]).sum())
