"""audiolab.evaluation.selection: ranking trials, the one-standard-error rule, choices on the development folds
and the guard that keeps the test fold out of every choice."""
import pandas as pd
import pytest

from audiolab.evaluation.search import (TestFoldError, best_experiment, choose_by_development, chosen_trial,
                                           describe_choice, ranked, validation_se)
from audiolab.experiment import Experiment
from audiolab.models import ConvConfig

ARCH1 = Experiment("arch1", ConvConfig(channels=(8, 8, 8), kernel_size=3, stride=1))


def _trials(**columns) -> pd.DataFrame:
    table = pd.DataFrame({"trial": [0, 1, 2, 3], "train.lr": [3e-3, 1e-3, 3e-4, 1e-2],
                          "val_accuracy": [0.875, 0.88125, 0.8625, 0.80], "val_macro_f1": [0.87, 0.88, 0.85, 0.80],
                          "val_auc": [0.98] * 4, "val_clips": [160] * 4,
                          "val_folds": ["3,4"] * 4, "test_fold": [5] * 4,
                          "params_trainable": [300_000, 900_000, 100_000, 50_000], "seconds": [1.0] * 4,
                          "key": ["a", "b", "c", "d"]})
    return table.assign(**columns)


def test_ranked_by_accuracy_then_macro_f1_then_trial():
    table = _trials(val_accuracy=[0.9, 0.9, 0.9, 0.8], val_macro_f1=[0.8, 0.9, 0.8, 0.9])
    assert list(ranked(table)["trial"]) == [1, 0, 2, 3]


def test_validation_se_is_the_best_trials_binomial_error():
    assert validation_se(_trials()) == pytest.approx((0.88125 * (1 - 0.88125) / 160) ** 0.5)


def test_one_standard_error_rule_takes_the_smallest_model_close_to_the_best():
    table = _trials()  # se 2.6 points: trials 0, 1 and 2 are within it, trial 3 is not
    assert ranked(table).iloc[0]["trial"] == 1  # the highest validation accuracy ...
    assert chosen_trial(table)["trial"] == 2  # ... but 100k parameters, 0.8625 >= 0.88125 - 0.0256
    assert chosen_trial(_trials(val_clips=[4000] * 4))["trial"] == 1  # a tight error: only the best is within it


def test_best_experiment_applies_the_chosen_values():
    table = _trials()
    assert best_experiment(ARCH1, table).train.lr == 3e-4 and best_experiment(ARCH1, table).name == "arch1-best"
    assert best_experiment(ARCH1, table, name="x").name == "x"


def test_best_experiment_reads_a_trials_csv_back(tmp_path):
    table = _trials(**{"model.channels": [(8, 8, 8), (16, 16), (4, 4, 4), (8,)], "model.kernel_size": [3, 5, 7, 3]})
    table.to_csv(tmp_path / "trials.csv", index=False)
    best = best_experiment(ARCH1, pd.read_csv(tmp_path / "trials.csv"))
    assert best.model.channels == (4, 4, 4) and best.model.kernel_size == 7 and best.train.lr == 3e-4


def test_integers_stored_as_floats_come_back_as_integers():
    table = _trials(**{"train.batch_size": [16.0, 32.0, 64.0, 8.0]})
    best = best_experiment(ARCH1, table)
    assert best.train.batch_size == 64 and isinstance(best.train.batch_size, int)


def test_describe_choice_names_both_trials_the_rule_and_the_change():
    text = describe_choice(ARCH1, _trials(), {"train.lr": [3e-4, 1e-3]})
    assert "**trial 1**" in text and "**trial 2**" in text and "one-standard-error" in text
    assert "`train.lr` 0.003 → 0.0003" in text


def test_describe_choice_says_when_it_is_the_start():
    text = describe_choice(ARCH1, _trials(val_accuracy=[0.9, 0.8, 0.8, 0.8]), {"train.lr": [3e-3]})
    assert "the same trial" in text and "starting configuration itself" in text


@pytest.mark.parametrize("table, message", [
    (_trials().drop(columns="val_clips"), "rerun search"),
    (_trials().iloc[:0], "run search"),
])
def test_choosing_a_trial_explains_bad_input(table, message):
    with pytest.raises(ValueError, match=message):
        chosen_trial(table)


# --------------------------------------------------------------------------- the test-fold guard


def _dev(name, accs, protocol="dev-cv", folds=(1, 2, 3, 4)):
    """A cross-validation summary as run_dev_cv (or run_cv) writes it, with one accuracy per fold."""
    return {"name": name, "protocol": protocol, "test_fold": 5, "accuracy_mean": sum(accs) / len(accs),
            "folds": [{"fold": f, "accuracy": a} for f, a in zip(folds, accs)]}


@pytest.mark.parametrize("columns, message", [
    ({"val_folds": ["4,5"] * 4}, "scored on the test fold 5"),
    ({"val_folds": ["3,4"] * 4, "test_fold": [4] * 4}, "scored on the test fold 4"),
])
def test_a_trial_scored_on_the_test_fold_is_refused(columns, message):
    with pytest.raises(TestFoldError, match=message):
        chosen_trial(_trials(**columns))
    with pytest.raises(TestFoldError):
        best_experiment(ARCH1, _trials(**columns))


@pytest.mark.parametrize("missing", ["val_folds", "test_fold"])
def test_a_trials_table_that_does_not_say_its_folds_is_refused(missing):
    with pytest.raises(TestFoldError, match="does not say which folds"):
        chosen_trial(_trials().drop(columns=missing))


def test_an_official_cross_validation_cannot_choose():
    official = _dev("a", [0.9] * 5, protocol="cv", folds=(1, 2, 3, 4, 5))
    with pytest.raises(TestFoldError, match="development"):
        choose_by_development({"a": [official], "b": [_dev("b", [0.8] * 4)]})
    with pytest.raises(TestFoldError):  # an official run of folds 1-4 only is still not a development run
        choose_by_development({"a": [_dev("a", [0.9] * 4, protocol="cv")]})


def test_a_development_summary_that_scored_the_test_fold_is_refused():
    leaked = _dev("a", [0.9, 0.9, 0.9, 0.9], folds=(1, 2, 3, 5))
    with pytest.raises(TestFoldError, match="test fold 5"):
        choose_by_development({"a": [_dev("a0", [0.5] * 4), leaked]})


def test_the_highest_seed_mean_is_chosen():
    label, table = choose_by_development({
        1: [_dev("h1-s0", [0.9] * 4), _dev("h1-s1", [0.7] * 4)],  # best single seed, mean 0.80
        2: [_dev("h2-s0", [0.85] * 4), _dev("h2-s1", [0.81] * 4)],  # mean 0.83
    })
    assert label == 2
    assert table.loc[2, "dev_accuracy_mean"] == pytest.approx(0.83) and table.loc[1, "dev_accuracy_max"] == 0.9
    assert list(table.index) == [1, 2] and list(table["seeds"]) == [2, 2]


def test_ties_go_to_the_first_candidate():
    tie = {"b": [_dev("b", [0.8] * 4)], "a": [_dev("a", [0.8] * 4)]}
    assert choose_by_development(tie)[0] == "b"
    assert choose_by_development(dict(reversed(tie.items())))[0] == "a"


def test_a_candidate_without_results_is_refused():
    with pytest.raises(ValueError, match="no results"):
        choose_by_development({"a": []})
