"""benchmarks/recipe_ablation.py: variants of the recipe, paired with it seed by seed, never training on or
scoring fold 5."""
import json
import statistics

import pytest
import torch

from audiolab import configs

import _bench


@pytest.fixture(scope="module")
def ablation():
    return _bench.load("recipe_ablation")


def test_each_variant_changes_what_its_name_says(ablation):
    base = configs.arch1()
    assert ablation.variant(base, "recipe", 3).train.seed == 3
    assert ablation.variant(base, "recipe", 3).model == base.model
    assert base.augment.random_eq and not ablation.variant(base, "no-random-eq", 0).augment.random_eq
    assert ablation.variant(base, "no-floor", 0).features.floor_db is None
    fine = ablation.variant(base, "hop-512", 0)  # time masks keep their width in seconds
    assert base.features.hop_length == 1024 and base.augment.time_mask_width == 10
    assert (fine.features.hop_length, fine.augment.time_mask_width) == (512, 20)
    assert fine.features.n_mels == base.features.n_mels and fine.model == base.model
    assert ablation.variant(base, "no-test-shifts", 0).train.tta_shifts == 1
    assert ablation.variant(configs.arch2(2), "dropout-0.1", 0).model.dropout == 0.1
    assert ablation.variant(base, "mels-128", 0).features.n_mels == 128 != base.features.n_mels
    assert ablation.variant(configs.arch2(2), "dmodel-128", 0).model.d_model == 128 != configs.arch2(2).model.d_model
    with pytest.raises(SystemExit, match="unknown variant 'no-such'"):
        ablation.variant(base, "no-such", 0)


def test_the_ingredients_the_recipe_lacks_are_variants(ablation):
    base = configs.arch1()
    assert ablation.variant(base, "time-stretch", 0).augment.time_stretch == 1.25
    assert ablation.variant(base, "mel-shift", 0).augment.mel_shift == 2
    bc = ablation.variant(base, "between-class", 0).augment
    assert bc.between_class and not bc.mixup  # instead of mixup, not on top of it
    assert ablation.variant(base, "copies-2", 0).train.copies == 2
    assert ablation.variant(base, "batch-16", 0).train.batch_size == 16
    assert ablation.variant(base, "copies-3+batch-8", 0).train.copies == 3
    assert ablation.variant(base, "crop-54", 0).augment.crop_frames == 54


def test_variants_combine_with_plus(ablation):
    base = configs.arch1()
    both = ablation.variant(base, "kernel-3+channels-64-128-128-256", 1)
    assert both.model.kernel_size == 3
    assert both.model.channels == (64, 128, 128, 256)
    assert both.name == "kernel-3+channels-64-128-128-256-seed1" and both.train.seed == 1
    assert ablation.variant(base, "channels-8-8-8-8", 0).model.kernel_size == base.model.kernel_size
    assert not ablation.variant(base, "kernel-3+no-mixup", 0).augment.mixup
    assert ablation.variant(base, "stride-1-2-2-2", 0).model.stride == (1, 2, 2, 2)
    assert ablation.variant(base, "stride-1", 0).model.stride == 1
    assert ablation.variant(base, "time-mask-5", 0).augment.time_mask_width == 5
    for bad in ("kernel-3+no-such", "kernel-x", "channels-8-x", "stride-2-x", "hop-big", "time-mask-x"):
        with pytest.raises(SystemExit, match="unknown variant"):
            ablation.variant(base, bad, 0)


def test_paired_difference_is_per_seed(ablation):
    results = {("recipe", 0): [0.8, 0.9], ("recipe", 1): [0.7, 0.7], ("no-x", 0): [0.9, 0.9], ("no-x", 1): [0.7, 0.8]}
    rows = {r["variant"]: r for r in ablation.ablation_table(results)}
    assert rows["recipe"]["difference"] is None and rows["recipe"]["accuracy"] == pytest.approx(77.5)
    # seed 0: 90 - 85 = +5; seed 1: 75 - 70 = +5
    assert rows["no-x"]["difference"] == pytest.approx(5.0)
    assert rows["no-x"]["difference_std"] == pytest.approx(0.0)
    assert rows["no-x"]["accuracy"] == pytest.approx(statistics.mean([90.0, 75.0]))
    assert rows["no-x"]["low"] == pytest.approx(5.0) == rows["no-x"]["high"]  # no spread, no width


