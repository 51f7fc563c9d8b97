"""audiolab.augment: training-time augmentations of log-mel clips, with their random choices given."""
import math

import numpy as np
import pytest
import torch

from audiolab._util import plain
from audiolab.augment import (AugmentConfig, augment, band_mask, between_class, draw, mel_shift, mixup, random_eq,
                              spec_augment, time_shift, time_stretch)


def test_time_shift_rolls_each_clip():
    x = torch.arange(10.0).repeat(3, 2, 1)  # (3, 2, 10)
    shifts = torch.tensor([0, 3, 9])
    out = time_shift(x, shifts)
    for clip, shift in zip(out, shifts.tolist()):
        assert torch.equal(clip, torch.roll(x[0], shifts=shift, dims=1))
    many = time_shift(x.expand(2, 3, 2, 10), torch.stack([shifts, shifts.flip(0)]))  # many models' clips at once
    assert torch.equal(many[0], out) and torch.equal(many[1, 0], out[2])


def test_random_eq_adds_one_smooth_curve_per_clip():
    x = torch.zeros(4, 16, 30)
    coef = torch.from_numpy(np.random.default_rng(0).uniform(-0.5, 0.5, (4, 3)).astype(np.float32))
    out = random_eq(x, coef)
    assert torch.equal(out, out[:, :, :1].expand_as(out))  # the same curve at every time step
    assert not torch.allclose(out[0], out[1])  # each clip its own curve
    assert out.abs().max() <= 3 * 0.5 + 1e-6  # three terms of at most ``strength`` each
    assert out[:, :, 0].diff(dim=1).abs().max() < 0.7  # smooth: at most 0.5 * (1 + pi + 2 pi) * 2/15 per band
    assert torch.equal(random_eq(x, torch.zeros(4, 3)), x)


def test_band_mask_covers_the_bands():
    mask = band_mask(10, torch.tensor([[1, 7], [0, 0]]), torch.tensor([[2, 3], [0, 0]]))
    assert mask[0].nonzero().flatten().tolist() == [1, 2, 7, 8, 9] and not mask[1].any()


def test_spec_augment_masks_bands_with_zero():
    x = torch.ones(2, 4, 6)
    out = spec_augment(x, band_mask(6, torch.tensor([[2], [0]]), torch.tensor([[2], [0]])),
                       band_mask(4, torch.tensor([[0], [3]]), torch.tensor([[0], [1]])))
    assert out[0, :, 2:4].eq(0).all() and out[0].eq(0).sum() == 8
    assert out[1, 3].eq(0).all() and out[1].eq(0).sum() == 6


def test_mixup_blends_inputs_and_targets_alike():
    x = torch.stack([torch.full((2, 3), float(i)) for i in range(6)])
    y = torch.eye(6)
    lam, partner = torch.full((6,), 0.7), torch.tensor([1, 0, 3, 2, 5, 4])
    mx, my = mixup(x, y, lam, partner)
    torch.testing.assert_close(my.sum(1), torch.ones(6))
    torch.testing.assert_close(mx[:, 0, 0], my @ torch.arange(6.0))  # the same convex combination of clip ids
    torch.testing.assert_close(mx[0, 0, 0], torch.tensor(0.3))


def test_draw_gives_every_clip_its_choices_within_bounds():
    choices = draw(AugmentConfig(), 50, 16, 40, np.random.default_rng(0))
    assert set(choices) == {"shift", "eq", "time_start", "time_width", "freq_start", "freq_width", "lam", "partner"}
    assert choices["shift"].max() < 40 and np.abs(choices["eq"]).max() <= 0.5
    assert (choices["time_start"] + choices["time_width"]).max() <= 40 and choices["time_width"].max() <= 10
    assert (choices["lam"] >= 0.5).all() and sorted(choices["partner"]) == list(range(50))
    again = draw(AugmentConfig(), 50, 16, 40, np.random.default_rng(0))
    assert all(np.array_equal(choices[k], again[k]) for k in choices)  # the generator decides everything
    assert draw(AugmentConfig.none(), 50, 16, 40, np.random.default_rng(0)) == {}


def test_augment_config_switches():
    cfg = AugmentConfig(mixup=False)
    assert plain(cfg)["mixup"] is False and cfg.time_shift


def test_augment_config_none_switches_every_augmentation_off():
    off = plain(AugmentConfig.none())
    switches = {k for k, v in plain(AugmentConfig()).items() if isinstance(v, bool)}
    assert switches == {"time_shift", "spec_augment", "mixup", "random_eq", "between_class"}
    assert all(off[k] is False for k in switches)
    assert AugmentConfig.none().time_mask_width == AugmentConfig().time_mask_width  # parameters keep their defaults


