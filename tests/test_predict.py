"""``audiolab predict``: any audio file in, the top classes out."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
import torch

from audiolab._util import plain
from audiolab import predict
from audiolab.data import ESC10_CLASSES
from audiolab.features import FeatureConfig, Normalizer
from audiolab.checkpoint import load_checkpoint, save_checkpoint
from audiolab.models import ConvConfig, build_model

# A small front-end keeps the test fast: 8 kHz, 16 mel bands, 5-s windows.
FEATURES = FeatureConfig(sample_rate=8000, duration=5.0, n_fft=512, hop_length=256, n_mels=16)
MODEL = ConvConfig(channels=(8, 8), kernel_size=3, stride=1)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained tiny Architecture 1 saved with the info ``audiolab reports`` writes."""
    torch.manual_seed(0)
    model = build_model(MODEL, FEATURES.n_mels, len(ESC10_CLASSES))
    normalizer = Normalizer(FEATURES.n_mels).fit(torch.randn(4, FEATURES.n_mels, FEATURES.num_frames) * 10 - 40)
    info = {"arch": "conv1d", "params": plain(MODEL), "n_mels": FEATURES.n_mels, "classes": list(ESC10_CLASSES),
            "features": plain(FEATURES), "experiment": "tiny-arch1"}
    return save_checkpoint(tmp_path_factory.mktemp("model") / "best_model.pt", model, normalizer, 1, info)


def _tone(seconds: float, rate: int, channels: int) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * 440.0 * t)
    return np.stack([mono * (1.0 - 0.3 * c) for c in range(channels)], axis=1).astype(np.float32)


def test_a_clip_of_about_the_model_duration_is_one_window(checkpoint, tmp_path):
    clip = tmp_path / "esc-like.wav"
    sf.write(clip, _tone(5.0 + 3 / 44100, 44100, 1), 44100)  # ESC-10 clips are often a few samples over 5 s
    assert predict.Predictor(checkpoint).predict(clip)["windows"] == 1


@pytest.fixture
def audio_files(tmp_path):
    long_stereo = tmp_path / "long-stereo-48k.wav"
    sf.write(long_stereo, _tone(12.0, 48000, 2), 48000)
    short_mono = tmp_path / "short-mono-8k.wav"
    sf.write(short_mono, _tone(1.0, 8000, 1), 8000)
    return long_stereo, short_mono


def test_top3_for_any_rate_channels_and_length(checkpoint, audio_files):
    predictor = predict.Predictor(checkpoint)
    results = [predictor.predict(path, top=3) for path in audio_files]
    assert [r["path"] for r in results] == [str(p) for p in audio_files]
    long_result, short_result = results
    # 12 s in 5-s windows with a 2.5-s hop: starts 0, 2.5, 5, and 7 (the last window ends at the end).
    assert long_result["windows"] == 4 and long_result["duration"] == pytest.approx(12.0)
    assert short_result["windows"] == 1 and short_result["duration"] == pytest.approx(1.0)
    for result in results:
        names = [name for name, _ in result["top"]]
        probs = [p for _, p in result["top"]]
        assert len(names) == 3 and set(names) <= set(ESC10_CLASSES) and len(set(names)) == 3
        assert probs == sorted(probs, reverse=True)
        assert all(0.0 <= p <= 1.0 for p in probs) and sum(probs) <= 1.0 + 1e-6
        assert sum(result["probs"].values()) == pytest.approx(1.0, abs=1e-5)


def test_long_file_averages_its_windows(checkpoint, audio_files):
    predictor = predict.Predictor(checkpoint)
    windows, seconds = predictor.windows(audio_files[0])
    assert windows.shape == (4, FEATURES.num_samples) and seconds == pytest.approx(12.0)
    from audiolab.train import predict_proba

    assert predictor.tta_shifts == 1
    expected = predict_proba(predictor.model, predictor.logmel(windows), predictor.normalizer).mean(axis=0)
    got = predictor.predict(audio_files[0], top=10)
    assert np.allclose([got["probs"][c] for c in ESC10_CLASSES], expected, atol=1e-6)


def test_command_prints_top_classes(checkpoint, audio_files, capsys):
    args = SimpleNamespace(files=[str(p) for p in audio_files], checkpoint=str(checkpoint), top=2)
    assert predict.predict_command(args) == 0
    out = capsys.readouterr().out
    assert "tiny-arch1" in out  # the experiment its info names
    assert out.count("  1. ") == 2 and out.count("  2. ") == 2 and "  3. " not in out


def test_missing_checkpoint_says_how_to_get_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AUDIOLAB_RESULTS", str(tmp_path / "results"))
    with pytest.raises(FileNotFoundError, match="make reports"):
        predict.Predictor()
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "results" / "best_model.pt")):
        predict.Predictor()
    args = SimpleNamespace(files=["x.wav"], checkpoint=None, top=3)
    assert predict.predict_command(args) == 2
    err = capsys.readouterr().err
    assert "make reports" in err and "--checkpoint" in err


def test_unreadable_file_exit_2_others_still_classified(checkpoint, audio_files, tmp_path, capsys):
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio")
    missing = tmp_path / "missing.flac"
    args = SimpleNamespace(files=[str(broken), str(audio_files[1]), str(missing)], checkpoint=str(checkpoint), top=3)
    assert predict.predict_command(args) == 2
    captured = capsys.readouterr()
    assert "broken.wav" in captured.err and "missing.flac" in captured.err
    assert str(audio_files[1]) in captured.out and "  3. " in captured.out
    assert captured.err.count("\n") == 2 and "Traceback" not in captured.err  # one line per unreadable file


def test_cli_dispatches_to_predict(checkpoint, audio_files, capsys):
    from audiolab.cli import main

    assert main(["predict", str(audio_files[1]), "--checkpoint", str(checkpoint)]) == 0
    assert "  1. " in capsys.readouterr().out


def test_predictions_use_the_test_time_shifts_of_the_evaluation(checkpoint, audio_files, tmp_path):
    from audiolab.train import predict_proba

    model, normalizer, info = load_checkpoint(checkpoint)
    best = save_checkpoint(tmp_path / "best_model.pt", model, normalizer, 1, {**info, "tta_shifts": 4})
    predictor = predict.Predictor(best)
    assert predictor.tta_shifts == 4 and predictor.name == "tiny-arch1"
    windows, _ = predictor.windows(audio_files[1])
    expected = predict_proba(predictor.model, predictor.logmel(windows), predictor.normalizer, shifts=4).mean(axis=0)
    got = predictor.predict(audio_files[1], top=10)["probs"]
    assert np.allclose([got[c] for c in ESC10_CLASSES], expected, atol=1e-6)

    assert predict.Predictor(checkpoint).tta_shifts == 1  # none in its info: no shifts


@pytest.mark.parametrize("what", ["nan", "rate"])
def test_hostile_files_are_one_clear_line_and_exit_2(checkpoint, tmp_path, capsys, what):
    """NaN samples used to print "Dog bark nan%" and exit 0; a 999,983 Hz header used to die allocating."""
    samples = _tone(5.0, 8000, 1)
    if what == "nan":
        samples[100] = np.nan
    bad = tmp_path / f"{what}.wav"
    sf.write(bad, samples, 999_983 if what == "rate" else 8000, subtype="FLOAT")
    args = SimpleNamespace(files=[str(bad)], checkpoint=str(checkpoint), top=3)
    assert predict.predict_command(args) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and f"{what}.wav" in captured.err and "Traceback" not in captured.err
    assert "%" not in captured.out
