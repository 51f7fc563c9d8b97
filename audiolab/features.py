"""Log-mel features: a five-second clip becomes a ``(n_mels, frames)`` image of log energies, which the 1D-conv networks
of :mod:`audiolab.models` read as ``frames`` time steps of ``n_mels`` channels. They are computed once per clip and
cached (:func:`audiolab.data.load_features`); augmentation works on them in memory, never decoding audio again."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torchaudio
from torch import nn


@dataclass(frozen=True)
class FeatureConfig:
    """How a waveform becomes a log-mel spectrogram; ``sample_rate`` and ``duration`` also define decoding (every clip
    is resampled to ``sample_rate`` and padded or cropped to ``duration`` seconds). Two floors bound the quiet end:
    ``top_db`` below each clip's loudest bin, and the absolute ``floor_db`` (dB of mel power of a full-scale signal, so
    it belongs with ``n_fft`` and ``n_mels``). Hiss and room noise below the floor, which differ from one recording to
    the next, then all read as the same silence. The defaults are the kit's front-end: 22.05 kHz, a 2048-point FFT, hop
    1024 (46 ms), 64 mel bands, so 108 frames per 5-s clip, with bins below -30 dB raised to -30 dB."""

    sample_rate: int = 22050
    duration: float = 5.0
    n_fft: int = 2048
    hop_length: int = 1024
    n_mels: int = 64
    f_min: float = 20.0
    f_max: Optional[float] = None
    top_db: Optional[float] = 80.0  # per clip: nothing more than this far below the clip's loudest bin
    floor_db: Optional[float] = -30.0  # absolute floor (dB re full scale of this front-end); None: no floor

    def __post_init__(self):
        if self.sample_rate <= 0 or self.duration <= 0:
            raise ValueError(f"sample_rate and duration must be positive, got {self.sample_rate} Hz and {self.duration} s")
        if self.n_mels < 1 or self.hop_length < 1 or self.n_fft < 2:
            raise ValueError(f"n_mels, hop_length and n_fft must be positive, got {self.n_mels}, {self.hop_length}, "
                             f"{self.n_fft}")

    @property
    def num_samples(self) -> int:
        """Samples in one decoded clip."""
        return int(round(self.sample_rate * self.duration))

    @property
    def num_frames(self) -> int:
        """Frames in one log-mel spectrogram (torch.stft with ``center=True``)."""
        return self.num_samples // self.hop_length + 1


class LogMel(nn.Module):
    """Waveform ``(..., samples)`` -> log-mel spectrogram ``(..., n_mels, frames)`` in dB."""

    def __init__(self, config: FeatureConfig = FeatureConfig()):
        super().__init__()
        self.config = config
        self.mel = torchaudio.transforms.MelSpectrogram(sample_rate=config.sample_rate, n_fft=config.n_fft,
                                                        hop_length=config.hop_length, n_mels=config.n_mels,
                                                        f_min=config.f_min, f_max=config.f_max, power=2.0)
        # top_db is applied below, per clip: AmplitudeToDB's own top_db would use the maximum of a whole batch of clips
        self.to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=None)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        db = self.to_db(self.mel(waveform))
        if self.config.top_db is not None:
            db = torch.maximum(db, db.amax(dim=(-2, -1), keepdim=True) - self.config.top_db)
        if self.config.floor_db is not None:
            db = db.clamp_min(self.config.floor_db)
        return db


class Normalizer(nn.Module):
    """Standardise every mel band with statistics of the *training* clips only (fit it on the training folds, apply it
    to all, so no statistic leaks from held-out clips). With ``per_clip=True`` each clip's mean level in dB is removed
    first: the same chainsaw recorded closer or louder then looks the same."""

    def __init__(self, n_mels: int, per_clip: bool = True):
        super().__init__()
        self.register_buffer("per_clip", torch.tensor(bool(per_clip)))
        self.register_buffer("mean", torch.zeros(n_mels, 1))
        self.register_buffer("std", torch.ones(n_mels, 1))

    def _level(self, features: torch.Tensor) -> torch.Tensor:
        return features - features.mean(dim=(-2, -1), keepdim=True) if bool(self.per_clip) else features

    @torch.no_grad()
    def fit(self, features: torch.Tensor) -> "Normalizer":
        """``features``: ``(clips, n_mels, frames)`` of the training clips."""
        if features.ndim != 3 or features.shape[1] != self.mean.shape[0]:
            raise ValueError(f"expected training features of shape (clips, {self.mean.shape[0]}, frames), "
                             f"got {tuple(features.shape)}")
        features = self._level(features)
        self.mean.copy_(features.mean(dim=(0, 2)).unsqueeze(-1))
        self.std.copy_(features.std(dim=(0, 2)).clamp_min(1e-5).unsqueeze(-1))
        return self

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (self._level(features) - self.mean) / self.std
