"""audiolab.evaluation.ablation: each ingredient switched off, paired with the recipe seed by seed, on the
development folds only."""
import math

import numpy as np
import pytest

from audiolab import configs
from audiolab.data import load_features
from audiolab.evaluation import ResultsStore, ablation_table, run_ablation

from _tiny import ARCH1, CountingFit, features, meta  # noqa: F401 (fixtures)


def _runs(**accuracies):
    return {label: [{"accuracy_mean": a} for a in accs] for label, accs in accuracies.items()}


def test_the_difference_is_paired_seed_by_seed():
    # seed 0: 85 - 80 = +5 points; seed 1: 91 - 90 = +1: mean +3, sample std 2.83, standard error 2
    table = ablation_table(_runs(recipe=[0.80, 0.90], no_x=[0.85, 0.91])).set_index("variant")
    assert table.loc["recipe", "dev_accuracy"] == pytest.approx(85.0) and np.isnan(table.loc["recipe", "difference"])
    row = table.loc["no_x"]
    assert row["dev_accuracy"] == pytest.approx(88.0) and row["seeds"] == 2
    assert row["difference"] == pytest.approx(3.0) and row["se"] == pytest.approx(2.0)
    half = 12.7062047 * 2.0  # 97.5 % quantile of Student's t with 1 degree of freedom
    assert (row["ci_low"], row["ci_high"]) == (pytest.approx(3.0 - half), pytest.approx(3.0 + half))


def test_a_constant_paired_difference_has_no_spread_however_far_apart_the_seeds_are():
    row = ablation_table(_runs(recipe=[0.70, 0.90, 0.80], no_x=[0.72, 0.92, 0.82])).iloc[1]
    assert row["difference"] == pytest.approx(2.0) and row["se"] == pytest.approx(0.0, abs=1e-9)
    assert row["ci_low"] == pytest.approx(2.0) and row["ci_high"] == pytest.approx(2.0)


def test_one_seed_gives_a_difference_without_an_interval():
    row = ablation_table(_runs(recipe=[0.8], no_x=[0.75])).iloc[1]
    assert row["difference"] == pytest.approx(-5.0) and math.isnan(row["se"]) and math.isnan(row["ci_low"])


def test_run_ablation_stores_development_runs_per_variant_and_seed(meta, features, tmp_path, monkeypatch):
    fit = CountingFit(monkeypatch)
    variants = {"no-mixup": configs.ABLATIONS["no-mixup"]}
    table = run_ablation(ARCH1, variants, [0, 1], meta, lambda fc: load_features(meta, fc), tmp_path)
    store = ResultsStore(tmp_path)
    for name in ("arch1", "arch1-no-mixup", "arch1-no-mixup-seed1", "arch1-seed1"):
        assert store.load_summary(name, "development")["protocol"] == "dev-cv"
    assert not list(tmp_path.glob("*/cv"))  # no official cross-validation: the test fold is never scored
    run = store.load_summary("arch1-no-mixup-seed1", "development")
    assert (tmp_path / "arch1-no-mixup-seed1" / "dev-cv" / "summary.json").is_file()
    assert [f["fold"] for f in run["folds"]] == [1, 2, 3, 4] and run["protocol"] == "dev-cv"
    assert run["experiment"]["augment"]["mixup"] is False and run["experiment"]["train"]["seed"] == 1
    assert len(fit.calls) == 4 * 4 and all(len(c["x_train"]) == 30 for c in fit.calls)

    assert list(table["variant"]) == ["recipe", "no-mixup"] and list(table["seeds"]) == [2, 2]
    recipe = [store.load_summary(n, "development")["accuracy_mean"] for n in ("arch1", "arch1-seed1")]
    variant = [store.load_summary(n, "development")["accuracy_mean"] for n in ("arch1-no-mixup", "arch1-no-mixup-seed1")]
    assert table.iloc[0]["dev_accuracy"] == pytest.approx(100 * np.mean(recipe))
    assert table.iloc[1]["difference"] == pytest.approx(100 * (np.mean(variant) - np.mean(recipe)))

    again = run_ablation(ARCH1, variants, [0, 1], meta, lambda fc: load_features(meta, fc), tmp_path)
    assert len(fit.calls) == 16 and again.equals(table)  # stored runs are reused
