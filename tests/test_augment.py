"""audiolab.augment: training-time augmentations of log-mel batches."""
import pytest
import torch

from audiolab._util import plain
from audiolab.augment import AugmentConfig, augment_batch, mixup, random_eq, spec_augment, time_shift


def test_time_shift_rolls_each_clip():
    x = torch.arange(10.0).repeat(3, 2, 1)  # (3, 2, 10)
    out = time_shift(x, torch.Generator().manual_seed(0))
    for clip in out:
        shift = int(-clip[0, 0]) % 10
        assert torch.equal(clip, torch.roll(x[0], shifts=shift, dims=1))
        assert sorted(clip[0].tolist()) == list(range(10))  # nothing lost, only moved
        assert torch.equal(clip[0], clip[1])  # the same shift for every mel band


def test_random_eq_adds_one_smooth_curve_per_clip():
    x = torch.zeros(4, 16, 30)
    out = random_eq(x, strength=0.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, out[:, :, :1].expand_as(out))  # the same curve at every time step
    assert not torch.allclose(out[0], out[1])  # each clip its own curve
    assert out.abs().max() <= 3 * 0.5 + 1e-6  # three terms of at most ``strength`` each
    assert out[:, :, 0].diff(dim=1).abs().max() < 0.5  # smooth across neighbouring bands
    assert torch.equal(random_eq(x, strength=0.0), x)


def test_spec_augment_masks_bands_with_zero():
    x = torch.ones(4, 16, 40)
    out = spec_augment(x, time_masks=1, time_mask_width=10, freq_masks=1, freq_mask_width=4,
                       generator=torch.Generator().manual_seed(1))
    assert out.shape == x.shape
    assert set(out.unique().tolist()) <= {0.0, 1.0}
    zero_cols = (out == 0).all(dim=1)  # time steps masked in every band
    assert 0 < zero_cols.sum() <= 4 * 10
    off = spec_augment(x, 0, 0, 0, 0)
    assert torch.equal(off, x)


def test_mixup_blends_inputs_and_targets_alike():
    torch.manual_seed(0)
    x = torch.stack([torch.full((2, 3), float(i)) for i in range(6)])
    y = torch.eye(6)
    mx, my = mixup(x, y, alpha=0.4)
    torch.testing.assert_close(my.sum(1), torch.ones(6))
    assert (my.max(1).values >= 0.5).all()  # the first clip dominates
    # every mixed input is the same convex combination of clip ids as its target
    torch.testing.assert_close(mx[:, 0, 0], my @ torch.arange(6.0))
    same_x, same_y = mixup(x, y, alpha=0)
    assert same_x is x and same_y is y


def test_augment_config_switches():
    cfg = AugmentConfig(mixup=False)
    assert plain(cfg)["mixup"] is False and cfg.time_shift


def test_augment_config_none_switches_every_augmentation_off():
    off = plain(AugmentConfig.none())
    switches = {k for k, v in plain(AugmentConfig()).items() if isinstance(v, bool)}
    assert switches == {"time_shift", "spec_augment", "mixup", "random_eq"}
    assert all(off[k] is False for k in switches)
    assert AugmentConfig.none().time_mask_width == AugmentConfig().time_mask_width  # parameters keep their defaults


def test_augment_batch_with_nothing_on_changes_nothing():
    x, y = torch.randn(6, 8, 20), torch.eye(6)
    out, soft = augment_batch(x, y, AugmentConfig.none(), torch.Generator().manual_seed(0))
    assert torch.equal(out, x) and torch.equal(soft, y)


@pytest.mark.parametrize("switch", ["time_shift", "random_eq", "spec_augment", "mixup"])
def test_augment_batch_applies_each_switch(switch):
    torch.manual_seed(0)
    x, y = torch.randn(6, 8, 20), torch.eye(6)
    config = AugmentConfig(**{**plain(AugmentConfig.none()), switch: True})
    out, soft = augment_batch(x, y, config, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and not torch.equal(out, x)
    assert torch.equal(soft, y) != (switch == "mixup")  # only mixup changes the targets


def test_augment_batch_is_reproducible_with_a_seeded_generator():
    x, y = torch.randn(6, 8, 20), torch.eye(6)
    runs = []
    for _ in range(2):
        torch.manual_seed(3)  # mixup's Beta draws use the global generator
        runs.append(augment_batch(x, y, AugmentConfig(), torch.Generator().manual_seed(1)))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
