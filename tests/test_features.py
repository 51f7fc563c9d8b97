import dataclasses

import pytest
import torch

from audiolab.features import FeatureConfig, LogMel, Normalizer


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
    cfg = FeatureConfig(sample_rate=8000, duration=1.0, n_fft=256, hop_length=128, n_mels=16, top_db=None,
                        floor_db=None)
    loud, quiet = torch.randn(8000), 1e-4 * torch.randn(8000)
    plain = LogMel(cfg)(torch.stack([loud, quiet]))
    floored = LogMel(dataclasses.replace(cfg, floor_db=-30.0))(torch.stack([loud, quiet]))
    assert plain[1].max() < -30.0  # the quiet clip lies wholly below the floor ...
    assert torch.all(floored[1] == -30.0)  # ... so it becomes uniform silence
    above = plain >= -30.0
    assert above[0].float().mean() > 0.5
    torch.testing.assert_close(floored[above], plain[above])  # louder bins are untouched
    assert torch.all(floored >= -30.0)


def test_the_default_front_end():
    cfg = FeatureConfig()
    assert (cfg.sample_rate, cfg.n_fft, cfg.hop_length, cfg.n_mels, cfg.floor_db) == (22050, 2048, 1024, 64, -30.0)
    assert cfg.num_samples == 110250 and cfg.num_frames == 108


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


def test_per_clip_normalizer_ignores_recording_level():
    torch.manual_seed(0)
    x = torch.randn(20, 4, 30)
    norm = Normalizer(4).fit(x)
    torch.testing.assert_close(norm(x + 12.0), norm(x))  # 12 dB louder: the same input to the model
    plain = Normalizer(4, per_clip=False).fit(x)
    assert not torch.allclose(plain(x + 12.0), plain(x))
