"""Tests of audiolab.data.esc10: the two layouts, the clip table, root resolution, `audiolab data`, the real dataset.

Synthetic datasets come from conftest.py; tests marked ``realdata`` read the real
ESC-10 (``$AUDIOLAB_DATA`` or ``../shared/data/ESC-10`` beside the repository).
The helpers for the real dataset (:func:`real_path`, :func:`require`) and the
``no_data_env`` fixture are imported by the other ``test_data_*`` files.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from audiolab import data
from audiolab.data import (
    ESC10_CLASSES,
    DatasetNotFoundError,
    IncompleteDatasetError,
    esc10,
    load_metadata,
    read_manifest,
    resolve_root,
    summarize,
)

from conftest import ESC50_CATEGORIES, SYNTH_RATE

COLUMNS = ["path", "filename", "fold", "target", "category", "clip_id", "take"]


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


@pytest.mark.parametrize("name", ["../../outside.wav", "/etc/hostname", "sub/../../meta/esc50.csv", ""])
def test_esc50_rows_cannot_name_files_outside_audio(synthetic_esc50, tmp_path, name):
    """A row ``../../outside.ogg`` was read from outside the dataset (#20): one clear error naming the row."""
    root = shutil.copytree(synthetic_esc50, tmp_path / "ESC-50")
    (tmp_path / "outside.wav").write_bytes((root / "audio" / sorted(os.listdir(root / "audio"))[0]).read_bytes())
    lines = (root / "meta" / "esc50.csv").read_text().splitlines()
    lines[3] = name + lines[3][lines[3].index(","):]
    (root / "meta" / "esc50.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=rf"esc50.csv, line 4: filename '{name}' is not a file inside .*audio"):
        load_metadata(root, subset="esc50", strict=False)


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
    monkeypatch.setattr(esc10, "download_esc10", lambda dest: downloads.append(Path(dest)) or Path(dest))

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
    monkeypatch.setattr(esc10, "download_esc10", lambda dest: downloads.append(Path(dest)) or Path(dest))
    assert resolve_root(tmp_path / "here", download=True)[0] == tmp_path / "here" == downloads[0]


def test_esc50_is_never_downloaded(no_data_env):
    with pytest.raises(DatasetNotFoundError, match="ESC-50"):
        resolve_root(download=True, subset="esc50")


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
    assert esc10._manifest_problems(Path(real_meta.attrs["root"]), read_manifest()) == ""  # every sha256 matches
    summary = summarize(real_meta)
    assert summary["sample_rates"] == [44100] and summary["channels"] == [1]
    assert summary["median_duration"] == pytest.approx(5.0, abs=0.01)


# --------------------------------------------------------------------------- `audiolab data`


def test_summarize(synthetic_esc10_meta):
    summary = summarize(synthetic_esc10_meta)
    assert summary["clips"] == 50 and summary["classes"] == list(ESC10_CLASSES) and summary["folds"] == [1, 2, 3, 4, 5]
    assert summary["sample_rates"] == [SYNTH_RATE] and summary["channels"] == [1, 2]
    assert summary["median_duration"] == 3.0 and summary["duration_range"] == (1.0, 5.0)
    assert summary["size_bytes"] == sum(os.path.getsize(p) for p in synthetic_esc10_meta["path"])


def test_data_command(synthetic_esc10, capsys, no_data_env):
    assert data.data_command(synthetic_esc10, strict=False) == 0
    out = capsys.readouterr().out
    for expected in ("Fire crackling", "fold 5", "total", f"{SYNTH_RATE} Hz", "esc10-tree", "root argument", "MB"):
        assert expected in out
    assert data.data_command(synthetic_esc10) == 2
    assert "incomplete" in capsys.readouterr().err
    assert data.data_command() == 2
    err = capsys.readouterr().err
    assert "audiolab data --download" in err and err.count("\n") == 1
