"""Tests of audiolab.data.cache: the on-disk log-mel cache (load_features) and its folder."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from audiolab import data
from audiolab.data import cache, load_audio, load_features, load_metadata
from audiolab.features import FeatureConfig, LogMel

from test_data_metadata import real_path, require

SMALL = FeatureConfig(sample_rate=8000, duration=1.0, n_fft=256, hop_length=128, n_mels=16)


# --------------------------------------------------------------------------- feature cache


def test_load_features_shape_order_and_values(synthetic_esc10_meta, tmp_path):
    features = load_features(synthetic_esc10_meta, SMALL, cache_dir=tmp_path, progress=False)
    assert features.shape == (50, SMALL.n_mels, SMALL.num_frames) and features.dtype == torch.float32
    row = synthetic_esc10_meta.iloc[7]
    expected = LogMel(SMALL)(load_audio(row["path"], SMALL.sample_rate, SMALL.duration))
    assert torch.allclose(features[7], expected, atol=1e-4)
    assert [p.suffix for p in tmp_path.iterdir()] == [".pt"]


def test_feature_cache_hit_does_not_decode(synthetic_esc10_meta, tmp_path, monkeypatch):
    first = load_features(synthetic_esc10_meta, SMALL, cache_dir=tmp_path, progress=False)

    def no_decoding(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(cache, "load_audio", no_decoding)
    second = load_features(synthetic_esc10_meta, SMALL, cache_dir=tmp_path, progress=False)
    assert torch.equal(first, second)
    assert not list(tmp_path.glob("*.tmp"))


def test_feature_cache_key_changes(synthetic_esc10_meta, synthetic_esc10, tmp_path, monkeypatch):
    calls = []
    real = load_audio
    monkeypatch.setattr(cache, "load_audio", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    meta = synthetic_esc10_meta.iloc[:4].copy()
    meta.attrs.update(synthetic_esc10_meta.attrs)
    load_features(meta, SMALL, cache_dir=tmp_path, progress=False)
    assert len(calls) == 4
    load_features(meta, SMALL, cache_dir=tmp_path, progress=False)
    assert len(calls) == 4
    load_features(meta, FeatureConfig(**{**SMALL.to_dict(), "n_mels": 8}), cache_dir=tmp_path, progress=False)
    assert len(calls) == 8  # config change
    load_features(meta.iloc[::-1], SMALL, cache_dir=tmp_path, progress=False)
    assert len(calls) == 12  # other order
    copy = shutil.copytree(synthetic_esc10, tmp_path / "copy")
    moved = load_metadata(copy, strict=False).iloc[:4]
    os.utime(moved["path"].iloc[0], ns=(1, 1))
    load_features(moved, SMALL, cache_dir=tmp_path, progress=False)
    assert len(calls) == 16  # a file's mtime changed
    assert len(list(tmp_path.glob("*.pt"))) == 4 and not list(tmp_path.glob("*.tmp"))


def test_damaged_cache_file_is_recomputed(synthetic_esc10_meta, tmp_path):
    meta = synthetic_esc10_meta.iloc[:3]
    first = load_features(meta, SMALL, cache_dir=tmp_path, progress=False)
    (cache_file,) = tmp_path.glob("*.pt")
    cache_file.write_bytes(b"garbage")
    again = load_features(meta, SMALL, cache_dir=tmp_path, progress=False)
    assert torch.allclose(first, again)
    assert cache_file.stat().st_size > 100


def test_load_features_uses_default_cache_dir_and_handles_empty_meta(synthetic_esc10_meta):
    load_features(synthetic_esc10_meta.iloc[:2], SMALL, progress=False)
    assert list((data.default_cache_dir() / "features").glob("*.pt"))
    empty = load_features(synthetic_esc10_meta.iloc[:0], SMALL, progress=False)
    assert empty.shape == (0, SMALL.n_mels, SMALL.num_frames)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path))
    assert data.default_cache_dir() == tmp_path
    monkeypatch.delenv(data.CACHE_ENV)
    assert data.default_cache_dir() == Path.home() / ".cache" / "audiolab"


# --------------------------------------------------------------------------- the real dataset


@pytest.fixture(scope="module")
def real_meta():
    return load_metadata(require(real_path("ESC-10")))


@pytest.mark.realdata
def test_real_esc10_features_decode_every_clip_and_cache(real_meta, tmp_path, monkeypatch):
    config = FeatureConfig()
    features = load_features(real_meta, config, cache_dir=tmp_path, progress=False)
    assert features.shape == (400, config.n_mels, config.num_frames)  # every clip decoded to 5 s at 22050 Hz
    assert torch.isfinite(features).all()
    monkeypatch.setattr(cache, "load_audio", lambda *a, **k: pytest.fail("second load_features decoded audio"))
    assert torch.equal(load_features(real_meta, config, cache_dir=tmp_path, progress=False), features)
