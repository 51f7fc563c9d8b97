"""Tests of audiolab.data.audio: decoding with soundfile (load_audio) and the on-disk feature cache (load_features)."""
from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiolab._util import plain
from audiolab import data
from audiolab.data import AudioDecodeError, audio, load_audio, load_features, load_metadata
from audiolab.features import FeatureConfig, LogMel

from conftest import SYNTH_RATE
from test_data_metadata import real_path, require

SMALL = FeatureConfig(sample_rate=8000, duration=1.0, n_fft=256, hop_length=128, n_mels=16)


def write(path: Path, samples, rate: int) -> Path:
    """Write float samples losslessly (WAV, 32-bit float)."""
    sf.write(path, np.asarray(samples, dtype=np.float32), rate, subtype="FLOAT")
    return path


# --------------------------------------------------------------------------- decoding


def test_load_audio_downmixes_stereo(tmp_path):
    stereo = np.stack([np.full(800, 0.4), np.full(800, 0.2)], axis=1)
    wave = load_audio(write(tmp_path / "s.wav", stereo, 800), sample_rate=800, duration=1.0)
    assert wave.shape == (800,) and wave.dtype == torch.float32
    assert torch.allclose(wave, torch.full((800,), 0.3))


def test_load_audio_resamples(tmp_path):
    t = np.arange(8000) / 8000
    path = write(tmp_path / "tone.wav", 0.5 * np.sin(2 * np.pi * 440 * t), 8000)
    wave = load_audio(path, sample_rate=16000, duration=1.0)
    assert wave.shape == (16000,)
    spectrum = np.abs(np.fft.rfft(wave.numpy()))
    assert abs(np.argmax(spectrum) * 16000 / 16000 - 440) <= 1


@pytest.mark.parametrize("duration", [0.1, 0.33333, 1.0, 2.5])
@pytest.mark.parametrize("offset", ["center", "start"])
def test_load_audio_has_exact_length(tmp_path, duration, offset):
    path = write(tmp_path / "x.wav", np.ones(1000), 1000)
    wave = load_audio(path, sample_rate=1000, duration=duration, offset=offset)
    assert wave.shape == (int(round(1000 * duration)),)


def test_crop_center_start(tmp_path):
    ramp = np.arange(1000) / 1000
    path = write(tmp_path / "ramp.wav", ramp, 1000)
    center = load_audio(path, sample_rate=1000, duration=0.5, offset="center")
    start = load_audio(path, sample_rate=1000, duration=0.5, offset="start")
    assert center[0].item() == pytest.approx(0.25) and start[0].item() == pytest.approx(0.0)
    with pytest.raises(ValueError, match="center or start"):
        load_audio(path, 1000, 0.5, "random")


def test_pad_center_start(tmp_path):
    path = write(tmp_path / "ones.wav", np.ones(100), 1000)
    center = load_audio(path, sample_rate=1000, duration=0.3, offset="center")
    assert center[:100].abs().sum() == 0 and (center[100:200] == 1).all() and center[200:].abs().sum() == 0
    start = load_audio(path, sample_rate=1000, duration=0.3, offset="start")
    assert (start[:100] == 1).all() and start[100:].abs().sum() == 0


def test_load_audio_rejects_unknown_offset(tmp_path):
    with pytest.raises(ValueError, match="offset"):
        load_audio(write(tmp_path / "x.wav", np.ones(10), 1000), offset="middle")


