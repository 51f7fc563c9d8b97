"""The evaluation protocol end to end: no choice of the kit looks at the test fold.

The kit chooses three things: the search's trial, the number of attention heads, and the model it
ships. Here each choice is made the way the kit makes it (a search on validation folds 3+4, then
development-fold cross-validation over seeds), on the synthetic ESC-10 with tiny configurations, twice:
once on the real labels and once, in a fresh results store, with the labels of the test fold (5)
shuffled. If any choice, or any score a choice is made from, looked at the test fold, the two runs
would differ.
"""
import numpy as np

from audiolab.data import TEST_FOLD
from audiolab.evaluation import best_experiment, choose_by_development, chosen_trial, cross_validate, search, seed_members

from _tiny import ARCH1, ARCH2, features, meta  # noqa: F401 (fixtures)

SEEDS = (0, 1)
SPACE = {"train.lr": [3e-3, 1e-2], "model.kernel_size": [3, 5]}  # three trials drawn: the base and two others
HEADS = (1, 2)


def _numbers(summary: dict) -> dict:
    """What a choice reads from a development run: per-fold scores, their means, the pooled scores (not the
    seconds it took)."""
    folds = [{k: v for k, v in row.items() if k != "train_seconds"} for row in summary["folds"]]
    return {"folds": folds, "accuracy_mean": summary["accuracy_mean"], "pooled": summary["pooled"],
            "key": summary["key"]}


def kit_choices(meta, features, store) -> dict:
    """The kit's three choices, and every score behind them."""
    trials = search(ARCH1, SPACE, meta, features, store, n_trials=3)
    arch1 = best_experiment(ARCH1, trials, name="arch1-best")

    def dev(exp):
        return cross_validate(seed_members(exp, SEEDS), meta, features, store, "development")

    by_heads = {h: dev(ARCH2.replace({"model.heads": h}, name=f"arch2-heads{h}")) for h in HEADS}
    heads, _ = choose_by_development(by_heads)
    finalists = {"arch1": dev(arch1), "arch2": by_heads[heads]}
    shipped, _ = choose_by_development(finalists)
    runs = [s for summaries in [*by_heads.values(), finalists["arch1"]] for s in summaries]
    return {
        "trial": chosen_trial(trials)["key"],
        "trials": trials.drop(columns="seconds").to_dict("records"),
        "heads": heads,
        "shipped": shipped,
        "development": {s["name"]: _numbers(s) for s in runs},
    }


def _shuffle_test_labels(meta, seed: int = 0):
    """A copy of ``meta`` whose test-fold rows have their labels permuted (nothing else changes)."""
    shuffled = meta.copy()
    rows = np.flatnonzero(meta["fold"].to_numpy() == TEST_FOLD)
    order = np.random.default_rng(seed).permutation(rows)
    for column in ("target", "category"):
        shuffled.iloc[rows, shuffled.columns.get_loc(column)] = meta[column].to_numpy()[order]
    return shuffled


def test_shuffling_the_test_folds_labels_changes_no_choice(meta, features, tmp_path):
    shuffled = _shuffle_test_labels(meta)
    test = meta["fold"].to_numpy() == TEST_FOLD
    moved = shuffled["target"].to_numpy()[test] != meta["target"].to_numpy()[test]
    assert moved.sum() >= test.sum() // 2, "the permutation must really change the test fold's labels"
    assert shuffled[~test].equals(meta[~test]) and sorted(shuffled["target"][test]) == sorted(meta["target"][test])

    real = kit_choices(meta, features, tmp_path / "real")
    blind = kit_choices(shuffled, features, tmp_path / "shuffled")  # a fresh store: nothing is reused

    assert blind["trial"] == real["trial"]
    assert blind["heads"] == real["heads"]
    assert blind["shipped"] == real["shipped"]
    assert blind["trials"] == real["trials"]  # every search score, not only the winner
    assert set(blind["development"]) == set(real["development"]) and len(real["development"]) == 3 * len(SEEDS)
    for name, numbers in real["development"].items():
        assert blind["development"][name] == numbers, f"{name}: a development score moved with the test-fold labels"
        assert [f["fold"] for f in numbers["folds"]] == [1, 2, 3, 4]

