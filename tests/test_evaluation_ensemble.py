"""audiolab.evaluation.compare, seed ensembles: a seed ensemble averages its members, each an ordinary stored CV run."""
import numpy as np
import pytest

from audiolab._util import read_json
from audiolab.evaluation import ResultsStore, average_members, cross_validate, run_seed_ensemble, seed_members

from _tiny import ARCH1, CountingFit, features, meta  # noqa: F401 (fixtures)


def test_members_are_the_experiment_and_its_other_seeds():
    a, b = seed_members(ARCH1, [0, 1])
    assert a is ARCH1 and b.name == "arch1-seed1" and b.train.seed == 1
    assert b.replace({"train.seed": 0}).key() == a.key()  # nothing else differs


def test_ensemble_averages_its_members_and_reuses_the_base_run(synthetic_esc10_meta, features, tmp_path, monkeypatch):
    meta = synthetic_esc10_meta
    cross_validate(ARCH1, meta, features, tmp_path)
    fit = CountingFit(monkeypatch)
    ens = run_seed_ensemble(ARCH1, [0, 1, 1], meta, features, tmp_path)
    assert [c["config"].seed for c in fit.calls] == [1] * 5  # seed 0 is ARCH1's own stored run; the repeated seed counts once
    assert ens["seeds"] == [0, 1] and [m["name"] for m in ens["members"]] == ["arch1", "arch1-seed1"]

    store = ResultsStore(tmp_path)
    a, b = (store.load_oof(n).set_index("filename") for n in ("arch1", "arch1-seed1"))
    cols = [c for c in a.columns if c.startswith("prob_")]
    mean = (a[cols] + b.loc[a.index, cols]) / 2
    correct = mean.to_numpy().argmax(1) == a["target"].to_numpy()
    expected = [correct[(a["fold"] == k).to_numpy()].mean() for k in range(1, 6)]
    assert [f["accuracy"] for f in ens["folds"]] == pytest.approx(expected)
    assert ens["params_trainable_total"] == 2 * ens["params"]["trainable"]
    assert read_json(store.ensemble_path("arch1"))["accuracy_mean"] == pytest.approx(np.mean(expected))


def test_any_stored_runs_can_be_averaged_if_they_scored_the_same_clips(synthetic_esc10_meta, features, tmp_path):
    meta, classes = synthetic_esc10_meta, list(synthetic_esc10_meta.attrs["classes"])
    alone = cross_validate(ARCH1, meta, features, tmp_path)
    one = average_members(tmp_path, ["arch1"], classes)  # an ensemble of one is the model itself
    assert [f["accuracy"] for f in one["folds"]] == [f["accuracy"] for f in alone["folds"]]
    assert one["pooled"]["accuracy"] == pytest.approx(alone["pooled"]["accuracy"])
    cross_validate(ARCH1, meta, features, tmp_path, folds=(1, 2))  # rewrites arch1
    other = ARCH1.replace({"train.seed": 1}, name="other")
    cross_validate(other, meta, features, tmp_path)
    with pytest.raises(ValueError, match="same clips"):
        average_members(tmp_path, ["other", "arch1"], classes)
    with pytest.raises(ValueError, match="at least one"):
        average_members(tmp_path, [], classes)


def test_ensemble_needs_two_seeds(synthetic_esc10_meta, features, tmp_path):
    with pytest.raises(ValueError, match="at least two seeds"):
        run_seed_ensemble(ARCH1, [3, 3], synthetic_esc10_meta, features, tmp_path)
    assert not list(tmp_path.glob("*-ensemble"))