@pytest.mark.parametrize("name", ["corrupt.ogg", "corrupt.wav"])
def test_corrupt_file_raises_audio_decode_error(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(AudioDecodeError, match=name) as info:
        load_audio(path)
    assert "re-download" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_empty_files_raise_audio_decode_error(tmp_path):
    empty = tmp_path / "empty.ogg"
    empty.write_bytes(b"")
    with pytest.raises(AudioDecodeError, match="empty.ogg"):
        load_audio(empty)
    silent = write(tmp_path / "nosamples.wav", np.zeros(0), 8000)
    with pytest.raises(AudioDecodeError, match="no audio samples"):
        load_audio(silent)


def test_synthetic_ogg_clips_decode(synthetic_esc10_meta):
    row = synthetic_esc10_meta.iloc[0]
    wave = load_audio(row["path"], sample_rate=SYNTH_RATE, duration=5.0)
    assert wave.shape == (5 * SYNTH_RATE,) and wave.abs().max() > 0.3


# --------------------------------------------------------------------------- odd and hostile files


def test_odd_rate_resamples_with_a_small_filter_bank(tmp_path, monkeypatch):
    """44,056 Hz to 22,050 Hz reduces to 11,025:22,028, whose exact windowed-sinc filter bank takes gigabytes;
    the kit resamples by the nearest ratio with small terms instead, and the tone stays where it was."""
    import torchaudio

    calls = []
    real = torchaudio.functional.resample
    monkeypatch.setattr(torchaudio.functional, "resample", lambda w, a, b: calls.append((a, b)) or real(w, a, b))
    t = np.arange(44056) / 44056
    wave = load_audio(write(tmp_path / "odd.wav", 0.5 * np.sin(2 * np.pi * 440 * t), 44056), 22050, 1.0)
    assert calls and max(calls[0]) <= audio.MAX_RATIO_TERM
    assert abs(np.argmax(np.abs(np.fft.rfft(wave.numpy()))) - 440) <= 1


def test_usual_rates_resample_exactly_as_torchaudio(tmp_path):
    import torchaudio

    samples = np.random.default_rng(0).uniform(-0.5, 0.5, 4800).astype(np.float32)
    wave = load_audio(write(tmp_path / "x.wav", samples, 48000), 22050, 0.1)
    exact = torchaudio.functional.resample(torch.from_numpy(samples), 48000, 22050)
    assert torch.equal(wave, exact[: wave.shape[0]])


@pytest.mark.parametrize("rate", [999_983, 50])
def test_absurd_rates_are_refused_before_reading(tmp_path, rate):
    path = write(tmp_path / "absurd.wav", np.zeros(2000), rate)
    with pytest.raises(AudioDecodeError, match=rf"absurd\.wav.*{rate:,} Hz"):
        load_audio(path)


def test_too_long_files_are_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(audio, "MAX_SECONDS", 1.0)
    with pytest.raises(AudioDecodeError, match=r"long\.wav.*2 s long"):
        load_audio(write(tmp_path / "long.wav", np.zeros(2000), 1000))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_infinite_samples_are_refused(tmp_path, bad):
    samples = np.zeros(1000)
    samples[10] = bad
    with pytest.raises(AudioDecodeError, match=r"nan\.wav.*NaN or infinite"):
        load_audio(write(tmp_path / "nan.wav", samples, 1000))


# --------------------------------------------------------------------------- feature cache


def test_load_features_shape_order_and_values(synthetic_esc10_meta, tmp_path):
    features = load_features(synthetic_esc10_meta, SMALL, cache_dir=tmp_path)
    assert features.shape == (50, SMALL.n_mels, SMALL.num_frames) and features.dtype == torch.float32
    row = synthetic_esc10_meta.iloc[7]
    expected = LogMel(SMALL)(load_audio(row["path"], SMALL.sample_rate, SMALL.duration))
    assert torch.allclose(features[7], expected, atol=1e-4)
    assert [p.suffix for p in tmp_path.iterdir()] == [".pt"]


def test_feature_cache_hit_does_not_decode(synthetic_esc10_meta, tmp_path, monkeypatch):
    first = load_features(synthetic_esc10_meta, SMALL, cache_dir=tmp_path)

    def no_decoding(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(audio, "load_audio", no_decoding)
    second = load_features(synthetic_esc10_meta, SMALL, cache_dir=tmp_path)
    assert torch.equal(first, second)
    assert not list(tmp_path.glob("*.tmp"))


def test_feature_cache_key_changes(synthetic_esc10_meta, synthetic_esc10, tmp_path, monkeypatch):
    calls = []
    real = load_audio
    monkeypatch.setattr(audio, "load_audio", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    meta = synthetic_esc10_meta.iloc[:4].copy()
    meta.attrs.update(synthetic_esc10_meta.attrs)
    load_features(meta, SMALL, cache_dir=tmp_path)
    assert len(calls) == 4
    load_features(meta, SMALL, cache_dir=tmp_path)
    assert len(calls) == 4
    load_features(meta, FeatureConfig(**{**plain(SMALL), "n_mels": 8}), cache_dir=tmp_path)
    assert len(calls) == 8  # config change
    load_features(meta.iloc[::-1], SMALL, cache_dir=tmp_path)
    assert len(calls) == 12  # other order
    copy = shutil.copytree(synthetic_esc10, tmp_path / "copy")
    moved = load_metadata(copy, strict=False).iloc[:4]
    os.utime(moved["path"].iloc[0], ns=(1, 1))
    load_features(moved, SMALL, cache_dir=tmp_path)
    assert len(calls) == 16  # a file's mtime changed
    assert len(list(tmp_path.glob("*.pt"))) == 4 and not list(tmp_path.glob("*.tmp"))


def test_damaged_cache_file_is_recomputed(synthetic_esc10_meta, tmp_path):
    meta = synthetic_esc10_meta.iloc[:3]
    first = load_features(meta, SMALL, cache_dir=tmp_path)
    (cache_file,) = tmp_path.glob("*.pt")
    cache_file.write_bytes(b"garbage")
    again = load_features(meta, SMALL, cache_dir=tmp_path)
    assert torch.allclose(first, again)
    assert cache_file.stat().st_size > 100


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"),
                                   RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64")])
def test_a_full_cache_disk_is_a_warning_not_an_error(synthetic_esc10_meta, tmp_path, monkeypatch, error):
    """The cache is an optimisation: a full disk used to stop training with torch's RuntimeError (#20)."""
    def full_disk(obj, handle):
        handle.write(b"PK\x03\x04")
        raise error

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.warns(RuntimeWarning, match=f"could not write the feature cache {tmp_path}.*going on without it"):
        features = load_features(synthetic_esc10_meta.iloc[:3], SMALL, cache_dir=tmp_path)
    assert features.shape == (3, SMALL.n_mels, SMALL.num_frames) and list(tmp_path.iterdir()) == []


def test_load_features_uses_default_cache_dir_and_handles_empty_meta(synthetic_esc10_meta):
    load_features(synthetic_esc10_meta.iloc[:2], SMALL)
    assert list((data.default_cache_dir() / "features").glob("*.pt"))
    empty = load_features(synthetic_esc10_meta.iloc[:0], SMALL)
    assert empty.shape == (0, SMALL.n_mels, SMALL.num_frames)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path))
    assert data.default_cache_dir() == tmp_path
    monkeypatch.delenv(data.CACHE_ENV)
    assert data.default_cache_dir() == Path.home() / ".cache" / "audiolab"


# --------------------------------------------------------------------------- the real dataset


@pytest.mark.realdata
def test_real_esc10_features_decode_every_clip_and_cache(tmp_path, monkeypatch):
    real_meta = load_metadata(require(real_path("ESC-10")))
    config = FeatureConfig()
    features = load_features(real_meta, config, cache_dir=tmp_path)
    assert features.shape == (400, config.n_mels, config.num_frames)  # every clip decoded to 5 s at 22050 Hz
    assert torch.isfinite(features).all()
    monkeypatch.setattr(audio, "load_audio", lambda *a, **k: pytest.fail("second load_features decoded audio"))
    assert torch.equal(load_features(real_meta, config, cache_dir=tmp_path), features)
