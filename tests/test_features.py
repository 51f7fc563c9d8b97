import pytest
import torch

from audiolab.features import AugmentConfig, FeatureConfig, LogMel, Normalizer, mixup, spec_augment, time_shift


def test_logmel_shape_matches_config():
    cfg = FeatureConfig(sample_rate=8000, duration=2.0, n_fft=512, hop_length=128, n_mels=20)
    out = LogMel(cfg)(torch.randn(cfg.num_samples))
    assert out.shape == (20, cfg.num_frames)


def test_logmel_top_db_is_per_clip_even_in_a_batch():
    cfg = FeatureConfig(sample_rate=8000, duration=1.0, n_fft=256, hop_length=128, n_mels=16, top_db=40.0)
    loud, quiet = torch.randn(8000), 1e-3 * torch.randn(8000)
    logmel = LogMel(cfg)
    batch = logmel(torch.stack([loud, quiet]))
    torch.testing.assert_close(batch[1], logmel(quiet))
    assert batch[1].max() - batch[1].min() <= 40.0 + 1e-4


def test_logmel_floor_db_is_absolute_and_keeps_louder_bins():
    cfg = FeatureConfig(sample_rate=8000, duration=1.0, n_fft=256, hop_length=128, n_mels=16, top_db=None)
    loud, quiet = torch.randn(8000), 1e-4 * torch.randn(8000)
    plain = LogMel(cfg)(torch.stack([loud, quiet]))
    floored = LogMel(FeatureConfig(**{**cfg.to_dict(), "floor_db": -30.0}))(torch.stack([loud, quiet]))
    assert plain[1].max() < -30.0  # the quiet clip lies wholly below the floor ...
    assert torch.all(floored[1] == -30.0)  # ... so it becomes uniform silence
    above = plain >= -30.0
    assert above[0].float().mean() > 0.5
    torch.testing.assert_close(floored[above], plain[above])  # louder bins are untouched
    assert torch.all(floored >= -30.0)


def test_bad_feature_config():
    with pytest.raises(ValueError, match="positive"):
        FeatureConfig(sample_rate=0)


def test_normalizer_uses_training_statistics():
    x = torch.randn(50, 4, 30) * torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 4, 1) + 5
    norm = Normalizer(4, per_clip=False).fit(x)
    z = norm(x)
    torch.testing.assert_close(z.mean(dim=(0, 2)), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(dim=(0, 2)), torch.ones(4), atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="shape"):
        norm.fit(torch.randn(3, 5, 10))


def test_time_shift_rolls_each_clip():
    x = torch.arange(10.0).repeat(3, 2, 1)  # (3, 2, 10)
    out = time_shift(x, torch.Generator().manual_seed(0))
    for clip in out:
        shift = int(-clip[0, 0]) % 10
        assert torch.equal(clip, torch.roll(x[0], shifts=shift, dims=1))
        assert sorted(clip[0].tolist()) == list(range(10))  # nothing lost, only moved
        assert torch.equal(clip[0], clip[1])  # the same shift for every mel band


def test_spec_augment_masks_bands_with_zero():
    x = torch.ones(4, 16, 40)
    out = spec_augment(x, time_masks=1, time_mask_width=10, freq_masks=1, freq_mask_width=4, generator=torch.Generator().manual_seed(1))
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
    assert cfg.to_dict()["mixup"] is False and cfg.time_shift


def test_augment_config_none_switches_every_augmentation_off():
    off = AugmentConfig.none().to_dict()
    switches = {k for k, v in AugmentConfig().to_dict().items() if isinstance(v, bool)}
    assert switches >= {"time_shift", "spec_augment", "mixup", "random_eq"}
    assert all(off[k] is False for k in switches) and off["freq_shift"] == 0


def test_per_clip_normalizer_ignores_recording_level():
    torch.manual_seed(0)
    x = torch.randn(20, 4, 30)
    norm = Normalizer(4).fit(x)
    torch.testing.assert_close(norm(x + 12.0), norm(x))  # 12 dB louder: the same input to the model
    plain = Normalizer(4, per_clip=False).fit(x)
    assert not torch.allclose(plain(x + 12.0), plain(x))
