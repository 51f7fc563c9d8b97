"""Tests of audiolab.data: metadata layouts, root resolution, decoding, feature cache, folds, summary.

Synthetic datasets come from conftest.py; tests marked ``realdata`` read the real
ESC-10 (``$AUDIOLAB_DATA`` or ``../shared/data/ESC-10`` beside the repository).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audiolab import data
from audiolab.data import (
    ESC10_CLASSES,
    AudioDecodeError,
    DatasetNotFoundError,
    ESC10Dataset,
    IncompleteDatasetError,
    IntegrityError,
    cv_folds,
    format_summary,
    holdout_split,
    load_audio,
    load_features,
    load_metadata,
    read_manifest,
    resolve_root,
    summarize,
)
from audiolab.features import FeatureConfig, LogMel

from conftest import ESC50_CATEGORIES, SYNTH_RATE

COLUMNS = ["path", "filename", "fold", "target", "category", "clip_id", "take"]
SMALL = FeatureConfig(sample_rate=8000, duration=1.0, n_fft=256, hop_length=128, n_mels=16)


def write(path: Path, samples, rate: int) -> Path:
    """Write float samples losslessly (WAV, 32-bit float)."""
    sf.write(path, np.asarray(samples, dtype=np.float32), rate, subtype="FLOAT")
    return path


# --------------------------------------------------------------------------- metadata


def test_tree_metadata_columns_order_and_attrs(synthetic_esc10):
    meta = load_metadata(synthetic_esc10, strict=False)
    assert list(meta.columns) == COLUMNS
    assert len(meta) == 50
    assert meta.attrs["layout"] == "esc10-tree"
    assert meta.attrs["classes"] == ESC10_CLASSES
    assert meta.attrs["root"] == str(synthetic_esc10.resolve())
    assert "root argument" in meta.attrs["source"]
    assert meta["fold"].dtype.kind == "i" and meta["target"].dtype.kind == "i"
    assert sorted(meta["fold"].unique()) == [1, 2, 3, 4, 5]
    assert meta.equals(meta.sort_values(["fold", "target", "filename"]).reset_index(drop=True))
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in meta["path"])
    assert (meta["category"] == [ESC10_CLASSES[t] for t in meta["target"]]).all()
    first = meta[meta["filename"] == "1-100000-A.ogg"].iloc[0]
    assert (first["fold"], first["target"], first["clip_id"], first["take"]) == (1, 0, "100000", "A")


def test_unrelated_files_are_ignored(synthetic_esc10):
    meta = load_metadata(synthetic_esc10, strict=False)
    assert meta["filename"].str.fullmatch(r"\d-\d+-A\.ogg").all()
    assert not meta["path"].str.contains("__MACOSX").any()


def test_esc50_layout_gives_same_classes_and_ids_as_tree(synthetic_esc10, synthetic_esc50):
    tree = load_metadata(synthetic_esc10, strict=False)
    esc50 = load_metadata(synthetic_esc50, strict=False)
    assert list(esc50.columns) == COLUMNS
    assert esc50.attrs["layout"] == "esc50"
    assert esc50.attrs["classes"] == tree.attrs["classes"] == ESC10_CLASSES
    key = ["clip_id", "fold", "target", "category", "take"]
    assert tree[key].equals(esc50[key])
    assert esc50["filename"].str.endswith(".wav").all()


def test_esc50_subset_has_all_50_classes_with_their_own_ids(synthetic_esc50):
    meta = load_metadata(synthetic_esc50, subset="esc50", strict=False)
    assert meta.attrs["classes"] == ESC50_CATEGORIES
    assert len(meta) == 90 and meta["target"].nunique() == 50
    dog = meta[meta["category"] == "dog"]
    assert (dog["target"] == 0).all() and len(dog) == 5
    assert (meta[meta["category"] == "rooster"]["target"] == 1).all()


def test_esc50_strict_requires_the_full_release(synthetic_esc50):
    with pytest.raises(IncompleteDatasetError, match="expected 400"):
        load_metadata(synthetic_esc50)
    with pytest.raises(IncompleteDatasetError, match="expected 2000"):
        load_metadata(synthetic_esc50, subset="esc50")


def test_esc50_missing_audio_is_an_error_even_when_not_strict(synthetic_esc50, tmp_path):
    root = shutil.copytree(synthetic_esc50, tmp_path / "ESC-50")
    victim = sorted((root / "audio").glob("1-100000-*.wav"))[0]
    victim.unlink()
    with pytest.raises(IncompleteDatasetError, match=victim.name):
        load_metadata(root, strict=False)


def test_tree_strict_rejects_a_partial_copy(synthetic_esc10):
    with pytest.raises(IncompleteDatasetError, match="found 50 of 400"):
        load_metadata(synthetic_esc10)


def test_incomplete_tree_lists_the_missing_files(tmp_path):
    root = tmp_path / "ESC-10"
    manifest = sorted(read_manifest())
    missing = manifest[10:13]
    for rel in manifest:
        if rel not in missing:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(b"")
    with pytest.raises(IncompleteDatasetError) as info:
        load_metadata(root)
    message = str(info.value)
    assert "found 397 of 400" in message and "3 missing" in message
    assert all(rel in message for rel in missing)
    assert len(load_metadata(root, strict=False)) == 397


def test_unknown_class_folder_is_reported(synthetic_esc10, tmp_path):
    root = shutil.copytree(synthetic_esc10, tmp_path / "ESC-10")
    (root / "011 - Thunder").mkdir()
    with pytest.raises(ValueError, match="011 - Thunder"):
        load_metadata(root, strict=False)


def test_folder_without_a_dataset_is_reported(tmp_path):
    (tmp_path / "README.md").write_text("nothing here")
    with pytest.raises(DatasetNotFoundError, match="neither an ESC-10 tree"):
        load_metadata(tmp_path, strict=False)


def test_parent_of_a_dataset_gets_a_hint(synthetic_esc10, tmp_path):
    shutil.copytree(synthetic_esc10, tmp_path / "ESC-10-master")
    with pytest.raises(DatasetNotFoundError, match="did you mean .*ESC-10-master"):
        load_metadata(tmp_path, strict=False)


def test_bad_subset_choices(synthetic_esc10):
    with pytest.raises(ValueError, match="unknown subset"):
        load_metadata(synthetic_esc10, subset="esc20")
    with pytest.raises(ValueError, match="needs the ESC-50 release"):
        load_metadata(synthetic_esc10, subset="esc50", strict=False)


# --------------------------------------------------------------------------- root resolution


@pytest.fixture
def no_data_env(monkeypatch, tmp_path):
    """No $AUDIOLAB_DATA, and an empty cache folder."""
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_missing_dataset_error_names_both_fixes(no_data_env):
    with pytest.raises(FileNotFoundError) as info:
        resolve_root()
    message = str(info.value)
    assert "audiolab data --download" in message and "download=True" in message
    assert "AUDIOLAB_DATA=/path/to/ESC-10" in message
    with pytest.raises(FileNotFoundError, match="audiolab data --download"):
        load_metadata()


def test_root_resolution_order(no_data_env, synthetic_esc10, synthetic_esc50, monkeypatch, tmp_path):
    cache = no_data_env / "ESC-10"
    shutil.copytree(synthetic_esc10, cache)
    monkeypatch.setenv(data.DATA_ENV, str(synthetic_esc50))
    downloads = []
    monkeypatch.setattr(data, "download_esc10", lambda dest: downloads.append(Path(dest)) or Path(dest))

    assert resolve_root(synthetic_esc10, download=True)[0] == synthetic_esc10  # explicit wins
    root, source = resolve_root(download=True)
    assert root == synthetic_esc50 and "AUDIOLAB_DATA" in source  # then the environment
    monkeypatch.delenv(data.DATA_ENV)
    root, source = resolve_root(download=True)
    assert root == cache and "cache" in source  # then the cache folder
    shutil.rmtree(cache)
    root, source = resolve_root(download=True)
    assert root == cache and "downloaded" in source and downloads == [cache]  # then a download
    with pytest.raises(DatasetNotFoundError):
        resolve_root()  # ... only when allowed


def test_explicit_or_env_root_that_does_not_exist(no_data_env, monkeypatch, tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        resolve_root(tmp_path / "nowhere")
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(DatasetNotFoundError, match="AUDIOLAB_DATA points to"):
        resolve_root()
    downloads = []
    monkeypatch.setattr(data, "download_esc10", lambda dest: downloads.append(Path(dest)) or Path(dest))
    assert resolve_root(tmp_path / "here", download=True)[0] == tmp_path / "here" == downloads[0]


def test_esc50_is_never_downloaded(no_data_env):
    with pytest.raises(DatasetNotFoundError, match="ESC-50"):
        resolve_root(download=True, subset="esc50")


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path))
    assert data.default_cache_dir() == tmp_path
    monkeypatch.delenv(data.CACHE_ENV)
    assert data.default_cache_dir() == Path.home() / ".cache" / "audiolab"


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

    monkeypatch.setattr(data, "load_audio", no_decoding)
    second = load_features(synthetic_esc10_meta, SMALL, cache_dir=tmp_path, progress=False)
    assert torch.equal(first, second)
    assert not list(tmp_path.glob("*.tmp"))


def test_feature_cache_key_changes(synthetic_esc10_meta, synthetic_esc10, tmp_path, monkeypatch):
    calls = []
    real = data.load_audio
    monkeypatch.setattr(data, "load_audio", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
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


# --------------------------------------------------------------------------- folds and splits


def test_cv_folds(synthetic_esc10_meta):
    folds = cv_folds(synthetic_esc10_meta)
    assert [f for f, _, _ in folds] == [1, 2, 3, 4, 5]
    for fold, train, test in folds:
        assert set(synthetic_esc10_meta["fold"].iloc[test]) == {fold}
        assert fold not in set(synthetic_esc10_meta["fold"].iloc[train])
        assert sorted(np.concatenate([train, test])) == list(range(50))
    with pytest.raises(ValueError, match="two folds"):
        cv_folds(synthetic_esc10_meta[synthetic_esc10_meta["fold"] == 1])


def test_holdout_split(synthetic_esc10_meta):
    split = holdout_split(synthetic_esc10_meta)
    folds = synthetic_esc10_meta["fold"].to_numpy()
    assert set(folds[split["train"]]) == {1, 2, 3}
    assert set(folds[split["val"]]) == {4} and set(folds[split["test"]]) == {5}
    assert sum(len(v) for v in split.values()) == 50
    with pytest.raises(ValueError, match="differ"):
        holdout_split(synthetic_esc10_meta, test_fold=2, val_fold=2)
    with pytest.raises(ValueError, match=r"\[7\] not in the table"):
        holdout_split(synthetic_esc10_meta, test_fold=7)
    with pytest.raises(ValueError, match="no training folds"):
        holdout_split(synthetic_esc10_meta[synthetic_esc10_meta["fold"] >= 4])


# --------------------------------------------------------------------------- summary and command


def test_summarize_and_format(synthetic_esc10_meta):
    summary = summarize(synthetic_esc10_meta)
    assert summary["clips"] == 50 and summary["classes"] == list(ESC10_CLASSES)
    assert set(summary["per_class"].values()) == {5} and summary["per_fold"] == {f: 10 for f in range(1, 6)}
    assert summary["per_class_fold"]["Rain"] == {f: 1 for f in range(1, 6)}
    assert summary["sample_rates"] == [SYNTH_RATE] and summary["channels"] == [1, 2]
    assert summary["durations"] == [1.0, 2.5, 3.0, 4.0, 5.0]
    assert summary["size_bytes"] == sum(os.path.getsize(p) for p in synthetic_esc10_meta["path"])
    text = format_summary(summary)
    for expected in ("Fire crackling", "fold 5", "8000 Hz", "esc10-tree", summary["root"], "root argument", "MB"):
        assert expected in text


def test_data_command(synthetic_esc10, capsys, no_data_env):
    assert data.data_command(synthetic_esc10, strict=False) == 0
    out = capsys.readouterr().out
    assert "Dog bark" in out and "total" in out
    assert data.data_command(synthetic_esc10) == 2
    assert "incomplete" in capsys.readouterr().err
    assert data.data_command() == 2
    assert "audiolab data --download" in capsys.readouterr().err


# --------------------------------------------------------------------------- manifest


def test_read_manifest_formats(tmp_path):
    digest = "ab" * 32
    path = tmp_path / "m.sha256"
    path.write_text(f"{digest}  ./001 - Dog bark/1-1-A.ogg\n{digest.upper()} *002 - Rain/2-2-A.ogg\n\n")
    assert read_manifest(path) == {"001 - Dog bark/1-1-A.ogg": digest, "002 - Rain/2-2-A.ogg": digest}
    assert read_manifest({"./a.ogg": digest.upper()}) == {"a.ogg": digest}
    path.write_text("not a checksum line\n")
    with pytest.raises(ValueError, match="m.sha256:1"):
        read_manifest(path)


def test_packaged_manifest_covers_esc10():
    manifest = read_manifest()
    assert len(manifest) == 400
    folders = {rel.split("/")[0] for rel in manifest}
    assert folders == {f"{i + 1:03d} - {name}" for i, name in enumerate(ESC10_CLASSES)}


def test_verify_dataset(synthetic_esc10, tmp_path):
    root = shutil.copytree(synthetic_esc10, tmp_path / "ESC-10")
    manifest = {p.relative_to(root).as_posix(): data._sha256(p) for p in root.glob("0*/[0-9]*.ogg")}
    assert data.verify_dataset(root, manifest) == 50
    victim = sorted(manifest)[3]
    with open(root / victim, "r+b") as handle:
        handle.seek(200)
        handle.write(b"\x00\x01\x02")
    shutil.copy(root / victim, root / "002 - Rain" / "9-1-A.ogg")
    with pytest.raises(IntegrityError) as info:
        data.verify_dataset(root, manifest)
    assert victim in str(info.value) and "002 - Rain/9-1-A.ogg" in str(info.value)


# --------------------------------------------------------------------------- the real dataset


def real_path(name: str) -> Path:
    """``$AUDIOLAB_DATA`` (or its sibling ``name``), else ``../shared/data/<name>`` beside the repository."""
    env = os.environ.get(data.DATA_ENV)
    if env:
        return Path(env) if name == "ESC-10" else Path(env).parent / name
    return Path(__file__).resolve().parents[2] / "shared" / "data" / name


def require(path: Path) -> Path:
    """Skip when ``path`` is missing; under CI (``CI=true``) fail instead."""
    if not path.exists():
        message = f"real ESC-10 data not found at {path}; set {data.DATA_ENV}=/path/to/ESC-10"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="module")
def real_meta():
    return load_metadata(require(real_path("ESC-10")))


@pytest.mark.realdata
def test_real_esc10_is_complete_and_verified(real_meta):
    assert len(real_meta) == 400
    assert real_meta.groupby("category").size().to_dict() == {c: 40 for c in ESC10_CLASSES}
    assert real_meta.groupby("fold").size().to_dict() == {f: 80 for f in range(1, 6)}
    assert data.verify_dataset(real_meta.attrs["root"]) == 400
    summary = summarize(real_meta)
    assert summary["sample_rates"] == [44100] and summary["channels"] == [1]
    assert summary["median_duration"] == pytest.approx(5.0, abs=0.01)


@pytest.mark.realdata
def test_real_esc10_features_decode_every_clip_and_cache(real_meta, tmp_path, monkeypatch):
    config = FeatureConfig()
    features = load_features(real_meta, config, cache_dir=tmp_path, progress=False)
    assert features.shape == (400, config.n_mels, config.num_frames)  # every clip decoded to 5 s at 22050 Hz
    assert torch.isfinite(features).all()
    monkeypatch.setattr(data, "load_audio", lambda *a, **k: pytest.fail("second load_features decoded audio"))
    assert torch.equal(load_features(real_meta, config, cache_dir=tmp_path, progress=False), features)


@pytest.mark.realdata
def test_packaged_manifest_matches_shared_copy():
    shared = require(real_path("ESC-10.sha256"))
    assert read_manifest(shared) == read_manifest()
    assert len(read_manifest()) == 400
