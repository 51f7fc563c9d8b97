"""Decoding clips with ``soundfile`` (:func:`load_audio`), and their log-mel features cached on disk
(:func:`load_features`): every clip is decoded once, later runs load one tensor file."""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd
import soundfile as sf
import torch
import torchaudio
from tqdm.auto import tqdm

from audiolab._util import PathLike, atomic_write, plain
from audiolab.data.esc10 import CACHE_ENV, FIX_DOWNLOAD, default_cache_dir
from audiolab.features import FeatureConfig, LogMel

#: Sample rates a file may declare; outside them the header is broken or hostile.
MIN_RATE, MAX_RATE = 100, 768_000
#: The longest file decoded (seconds): a longer one is refused before it is read into memory.
MAX_SECONDS = 600.0
#: The largest numerator/denominator of the resampling ratio: a rate like 44,056 Hz is resampled by the
#: nearest ratio with terms up to this (pitch off by < 1e-6), so the filter bank stays small for any rate.
MAX_RATIO_TERM = 1000
#: Bumped when the cached features of the same clips and config would change.
FEATURE_CACHE_VERSION = 1


class AudioDecodeError(ValueError):
    """An audio file could not be decoded."""


def _decode(path: PathLike) -> tuple[np.ndarray, int]:
    """Read ``path`` with soundfile as mono float32; raise :class:`AudioDecodeError` if that fails."""
    why = ("is corrupt or incomplete: re-download the dataset (delete the folder, then "
           f"{FIX_DOWNLOAD}) or replace the file")
    try:
        info = sf.info(str(path))
        if not MIN_RATE <= info.samplerate <= MAX_RATE:
            raise AudioDecodeError(f"cannot decode audio file {path}: its header declares {info.samplerate:,} Hz, "
                                   f"outside {MIN_RATE:,}-{MAX_RATE:,} Hz; convert it to a usual rate (e.g. 44,100 Hz)")
        if info.frames > MAX_SECONDS * info.samplerate:
            raise AudioDecodeError(f"cannot decode audio file {path}: it is {info.frames / info.samplerate:,.0f} s "
                                   f"long, more than the {MAX_SECONDS:.0f} s the kit reads; cut it into shorter files")
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except AudioDecodeError:
        raise
    except Exception as error:  # libsndfile raises several types for bad files
        raise AudioDecodeError(f"cannot decode audio file {path} ({error}): it {why}") from error
    if data.shape[0] == 0:
        raise AudioDecodeError(f"cannot decode audio file {path}: it holds no audio samples; it {why}")
    if not np.isfinite(data).all():
        raise AudioDecodeError(f"cannot decode audio file {path}: it holds NaN or infinite samples; "
                               "re-export it from the program that made it")
    return data.mean(axis=1), rate


def resample(wave: torch.Tensor, rate: int, sample_rate: int) -> torch.Tensor:
    """``wave`` from ``rate`` to ``sample_rate`` Hz, band-limited (torchaudio's windowed sinc), at a cost that
    does not grow with the rates: the ratio is the nearest one with terms up to :data:`MAX_RATIO_TERM`
    (exact for the usual rates: 44,100 to 22,050 Hz is 2:1, 48,000 to 22,050 Hz is 320:147)."""
    if rate == sample_rate:
        return wave
    ratio = Fraction(sample_rate, rate).limit_denominator(MAX_RATIO_TERM)
    if ratio.numerator > MAX_RATIO_TERM:  # upsampling by more than the bound: bound the numerator instead
        ratio = 1 / (1 / ratio).limit_denominator(MAX_RATIO_TERM)
    return torchaudio.functional.resample(wave, ratio.denominator, ratio.numerator)


def load_audio(path: PathLike, sample_rate: int = 22050, duration: float = 5.0, offset: str = "center") -> torch.Tensor:
    """Decode one clip: a mono float32 tensor at ``sample_rate`` of exactly ``round(sample_rate * duration)`` samples,
    cropped or zero-padded at the ``"center"`` or the ``"start"``. :class:`AudioDecodeError` for a file that cannot be
    read, holds no samples or NaN/inf, declares an absurd rate or is longer than :data:`MAX_SECONDS`."""
    if offset not in ("center", "start"):
        raise ValueError(f"offset must be center or start, got {offset!r}")
    data, rate = _decode(path)
    wave = resample(torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32)), rate, sample_rate)
    length = int(round(sample_rate * duration))
    room = abs(wave.shape[0] - length)
    start = room // 2 if offset == "center" else 0
    if wave.shape[0] >= length:
        return wave[start : start + length].contiguous()
    return torch.nn.functional.pad(wave, (start, room - start))


def _cache_key(meta: pd.DataFrame, config: FeatureConfig) -> str:
    """sha256 of the clip list (relative path, size, mtime), the config and the cache format version."""
    root, files = meta.attrs.get("root"), []
    for path in meta["path"]:
        info = os.stat(path)
        rel = os.path.relpath(path, root) if root else os.path.abspath(path)
        files.append([Path(rel).as_posix(), info.st_size, info.st_mtime_ns])
    payload = {"version": FEATURE_CACHE_VERSION, "decode": "center", "config": plain(config), "files": files}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def load_features(meta: pd.DataFrame, config: FeatureConfig = FeatureConfig(),
                  cache_dir: Optional[PathLike] = None) -> torch.Tensor:
    """Log-mel features ``(clips, n_mels, frames)`` float32 in ``meta``'s row order (:func:`load_audio`, centre
    window, in up to 4 threads), cached in ``cache_dir`` (default ``default_cache_dir()/"features"``) under a key of
    the files (path, size, mtime), the config and the cache format: nothing stale is read, a damaged cache is
    recomputed, an unwritable one is a warning."""
    shape = (len(meta), config.n_mels, config.num_frames)
    if len(meta) == 0:
        return torch.zeros(shape)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir() / "features"
    path = folder / f"logmel-{_cache_key(meta, config)[:32]}.pt"
    with contextlib.suppress(Exception):  # missing or damaged: recomputed, never trusted
        cached = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(cached, torch.Tensor) and tuple(cached.shape) == shape:
            return cached
    logmel = LogMel(config)

    def one(clip: str) -> torch.Tensor:
        with torch.no_grad():
            return logmel(load_audio(clip, config.sample_rate, config.duration, offset="center"))

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # parallelism comes from the decoding threads; nested intra-op threads only contend
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
            clips = pool.map(one, meta["path"])
            features = torch.stack(list(tqdm(clips, total=len(meta), desc="Decoding clips", unit="clip")))
    finally:
        torch.set_num_threads(threads)
    try:
        atomic_write(path, lambda handle: torch.save(features, handle), binary=True)
    except (OSError, RuntimeError) as error:  # torch reports a full disk as RuntimeError
        warnings.warn(f"could not write the feature cache {path} ({str(error).splitlines()[0]}); going on without "
                      f"it. Free space there or set {CACHE_ENV} to another folder.", RuntimeWarning, stacklevel=2)
    return features
