"""audiolab.evaluation.compare: the comparison table of the named experiments, read back from the store."""
import json

import pandas as pd
import pytest

from audiolab._util import write_json
from audiolab.data import load_features
from audiolab.evaluation import comparison_table, cross_validate
from audiolab.evaluation.compare import COMPARISON_COLUMNS

from _tiny import ARCH1, ARCH2, FC


@pytest.fixture(scope="module")
def results(synthetic_esc10, tmp_path_factory):
    """Two experiments cross-validated on two folds, Architecture 2 also on the test fold (its held-out score)."""
    from audiolab.data import load_metadata

    meta = load_metadata(synthetic_esc10, strict=False)
    features = load_features(meta, FC)
    root = tmp_path_factory.mktemp("results")
    cross_validate(ARCH1, meta, features, root, folds=(1, 2))
    cross_validate(ARCH2, meta, features, root, folds=(1, 2, 5))
    return root


def test_one_row_per_experiment_with_every_column(results):
    table = comparison_table(results, ["arch1", "arch2"])
    assert list(table["name"]) == ["arch1", "arch2"] and list(table.columns) == COMPARISON_COLUMNS
    for column in ["arch", "heads", "cv_accuracy_mean", "cv_accuracy_std", "cv_macro_f1_mean", "cv_macro_f1_std",
                   "cv_auc_mean", "cv_auc_std", "test_accuracy", "test_macro_f1", "test_auc", "params_trainable",
                   "params_non_trainable", "buffers", "train_seconds_total", "seconds_per_epoch", "accuracy"]:
        assert column in table.columns
    assert list(table["folds"]) == [2, 3] and list(table["arch"]) == ["conv1d", "transformer"]


def test_heads_and_test_scores_only_where_they_exist(results):
    arch1, arch2 = comparison_table(results, ["arch1", "arch2"]).iloc[0], comparison_table(results, ["arch1", "arch2"]).iloc[1]
    assert pd.isna(arch1["heads"]) and arch2["heads"] == 2
    assert pd.isna(arch1["test_accuracy"]) and 0.0 <= arch2["test_accuracy"] <= 1.0
    # the test columns are the cross-validation's test fold (fold 5), whose model is the held-out model
    fold5 = json.loads((results / "arch2" / "cv" / "fold5.json").read_text())["metrics"]
    assert (arch2["test_accuracy"], arch2["test_auc"]) == (fold5["accuracy"], fold5["auc_macro_ovr"])
    assert arch1["params_trainable"] < arch2["params_trainable"]


def test_accuracy_is_written_as_mean_plus_minus_std(results):
    row = comparison_table(results, ["arch1", "arch2"]).iloc[0]
    assert row["accuracy"] == f"{row['cv_accuracy_mean'] * 100:.1f} ± {row['cv_accuracy_std'] * 100:.1f} %"


def test_the_table_is_pure_and_its_json_has_nulls_for_missing_values(results, tmp_path):
    before = sorted(p for p in results.rglob("*"))
    table = comparison_table(results, ["arch1", "arch2"])
    assert sorted(p for p in results.rglob("*")) == before  # it writes nothing
    write_json(tmp_path / "comparison.json", table)  # as notebook 03 stores it
    stored = json.loads((tmp_path / "comparison.json").read_text())
    assert stored[1]["name"] == "arch2" and stored[0]["heads"] is None and stored[0]["test_accuracy"] is None
    assert stored[1]["heads"] == 2 and stored[0]["folds"] == 2


def test_names_choose_and_order_the_rows(results):
    assert list(comparison_table(results, ["arch2", "arch1"])["name"]) == ["arch2", "arch1"]
    with pytest.raises(FileNotFoundError, match="cross_validate"):
        comparison_table(results, ["nothing"])


def test_no_names_give_an_empty_table(tmp_path):
    table = comparison_table(tmp_path / "none", [])
    assert table.empty and list(table.columns) == COMPARISON_COLUMNS and not (tmp_path / "none").exists()