def _choices(config, clips=6):
    return {k: torch.from_numpy(v) for k, v in draw(config, clips, 8, 20, np.random.default_rng(0)).items()}


def test_augment_with_nothing_on_changes_nothing():
    x, y = torch.randn(6, 8, 20), torch.eye(6)
    out, soft = augment(x, y, AugmentConfig.none(), _choices(AugmentConfig.none()))
    assert torch.equal(out, x) and torch.equal(soft, y)


@pytest.mark.parametrize("switch", ["time_shift", "random_eq", "spec_augment", "mixup"])
def test_augment_applies_each_switch(switch):
    x, y = torch.randn(6, 8, 20), torch.eye(6)
    config = AugmentConfig(**{**plain(AugmentConfig.none()), switch: True})
    out, soft = augment(x, y, config, _choices(config))
    assert out.shape == x.shape and not torch.equal(out, x)
    assert torch.equal(soft, y) != (switch == "mixup")  # only mixup changes the targets


def test_augment_of_many_models_is_each_models_own():
    config, x, y = AugmentConfig(), torch.randn(3, 6, 8, 20), torch.eye(6).expand(3, 6, 6)
    per_model = [_choices(config) for _ in range(3)]
    per_model[1] = {k: torch.from_numpy(v) for k, v in draw(config, 6, 8, 20, np.random.default_rng(5)).items()}
    stacked = {k: torch.stack([c[k] for c in per_model]) for k in per_model[0]}
    together, soft = augment(x, y, config, stacked)
    for i in range(3):
        alone, alone_soft = augment(x[i], y[i], config, per_model[i])
        torch.testing.assert_close(together[i], alone)
        torch.testing.assert_close(soft[i], alone_soft)


def test_time_stretch_plays_each_clip_faster_or_slower():
    x = torch.arange(12.0).repeat(2, 3, 1)  # (2 clips, 3 bands, 12 frames): frame t holds t
    out = time_stretch(x, torch.tensor([1.0, 2.0]))
    assert torch.equal(out[0], x[0])  # rate 1: unchanged
    assert out[1, 0].tolist() == [0, 2, 4, 6, 8, 10, 0, 2, 4, 6, 8, 10]  # twice as fast, wrapping around
    slow = time_stretch(x[:1], torch.tensor([0.5]))[0, 0]
    assert slow[:4].tolist() == [0, 0.5, 1, 1.5]  # half as fast: interpolated between frames


def test_mel_shift_moves_the_spectrum_and_repeats_the_edge():
    x = torch.arange(5.0).view(1, 5, 1).expand(2, 5, 3)
    out = mel_shift(x, torch.tensor([1, -2]))
    assert out[0, :, 0].tolist() == [0, 0, 1, 2, 3] and out[1, :, 0].tolist() == [2, 3, 4, 4, 4]


def test_between_class_mixes_in_power_at_loudness_aware_ratios():
    quiet, loud = torch.full((1, 4, 6), -20.0), torch.full((1, 4, 6), 20.0)
    x, y = torch.cat([quiet, loud]), torch.eye(2)
    mixed, soft = between_class(x, y, torch.tensor([0.5, 0.5]), torch.tensor([1, 0]))
    torch.testing.assert_close(soft, torch.full((2, 2), 0.5))  # the target: the ratio's blend
    # at ratio 0.5 the quiet clip is weighted up so that both are heard alike: equal power from each
    assert torch.allclose(mixed[0], mixed[1]) and mixed[0].std() == 0
    p = 1 / (1 + 10 ** (-40 / 20))  # the weight of the quiet clip
    expected = 10 * math.log10(p ** 2 * 10 ** -2 + (1 - p) ** 2 * 10 ** 2) - 10 * math.log10(p ** 2 + (1 - p) ** 2)
    assert mixed[0, 0, 0].item() == pytest.approx(expected, rel=1e-5)
    same, _ = between_class(quiet.expand(2, 4, 6), y, torch.tensor([0.3, 0.9]), torch.tensor([1, 0]))
    torch.testing.assert_close(same, quiet.expand(2, 4, 6))  # a clip mixed with its equal is itself


def test_the_ingredients_off_in_the_recipe_draw_nothing_and_on_draw_within_bounds():
    assert not {"stretch", "mel_shift", "ratio"} & set(draw(AugmentConfig(), 8, 16, 40, np.random.default_rng(0)))
    on = draw(AugmentConfig(time_stretch=1.25, mel_shift=2, between_class=True), 500, 16, 40,
              np.random.default_rng(0))
    assert 0.8 <= on["stretch"].min() < 0.85 and 1.2 < on["stretch"].max() <= 1.25
    assert set(on["mel_shift"]) == {-2, -1, 0, 1, 2} and 0 <= on["ratio"].min() and on["ratio"].max() < 1
