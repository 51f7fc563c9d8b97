"""Shared fixtures: small synthetic ESC-10 datasets, generated on the fly.

No audio is committed. Every tree is written with numpy + soundfile into a
session-wide temporary folder, so treat the fixtures as read-only (copy one
with ``shutil.copytree`` before changing it).

* ``synthetic_esc10`` -- the original ESC-10 tree: ``NNN - Class name/<fold>-<clipid>-A.ogg``,
  10 classes x 5 clips (one per fold, so every fold holds every class), 8 kHz,
  1-5 s long (so decoding to 5 s pads, and to shorter durations crops), the
  first clip of each class in stereo. Each class is a tone of its own pitch plus
  a little noise, so a model can learn it. Unrelated files lie around (README,
  xlsx, .DS_Store, AppleDouble ``._*`` files, ``__MACOSX/``) and must be ignored.
* ``synthetic_esc50`` -- the ESC-50 release layout: ``audio/*.wav`` + ``meta/esc50.csv``
  with all 50 ESC-50 categories; the ten ESC-10 categories hold the same clips
  (same fold, clip id and audio) as ``synthetic_esc10``, the other 40 one 1 s clip each.
* ``synthetic_esc10_meta`` -- ``load_metadata(synthetic_esc10, strict=False)``.

Every test also gets ``$AUDIOLAB_CACHE`` pointed at a temporary folder, so no
test writes feature caches or downloads into ``~/.cache``.
"""
from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

os.environ.setdefault("TQDM_DISABLE", "1")  # read by tqdm when it is imported: no progress bars in tests

from audiolab.data import CACHE_ENV, ESC10_CLASSES, load_metadata

# The test models are tiny: one thread is faster than two fighting over the
# machine's two cores (with pytest-xdist or a busy CI box, 10-50x faster).
torch.set_num_threads(1)

SYNTH_RATE = 8000
SYNTH_CLIPS_PER_CLASS = 5  # one per fold
SYNTH_DURATIONS = (5.0, 1.0, 2.5, 4.0, 3.0)  # seconds, by clip index within a class

# ESC-50's own category names, index = ESC-50 target id.
ESC50_CATEGORIES = (
    "dog", "rooster", "pig", "cow", "frog", "cat", "hen", "insects", "sheep", "crow",
    "rain", "sea_waves", "crackling_fire", "crickets", "chirping_birds", "water_drops", "wind",
    "pouring_water", "toilet_flush", "thunderstorm", "crying_baby", "sneezing", "clapping",
    "breathing", "coughing", "footsteps", "laughing", "brushing_teeth", "snoring", "drinking_sipping",
    "door_wood_knock", "mouse_click", "keyboard_typing", "door_wood_creaks", "can_opening",
    "washing_machine", "vacuum_cleaner", "clock_alarm", "clock_tick", "glass_breaking", "helicopter",
    "chainsaw", "siren", "car_horn", "engine", "train", "church_bells", "airplane", "fireworks", "hand_saw",
)
ESC10_IN_ESC50 = (
    "dog", "rain", "sea_waves", "crying_baby", "clock_tick",
    "sneezing", "helicopter", "chainsaw", "rooster", "crackling_fire",
)  # ESC-50 names of ESC10_CLASSES, same order


