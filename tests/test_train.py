import dataclasses
import platform
import subprocess
import sys

import numpy as np
import pytest
import torch

from audiolab.augment import AugmentConfig
from audiolab.models import ConvConfig, build_model
from audiolab.train import TrainConfig, clip_grad_norms_, fit, fit_cohort, predict_proba, select_device

NO_AUG = AugmentConfig.none()


def toy_data(n=60, n_mels=8, frames=24, classes=3, seed=0):
    """Each class lights up its own band of mel channels: separable, but only if the model learns."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    x = torch.randn(n, n_mels, frames, generator=g)
    for c in range(classes):
        x[y == c, c * 2 : c * 2 + 2] += 3.0
    return x, y


def small_model(seed=0):
    torch.manual_seed(seed)
    return build_model(ConvConfig(channels=[8, 8, 8], kernel_size=3, stride=1), 8, 3)


def test_learns_a_separable_problem():
    x, y = toy_data()
    xv, yv = toy_data(seed=1)
    result = fit(small_model(), x, y, xv, yv, TrainConfig(epochs=15, batch_size=16, lr=1e-2), augment=NO_AUG)
    assert result.history[-1]["val_acc"] >= 0.9
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    probs = predict_proba(result.model, xv, result.normalizer)
    assert probs.shape == (60, 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    # the returned model is the last epoch's: it scores what the last history row says
    assert (probs.argmax(1) == yv.numpy()).mean() == pytest.approx(result.history[-1]["val_acc"])


def test_learns_with_the_kits_augmentations_too():
    x, y = toy_data()
    result = fit(small_model(), x, y, x, y, TrainConfig(epochs=15, batch_size=16, lr=1e-2))
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_same_seed_same_numbers():
    x, y = toy_data()
    cfg = TrainConfig(epochs=3, batch_size=16, seed=7)
    a = fit(small_model(), x, y, config=cfg)
    b = fit(small_model(), x, y, config=cfg)
    assert [r["train_loss"] for r in a.history] == [r["train_loss"] for r in b.history]
    c = fit(small_model(), x, y, config=dataclasses.replace(cfg, seed=8))
    assert [r["train_loss"] for r in a.history] != [r["train_loss"] for r in c.history]


def test_history_and_callback():
    x, y = toy_data()
    rows = []
    result = fit(small_model(), x, y, x, y, TrainConfig(epochs=4, batch_size=16), on_epoch=rows.append)
    assert rows == result.history and [r["epoch"] for r in rows] == [1, 2, 3, 4]
    assert {"lr", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"} <= set(rows[0])
    assert len(result.history) == 4  # the last epoch's model is the result
    assert result.seconds > 0 and result.device.split(":")[0] in {"cpu", "cuda", "mps"}


def test_eval_name_names_the_scored_clips():
    x, y = toy_data()
    result = fit(small_model(), x, y, x, y, TrainConfig(epochs=1, batch_size=16), eval_name="test")
    assert {"test_loss", "test_acc"} <= set(result.history[0]) and "val_acc" not in result.history[0]
    alone = fit(small_model(), x, y, config=TrainConfig(epochs=1, batch_size=16))
    assert not any(k.startswith(("val_", "test_")) for k in alone.history[0])  # nothing to score, nothing scored


def test_lr_schedule_warms_up_and_decays():
    x, y = toy_data()
    result = fit(small_model(), x, y, config=TrainConfig(epochs=10, warmup_epochs=3, lr=1e-2))
    lrs = [r["lr"] for r in result.history]
    assert lrs[0] < lrs[2] and lrs[2] == pytest.approx(1e-2, rel=0.05) and lrs[-1] < 1e-3


def test_test_time_shifts_average_rolled_clips():
    x, y = toy_data()
    result = fit(small_model(), x, y, config=TrainConfig(epochs=1, batch_size=16))
    rolled = [predict_proba(result.model, torch.roll(x, s * 6, dims=-1), result.normalizer) for s in range(4)]
    averaged = predict_proba(result.model, x, result.normalizer, shifts=4)
    np.testing.assert_allclose(averaged, np.mean(rolled, 0), atol=1e-6)


def test_mismatched_inputs_and_bad_config():
    x, y = toy_data()
    with pytest.raises(ValueError, match="labels"):
        fit(small_model(), x, y[:-1], config=TrainConfig(epochs=1))
    with pytest.raises(ValueError, match="lr"):
        TrainConfig(lr=0)
    with pytest.raises(ValueError, match="epochs, batch_size and copies"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="tta_shifts"):
        TrainConfig(tta_shifts=0)


def test_removed_options_are_gone():
    with pytest.raises(TypeError):
        TrainConfig(early_stopping=3)
    with pytest.raises(TypeError):
        TrainConfig(augment=NO_AUG)  # augmentation is its own config, passed to fit beside it


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in {"cpu", "cuda", "mps"}


def _three_models(dropout=0.0, seeds=(1, 2, 3)):
    out = []
    for seed in seeds:
        torch.manual_seed(seed)
        out.append(build_model(ConvConfig(channels=[8, 8, 8], kernel_size=3, stride=1, dropout=dropout,
                                          head_dropout=dropout), 8, 3))
    return out


COHORT_SPLITS = ([np.arange(0, 60), np.arange(30, 90), np.r_[0:30, 60:90]],
                 [np.arange(60, 90), np.arange(0, 30), np.arange(30, 60)])


def test_a_cohort_equals_separate_trainings():
    x, y = toy_data(n=90)
    train, scored = COHORT_SPLITS
    recipes = [TrainConfig(epochs=3, batch_size=16, seed=s) for s in (1, 2, 3)]  # the kit's augmentations on
    together = fit_cohort(_three_models(), x, y, train, scored, recipes)
    for k, model in enumerate(_three_models()):
        alone = fit_cohort([model], x, y, [train[k]], [scored[k]], recipes[k])[0]
        for (name, a), b in zip(together[k].model.state_dict().items(), alone.model.state_dict().values()):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=name)  # batch norm's statistics too
        for row_a, row_b in zip(together[k].history, alone.history):
            assert row_a.keys() == row_b.keys()
            np.testing.assert_allclose([row_a[c] for c in ("train_loss", "val_loss", "val_acc")],
                                       [row_b[c] for c in ("train_loss", "val_loss", "val_acc")], rtol=1e-5)
    # a cohort of one is fit
    x_train, y_train = x[train[0]], y[train[0]]
    solo = fit(_three_models()[0], x_train, y_train, x[scored[0]], y[scored[0]], recipes[0])
    torch.testing.assert_close(solo.model.state_dict(), together[0].model.state_dict(), rtol=1e-5, atol=1e-6)


def test_with_dropout_each_model_of_a_cohort_draws_its_own_masks():
    x, y = toy_data(n=90)
    same = [np.arange(60)] * 3
    # three models of the same weights, clips, order and augmentation: only dropout can tell them apart
    recipes = [TrainConfig(epochs=1, batch_size=16, seed=1)] * 3
    results = fit_cohort(_three_models(dropout=0.3, seeds=(1, 1, 1)), x, y, same, None, recipes, NO_AUG)
    weights = [torch.nn.utils.parameters_to_vector(r.model.parameters()) for r in results]
    assert not torch.allclose(weights[0], weights[1]) and not torch.allclose(weights[1], weights[2])
    no_dropout = fit_cohort(_three_models(seeds=(1, 1, 1)), x, y, same, None, recipes, NO_AUG)
    weights = [torch.nn.utils.parameters_to_vector(r.model.parameters()) for r in no_dropout]
    torch.testing.assert_close(weights[0], weights[1])


def test_per_model_gradient_clipping_matches_torchs():
    grads = [torch.randn(3, 4, 5) * 10, torch.randn(3, 7)]
    expected = [g.clone() for g in grads]
    clip_grad_norms_(grads, 1.0)
    for k in range(3):
        mine = [e[k].clone() for e in expected]
        params = [torch.nn.Parameter(torch.zeros_like(m)) for m in mine]
        for p, m in zip(params, mine):
            p.grad = m
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        for p, g in zip(params, grads):
            torch.testing.assert_close(g[k], p.grad)


def test_a_cohort_refuses_what_cannot_train_together():
    x, y = toy_data(n=90)
    train, scored = COHORT_SPLITS
    with pytest.raises(ValueError, match="only the seed may differ"):
        fit_cohort(_three_models(), x, y, train, scored, [TrainConfig(epochs=1, lr=lr) for lr in (1e-3, 1e-3, 1e-2)])
    with pytest.raises(ValueError, match="as many clips"):
        fit_cohort(_three_models(), x, y, [train[0], train[1], train[2][:-1]], scored, TrainConfig(epochs=1))
    with pytest.raises(ValueError, match="one config, one train_idx"):
        fit_cohort(_three_models(), x, y, train[:2], scored, TrainConfig(epochs=1))


def test_copies_put_several_augmented_copies_of_each_clip_in_a_step():
    x, y = toy_data()
    one = fit(small_model(), x, y, x, y, TrainConfig(epochs=2, batch_size=16))
    two = fit(small_model(), x, y, x, y, TrainConfig(epochs=2, batch_size=16, copies=2))
    assert len(two.history) == 2 and two.history[-1]["train_loss"] != one.history[-1]["train_loss"]
    assert np.isfinite(two.history[-1]["val_loss"])


def test_between_class_mixing_trains():
    x, y = toy_data()
    result = fit(small_model(), x, y, x, y, TrainConfig(epochs=15, batch_size=16, lr=1e-2),
                 AugmentConfig(mixup=False, between_class=True, time_stretch=1.25, mel_shift=1))
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.history[-1]["val_acc"] >= 0.8


def test_a_model_trained_on_windows_is_scored_on_evenly_spaced_windows():
    x, y = toy_data()
    result = fit(small_model(), x, y, config=TrainConfig(epochs=1, batch_size=16), augment=AugmentConfig(crop_frames=8))
    xn = result.normalizer(x)  # standardised as in training: the whole clip, then the window
    windows = [predict_proba(result.model, torch.roll(xn, s * 6, dims=-1)[..., :8]) for s in range(4)]
    averaged = predict_proba(result.model, x, result.normalizer, shifts=4, crop=8)
    np.testing.assert_allclose(averaged, np.mean(windows, 0), atol=1e-6)


def test_a_cohort_trains_on_given_targets_each_model_its_own():
    x, y = toy_data(n=90)
    train, scored = COHORT_SPLITS
    recipe = TrainConfig(epochs=2, batch_size=16, seed=1, label_smoothing=0.1)
    labels = torch.nn.functional.one_hot(y, 3).float() * 0.9 + 0.1 / 3  # the targets the labels make
    plain = fit_cohort(_three_models(), x, y, train, scored, recipe)
    same = fit_cohort(_three_models(), x, y, train, scored, recipe, targets=labels.expand(3, -1, -1))
    for a, b in zip(plain, same):
        torch.testing.assert_close(a.model.state_dict(), b.model.state_dict())
    teacher = labels.expand(3, -1, -1).clone()
    teacher[1] = labels.roll(1, dims=-1)  # model 1 learns other targets (a wrong teacher); the others do not
    taught = fit_cohort(_three_models(), x, y, train, scored, recipe, targets=teacher)
    weights = [torch.nn.utils.parameters_to_vector(r.model.parameters()) for r in (*plain, *taught)]
    torch.testing.assert_close(weights[0], weights[3])
    assert not torch.allclose(weights[1], weights[4])
    with pytest.raises(ValueError, match="targets must be"):
        fit_cohort(_three_models(), x, y, train, scored, recipe, targets=labels)


PAGE_FAULTS = """
import resource, sys, torch
from audiolab.train import TrainConfig, fit
if sys.argv[1] == "train":  # a tiny training first, as any process that trains (a notebook's kernel, a worker)
    fit(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 2)), torch.randn(8, 4, 4), [0, 1] * 4,
        config=TrainConfig(epochs=1, tta_shifts=1, device="cpu"))
faults = []
for _ in range(16):  # a tensor of 64 MB made and freed, as every epoch's augmented clips are
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    torch.empty(2**24).fill_(1.0)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(sum(faults[-4:]))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a setting of glibc's malloc")
def test_a_process_that_trains_keeps_the_memory_it_frees():
    """An epoch's large tensors are paged in once per process, not once per epoch (train.keep_freed_memory)."""
    faults = {how: int(subprocess.run([sys.executable, "-c", PAGE_FAULTS, how], capture_output=True, text=True,
                                      check=True).stdout) for how in ("train", "only")}
    assert faults["train"] < 1000 < faults["only"], faults  # glibc's defaults: 4 x 16,384 pages of 4 kB