def test_interval_and_cost_of_a_variant(ablation):
    results = {("recipe", s): [0.8] for s in range(3)}
    results.update({("x", 0): [0.81], ("x", 1): [0.83], ("x", 2): [0.82]})  # +1, +3, +2 points
    seconds = {("recipe", s): 10.0 for s in range(3)} | {("x", s): 15.0 for s in range(3)}
    row = {r["variant"]: r for r in ablation.ablation_table(results, seconds)}["x"]
    half = 4.302653 * 1.0 / 3 ** 0.5  # t(0.975, 2 degrees of freedom) x std / sqrt(3)
    assert row["difference"] == pytest.approx(2.0) and row["low"] == pytest.approx(2.0 - half, rel=1e-5)
    assert row["high"] == pytest.approx(2.0 + half, rel=1e-5) and row["cost"] == pytest.approx(1.5)


def test_runs_folds_1_to_4_and_resumes(ablation, synthetic_esc10, tmp_path, capsys):
    argv = ["--variants", "no-mixup", "--seeds", "0", "--epochs", "1", "--device", "cpu",
            "--root", str(synthetic_esc10), "--out", str(tmp_path)]
    results = ablation.main(argv)
    assert set(results) == {("recipe", 0), ("no-mixup", 0)}
    stored = tmp_path / "arch1" / "no-mixup-seed0" / "dev-cv"  # development cross-validation
    assert sorted(p.name for p in stored.glob("fold*.json")) == [f"fold{k}.json" for k in (1, 2, 3, 4)]
    summary = json.loads((stored / "summary.json").read_text())
    assert [row["fold"] for row in summary["folds"]] == [1, 2, 3, 4]  # fold 5 is never scored
    assert summary["protocol"] == "dev-cv" and summary["test_fold"] == 5
    fold = json.loads((stored / "fold1.json").read_text())
    assert fold["n_train"] == 30  # folds 2-4 of the synthetic tree: fold 5 is never trained on either
    assert summary["experiment"]["augment"]["mixup"] is False
    assert "vs recipe (paired)" in capsys.readouterr().out

    before = {p: p.read_bytes() for p in stored.glob("fold*.json")}  # a retrained fold differs in its seconds
    assert ablation.main(argv) == results  # stored runs are loaded, not retrained
    assert {p: p.read_bytes() for p in stored.glob("fold*.json")} == before


def test_distill_teaches_each_fold_from_its_training_folds_only(ablation, synthetic_esc10, tmp_path, monkeypatch, capsys):
    from audiolab.data import load_metadata

    folds = load_metadata(synthetic_esc10, strict=False)["fold"].to_numpy()
    seen = []

    def spy(models, x, y, train_idx, eval_idx, configs, augment, description, targets=None):
        seen.append((description, {int(f) for i in train_idx for f in folds[i]}, targets))
        return fit_cohort(models, x, y, train_idx, eval_idx, configs, augment, description=description, targets=targets)

    fit_cohort = ablation.fit_cohort
    monkeypatch.setattr(ablation, "fit_cohort", spy)
    argv = ["--variants", "distill", "--seeds", "0,1", "--epochs", "1", "--device", "cpu", "--set", "train.copies=1",
            "--root", str(synthetic_esc10), "--out", str(tmp_path)]
    results = ablation.main(argv)
    assert set(results) == {(role, s) for role in ("recipe", "distill") for s in (0, 1)}
    assert all(len(accs) == 4 for accs in results.values())  # folds 1-4 scored
    assert [d for d, _, _ in seen] == [f"fold {k}: {r}" for k in (1, 2, 3, 4) for r in ("recipe", "distill")]
    for k, (description, trained, targets) in zip((1, 1, 2, 2, 3, 3, 4, 4), seen):
        assert trained == {1, 2, 3, 4} - {k}  # never the held fold, never fold 5
        assert (targets is None) == description.endswith("recipe")  # students learn the teachers' targets
        if targets is not None:
            assert targets.shape[0] == 2 and torch.allclose(targets.sum(-1), torch.ones(()))
    assert "distill" in capsys.readouterr().out
    assert ablation.main(argv) == results and len(seen) == 8  # stored folds are read back, not retrained
    with pytest.raises(SystemExit, match="on its own"):
        ablation.main(["--variants", "distill,no-mixup", "--root", str(synthetic_esc10), "--out", str(tmp_path)])
