"""Decoding clips with ``soundfile``, and a PyTorch dataset of waveforms (plumbing).

* :func:`load_audio` -- one clip as a mono float32 tensor at a given sample rate,
  cropped or zero-padded to an exact length (:class:`AudioDecodeError` if unreadable);
* :class:`ESC10Dataset` -- ``dataset[i] -> (waveform, target)``, decoded per item.

Training reads cached log-mel features instead (:mod:`audiolab.data.cache`), which
decodes every clip once with :func:`load_audio`.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Iterable, Optional, Union

import numpy as np
import pandas as pd
import soundfile as sf
import torch
import torchaudio

from audiolab.data.metadata import ESC10_CLASSES, load_metadata
from audiolab.data.paths import _FIX_DOWNLOAD, PathLike
from audiolab.features import FeatureConfig

__all__ = ["AudioDecodeError", "load_audio", "ESC10Dataset"]

_OFFSETS = ("center", "random", "start")

#: Sample rates a file may declare; outside them the header is broken or hostile.
MIN_RATE, MAX_RATE = 100, 768_000
#: The longest file decoded (seconds): a longer one is refused before it is read into memory.
MAX_SECONDS = 600.0
#: The largest numerator/denominator of the resampling ratio: a rate like 44,056 Hz is resampled by the
#: nearest ratio with terms up to this (pitch off by < 1e-6), so the filter bank stays small for any rate.
MAX_RATIO_TERM = 1000


class AudioDecodeError(ValueError):
    """An audio file could not be decoded."""


def _decode(path: PathLike) -> tuple[np.ndarray, int]:
    """Read ``path`` with soundfile as mono float32; raise :class:`AudioDecodeError` if that fails."""
    try:
        info = sf.info(str(path))
    except Exception as error:  # libsndfile raises several types for bad files
        raise AudioDecodeError(_decode_message(path, str(error))) from error
    if not MIN_RATE <= info.samplerate <= MAX_RATE:
        raise AudioDecodeError(f"cannot decode audio file {path}: its header declares {info.samplerate:,} Hz, outside "
                               f"{MIN_RATE:,}-{MAX_RATE:,} Hz; convert it to a usual rate (e.g. 44,100 Hz) first")
    if info.frames > MAX_SECONDS * info.samplerate:
        raise AudioDecodeError(f"cannot decode audio file {path}: it is {info.frames / info.samplerate:,.0f} s long, "
                               f"more than the {MAX_SECONDS:.0f} s the kit reads; cut it into shorter files first")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as error:  # libsndfile raises several types for bad files
        raise AudioDecodeError(_decode_message(path, str(error))) from error
    if data.shape[0] == 0:
        raise AudioDecodeError(_decode_message(path, "it holds no audio samples"))
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


def _decode_message(path: PathLike, why: str) -> str:
    return (
        f"cannot decode audio file {path}: {why}. The file is corrupt or incomplete: verify the dataset with "
        f"audiolab.data.verify_dataset() and re-download it (delete the folder, then {_FIX_DOWNLOAD})."
    )


def _fit_length(wave: torch.Tensor, length: int, offset: str, generator: Optional[torch.Generator]) -> torch.Tensor:
    """Crop or zero-pad ``wave`` to ``length`` samples; ``offset`` places the window or the padding."""
    excess = wave.shape[0] - length
    if excess == 0:
        return wave
    room = abs(excess)
    if offset == "center":
        start = room // 2
    elif offset == "random":
        start = int(torch.randint(0, room + 1, (1,), generator=generator))
    else:
        start = 0
    if excess > 0:
        return wave[start : start + length]
    return torch.nn.functional.pad(wave, (start, room - start))


def load_audio(
    path: PathLike,
    sample_rate: int = 22050,
    duration: float = 5.0,
    offset: str = "center",
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Decode one clip: mono, resampled to ``sample_rate``, exactly ``round(sample_rate * duration)`` samples.

    Longer clips are cropped and shorter ones zero-padded; ``offset`` says where:
    ``"center"`` (the middle, padding split evenly), ``"random"`` (a random
    window or padding split, for training; uses ``generator``) or ``"start"``.
    Returns a 1-D float32 tensor. Raises :class:`AudioDecodeError` for files that
    cannot be read or hold no samples.
    """
    if offset not in _OFFSETS:
        raise ValueError(f"offset must be one of {_OFFSETS}, got {offset!r}")
    data, rate = _decode(path)
    wave = torch.from_numpy(np.ascontiguousarray(data, dtype=np.float32))
    wave = resample(wave, rate, sample_rate)
    return _fit_length(wave, int(round(sample_rate * duration)), offset, generator).contiguous()


class ESC10Dataset(torch.utils.data.Dataset):
    """Waveforms and targets, decoded per item: ``dataset[i] -> (waveform, target)``.

    ``meta_or_root`` is a table from :func:`load_metadata` or a dataset folder
    (``None`` resolves it as :func:`resolve_root` does). ``folds`` keeps only those
    folds. With ``train=True`` each item is a random window of the clip (a new one
    every epoch); otherwise the centre. ``transform`` is applied to the waveform.
    """

    def __init__(
        self,
        meta_or_root: Union[pd.DataFrame, PathLike, None] = None,
        config: FeatureConfig = FeatureConfig(),
        folds: Optional[Iterable[int]] = None,
        train: bool = False,
        transform=None,
    ):
        meta = meta_or_root if isinstance(meta_or_root, pd.DataFrame) else load_metadata(meta_or_root)
        if folds is not None:
            attrs = dict(meta.attrs)
            meta = meta[meta["fold"].isin(list(folds))].reset_index(drop=True)
            meta.attrs.update(attrs)
        self.meta = meta
        self.classes: tuple[str, ...] = tuple(meta.attrs.get("classes", ESC10_CLASSES))
        self.config = config
        self.train = train
        self.transform = transform

    def __len__(self) -> int:
        return len(self.meta)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        row = self.meta.iloc[index]
        wave = load_audio(
            row["path"], self.config.sample_rate, self.config.duration, offset="random" if self.train else "center"
        )
        if self.transform is not None:
            wave = self.transform(wave)
        return wave, int(row["target"])
