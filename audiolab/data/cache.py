"""The on-disk log-mel cache: decode every clip once, then load one tensor file (plumbing).

:func:`load_features` decodes each clip (:func:`~audiolab.data.audio.load_audio`,
centre window), turns it into a log-mel spectrogram, and stores the stack in
``default_cache_dir()/"features"/logmel-<key>.pt``. The key is a sha256 of the
clip list (relative path, size, mtime), the feature config and
:data:`FEATURE_CACHE_VERSION`, so any change to the data or the config misses the
cache, and nothing stale is ever read. A damaged cache file is recomputed.
"""
from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd
import torch
from tqdm.auto import tqdm

from audiolab._util import atomic_write
from audiolab.data.audio import load_audio
from audiolab.data.paths import PathLike, default_cache_dir
from audiolab.features import FeatureConfig, LogMel

__all__ = ["FEATURE_CACHE_VERSION", "default_cache_dir", "load_features"]

FEATURE_CACHE_VERSION = 1


def _feature_key(meta: pd.DataFrame, config: FeatureConfig) -> str:
    """sha256 of the clip list (relative path, size, mtime), the config and the cache format version."""
    root = meta.attrs.get("root")
    files = []
    for path in meta["path"]:
        info = os.stat(path)
        rel = os.path.relpath(path, root) if root else os.path.abspath(path)
        files.append([Path(rel).as_posix(), info.st_size, info.st_mtime_ns])
    payload = {"version": FEATURE_CACHE_VERSION, "decode": "center", "config": config.to_dict(), "files": files}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _read_cache(path: Path, expected_shape: tuple[int, ...]) -> Optional[torch.Tensor]:
    if not path.is_file():
        return None
    try:
        features = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a damaged cache file is recomputed, never trusted
        return None
    if not isinstance(features, torch.Tensor) or tuple(features.shape) != expected_shape:
        return None
    return features


def _write_cache(path: Path, features: torch.Tensor) -> None:
    """Write atomically (a temporary file in the same folder, then ``os.replace``)."""
    atomic_write(path, lambda handle: torch.save(features, handle), binary=True)


def _compute_features(paths: Sequence[str], config: FeatureConfig, progress: bool, workers: int) -> torch.Tensor:
    logmel = LogMel(config)

    def one(path: str) -> torch.Tensor:
        with torch.no_grad():
            return logmel(load_audio(path, config.sample_rate, config.duration, offset="center"))

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # parallelism comes from the workers; nested intra-op threads only contend
    try:
        return _run_workers(one, paths, progress, workers)
    finally:
        torch.set_num_threads(threads)


def _run_workers(one, paths: Sequence[str], progress: bool, workers: int) -> torch.Tensor:
    with tqdm(total=len(paths), desc="Decoding clips", unit="clip", disable=not progress) as bar:
        if workers <= 1:
            out = []
            for path in paths:
                out.append(one(path))
                bar.update()
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                out = []
                for features in pool.map(one, paths):
                    out.append(features)
                    bar.update()
    return torch.stack(out).float().contiguous()


def _default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def load_features(
    meta: pd.DataFrame,
    config: FeatureConfig = FeatureConfig(),
    cache_dir: Optional[PathLike] = None,
    progress: bool = True,
    workers: Optional[int] = None,
) -> torch.Tensor:
    """Log-mel features ``(clips, n_mels, frames)`` float32, in ``meta``'s row order, cached on disk.

    Each clip is decoded with :func:`load_audio` (centre window) and turned into
    a :class:`~audiolab.features.LogMel` spectrogram. The result is stored in
    ``cache_dir`` (default ``default_cache_dir()/"features"``) under a key that
    changes whenever a file (path, size, mtime), the config, or the cache format
    changes; later calls load that file without decoding anything.
    ``workers`` threads decode in parallel (default: up to 4, one per core).
    """
    shape = (len(meta), config.n_mels, config.num_frames)
    if len(meta) == 0:
        return torch.zeros(shape)
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir() / "features"
    path = folder / f"logmel-{_feature_key(meta, config)[:32]}.pt"
    cached = _read_cache(path, shape)
    if cached is not None:
        return cached
    features = _compute_features(list(meta["path"]), config, progress, workers or _default_workers())
    _write_cache(path, features)
    return features
