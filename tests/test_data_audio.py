"""Tests of audiolab.data.audio: decoding with soundfile (load_audio) and ESC10Dataset."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiolab.data import (
    ESC10_CLASSES,
    AudioDecodeError,
    ESC10Dataset,
    IncompleteDatasetError,
    load_audio,
)
from audiolab.features import FeatureConfig

from conftest import SYNTH_RATE


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
@pytest.mark.parametrize("offset", ["center", "random", "start"])
def test_load_audio_has_exact_length(tmp_path, duration, offset):
    path = write(tmp_path / "x.wav", np.ones(1000), 1000)
    wave = load_audio(path, sample_rate=1000, duration=duration, offset=offset)
    assert wave.shape == (int(round(1000 * duration)),)


def test_crop_center_start_random(tmp_path):
    ramp = np.arange(1000) / 1000
    path = write(tmp_path / "ramp.wav", ramp, 1000)
    center = load_audio(path, sample_rate=1000, duration=0.5, offset="center")
    start = load_audio(path, sample_rate=1000, duration=0.5, offset="start")
    assert center[0].item() == pytest.approx(0.25) and start[0].item() == pytest.approx(0.0)
    starts = {round(load_audio(path, 1000, 0.5, "random", torch.Generator().manual_seed(s))[0].item() * 1000)
              for s in range(20)}
    assert len(starts) > 5 and all(0 <= s <= 500 for s in starts)
    again = [load_audio(path, 1000, 0.5, "random", torch.Generator().manual_seed(3)) for _ in range(2)]
    assert torch.equal(*again)


def test_pad_center_start_random(tmp_path):
    path = write(tmp_path / "ones.wav", np.ones(100), 1000)
    center = load_audio(path, sample_rate=1000, duration=0.3, offset="center")
    assert center[:100].abs().sum() == 0 and (center[100:200] == 1).all() and center[200:].abs().sum() == 0
    start = load_audio(path, sample_rate=1000, duration=0.3, offset="start")
    assert (start[:100] == 1).all() and start[100:].abs().sum() == 0
    rand = load_audio(path, 1000, 0.3, "random", torch.Generator().manual_seed(0))
    ones = torch.nonzero(rand == 1).flatten()
    assert len(ones) == 100 and ones[-1] - ones[0] == 99


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


# --------------------------------------------------------------------------- dataset


def test_dataset_items_folds_and_transform(synthetic_esc10_meta):
    config = FeatureConfig(sample_rate=SYNTH_RATE, duration=1.0)
    dataset = ESC10Dataset(synthetic_esc10_meta, config, folds=[1, 2], transform=lambda w: w * 2)
    assert len(dataset) == 20 and set(dataset.meta["fold"]) == {1, 2}
    assert dataset.classes == ESC10_CLASSES and dataset.meta.attrs["layout"] == "esc10-tree"
    wave, target = dataset[3]
    assert wave.shape == (config.num_samples,) and isinstance(target, int)
    assert target == dataset.meta["target"].iloc[3]
    plain = load_audio(dataset.meta["path"].iloc[3], SYNTH_RATE, 1.0)
    assert torch.allclose(wave, plain * 2)


def test_dataset_train_uses_random_windows(synthetic_esc10_meta):
    config = FeatureConfig(sample_rate=SYNTH_RATE, duration=1.0)
    index = int(np.flatnonzero(synthetic_esc10_meta["fold"] == 1)[0])  # a 5 s clip
    train = ESC10Dataset(synthetic_esc10_meta, config, train=True)
    test = ESC10Dataset(synthetic_esc10_meta, config)
    torch.manual_seed(0)
    windows = [train[index][0] for _ in range(4)]
    assert any(not torch.equal(windows[0], w) for w in windows[1:])
    assert torch.equal(test[index][0], test[index][0])


def test_dataset_from_root_loads_strictly(synthetic_esc10):
    with pytest.raises(IncompleteDatasetError):
        ESC10Dataset(synthetic_esc10)  # the synthetic tree is partial; pass its metadata table instead


# --------------------------------------------------------------------------- odd and hostile files


def test_odd_rate_resamples_with_a_small_filter_bank(tmp_path, monkeypatch):
    """44,056 Hz to 22,050 Hz reduces to 11,025:22,028, whose exact windowed-sinc filter bank takes gigabytes;
    the kit resamples by the nearest ratio with small terms instead, and the tone stays where it was."""
    import torchaudio

    from audiolab.data import audio

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
    from audiolab.data import audio

    monkeypatch.setattr(audio, "MAX_SECONDS", 1.0)
    with pytest.raises(AudioDecodeError, match=r"long\.wav.*2 s long"):
        load_audio(write(tmp_path / "long.wav", np.zeros(2000), 1000))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_infinite_samples_are_refused(tmp_path, bad):
    samples = np.zeros(1000)
    samples[10] = bad
    with pytest.raises(AudioDecodeError, match=r"nan\.wav.*NaN or infinite"):
        load_audio(write(tmp_path / "nan.wav", samples, 1000))