def synth_signal(seed: int, pitch: float, duration: float, channels: int = 1, rate: int = SYNTH_RATE) -> np.ndarray:
    """A tone at ``pitch`` Hz plus a little noise, ``(samples, channels)`` float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(duration * rate))) / rate
    mono = 0.5 * np.sin(2 * np.pi * pitch * t) + 0.05 * rng.standard_normal(t.size)
    columns = [mono * (1.0 if c == 0 else 0.5) for c in range(channels)]
    return np.stack(columns, axis=1).astype(np.float32)


def synthetic_clips() -> list[dict]:
    """The clips of the synthetic ESC-10: class index, fold, clip id, take, duration, channels, audio."""
    clips = []
    for target in range(len(ESC10_CLASSES)):
        for k in range(SYNTH_CLIPS_PER_CLASS):
            clip_id = str(100000 + 10 * target + k)
            channels = 2 if k == 0 else 1
            duration = SYNTH_DURATIONS[k]
            clips.append(dict(
                target=target, fold=k + 1, clip_id=clip_id, take="A", duration=duration, channels=channels,
                audio=synth_signal(int(clip_id), 300.0 + 250.0 * target, duration, channels),
            ))
    return clips


def _unrelated(folder: Path, names: dict[str, bytes]) -> None:
    for name, content in names.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content)


@pytest.fixture(scope="session")
def synthetic_esc10(tmp_path_factory) -> Path:
    """Root of a small ESC-10 tree in the original layout (read-only by convention)."""
    root = tmp_path_factory.mktemp("synthetic") / "ESC-10"
    for clip in synthetic_clips():
        folder = root / f"{clip['target'] + 1:03d} - {ESC10_CLASSES[clip['target']]}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{clip['fold']}-{clip['clip_id']}-{clip['take']}.ogg"
        sf.write(folder / name, clip["audio"], SYNTH_RATE, format="OGG", subtype="VORBIS")
    _unrelated(root, {
        "README.md": b"# ESC-10\n",
        "README.txt": b"ESC-10\n",
        "ESC-10-HumanClassification.xlsx": b"PK\x03\x04 not really a spreadsheet",
        ".DS_Store": b"\x00\x00\x00\x01Bud1",
        "001 - Dog bark/.DS_Store": b"\x00\x00\x00\x01Bud1",
        "001 - Dog bark/._1-100000-A.ogg": b"\x00\x05\x16\x07 AppleDouble",
        "002 - Rain/notes.txt": b"stray file\n",
        "__MACOSX/001 - Dog bark/._1-100000-A.ogg": b"\x00\x05\x16\x07",
    })
    return root


@pytest.fixture(scope="session")
def synthetic_esc50(tmp_path_factory) -> Path:
    """Root of a small ESC-50 release: ``audio/*.wav`` and ``meta/esc50.csv`` (read-only by convention)."""
    root = tmp_path_factory.mktemp("synthetic") / "ESC-50-master"
    (root / "audio").mkdir(parents=True)
    (root / "meta").mkdir()
    rows = []

    def add(audio, fold, target, clip_id, take):
        name = f"{fold}-{clip_id}-{take}-{target}.wav"
        sf.write(root / "audio" / name, audio, SYNTH_RATE)
        category = ESC50_CATEGORIES[target]
        rows.append(dict(filename=name, fold=fold, target=target, category=category,
                         esc10=category in ESC10_IN_ESC50, src_file=clip_id, take=take))

    for clip in synthetic_clips():
        target = ESC50_CATEGORIES.index(ESC10_IN_ESC50[clip["target"]])
        add(clip["audio"], clip["fold"], target, clip["clip_id"], clip["take"])
    for target, category in enumerate(ESC50_CATEGORIES):
        if category not in ESC10_IN_ESC50:
            clip_id = str(200000 + target)
            add(synth_signal(int(clip_id), 200.0 + 70.0 * target, 1.0), target % 5 + 1, target, clip_id, "A")
    rows.sort(key=lambda r: r["filename"])
    with open(root / "meta" / "esc50.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _unrelated(root, {
        "README.md": b"# ESC-50\n",
        "audio/.DS_Store": b"\x00\x00\x00\x01Bud1",
        "audio/readme.txt": b"stray\n",
        "meta/esc50-human.xlsx": b"PK\x03\x04",
    })
    return root


@pytest.fixture
def synthetic_esc10_meta(synthetic_esc10):
    """Metadata table of ``synthetic_esc10`` (50 clips, folds 1-5, all classes in every fold); a fresh copy per test."""
    return load_metadata(synthetic_esc10, strict=False)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Keep feature caches and downloads of every test out of ``~/.cache``; no W&B runs, no progress bars
    (a test that wants W&B sets ``WANDB_MODE`` itself, see ``_wandb.py``)."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path_factory.getbasetemp() / "audiolab-cache"))
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path_factory.getbasetemp()))
    monkeypatch.delenv("AUDIOLAB_WORKERS", raising=False)
