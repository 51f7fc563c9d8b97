"""Log-mel features and the augmentations that act on them.

A five-second clip becomes a ``(n_mels, frames)`` image of log energies. The
1D-convolutional networks in :mod:`audiolab.models` read it as a sequence of
``frames`` time steps, each a vector of ``n_mels`` channels.

Features are computed once per clip (and cached on disk by
:func:`audiolab.data.load_features`); augmentation then works on those tensors
in memory, never by decoding audio again. That is what makes a training epoch
take well under a second on a laptop CPU.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

import torch
import torchaudio
from torch import nn

__all__ = [
    "FeatureConfig",
    "LogMel",
    "Normalizer",
    "AugmentConfig",
    "time_shift",
    "spec_augment",
    "mixup",
    "random_eq",
    "freq_shift",
]


@dataclass(frozen=True)
class FeatureConfig:
    """How a waveform becomes a log-mel spectrogram.

    ``sample_rate`` and ``duration`` also define decoding: every clip is
    resampled to ``sample_rate`` and padded or cropped to ``duration`` seconds.

    Two floors bound the quiet end of the spectrogram. ``top_db`` is relative to
    each clip's loudest bin. ``floor_db`` is absolute: every bin quieter than it
    (in dB of mel power of a full-scale signal, as this front-end computes it, so
    the value belongs with ``n_fft`` and ``n_mels``) is raised to it. Background
    hiss and room noise below the floor, which differ from one recording to the
    next, then all read as the same silence, and a bark or a sneeze stands out
    from it the same way in every recording.
    """

    sample_rate: int = 22050
    duration: float = 5.0
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 64
    f_min: float = 20.0
    f_max: Optional[float] = None
    top_db: Optional[float] = 80.0  # per clip: nothing more than this far below the clip's loudest bin
    floor_db: Optional[float] = None  # absolute floor (dB re full scale of this front-end); None: no floor

    def __post_init__(self):
        if self.sample_rate <= 0 or self.duration <= 0:
            raise ValueError(
                f"sample_rate and duration must be positive, got {self.sample_rate} Hz and {self.duration} s"
            )
        if self.n_mels < 1 or self.hop_length < 1 or self.n_fft < 2:
            raise ValueError(
                f"n_mels, hop_length and n_fft must be positive, got {self.n_mels}, {self.hop_length}, {self.n_fft}"
            )

    @property
    def num_samples(self) -> int:
        """Samples in one decoded clip."""
        return int(round(self.sample_rate * self.duration))

    @property
    def num_frames(self) -> int:
        """Frames in one log-mel spectrogram (torch.stft with ``center=True``)."""
        return self.num_samples // self.hop_length + 1

    def to_dict(self) -> dict:
        return asdict(self)


class LogMel(nn.Module):
    """Waveform ``(..., samples)`` -> log-mel spectrogram ``(..., n_mels, frames)`` in dB."""

    def __init__(self, config: FeatureConfig = FeatureConfig()):
        super().__init__()
        self.config = config
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=config.sample_rate,
            n_fft=config.n_fft,
            hop_length=config.hop_length,
            n_mels=config.n_mels,
            f_min=config.f_min,
            f_max=config.f_max,
            power=2.0,
        )
        # top_db is applied below, per clip: torchaudio's AmplitudeToDB would take the
        # maximum over a whole (clips, n_mels, frames) batch instead.
        self.to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=None)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        db = self.to_db(self.mel(waveform))
        if self.config.top_db is not None:
            floor = db.amax(dim=(-2, -1), keepdim=True) - self.config.top_db
            db = torch.maximum(db, floor)
        if self.config.floor_db is not None:
            db = db.clamp_min(self.config.floor_db)
        return db


class Normalizer(nn.Module):
    """Standardise every mel band with statistics of the *training* clips only.

    With ``per_clip=True`` (the default) each clip's overall level (its mean in dB)
    is removed first: the same chainsaw recorded closer or louder then looks the
    same, which matters on ESC-10, where every fold holds different recordings.
    Fit it on the training folds, then apply it to train, validation and test
    alike, so no statistic leaks from held-out clips.
    """

    def __init__(self, n_mels: int, per_clip: bool = True):
        super().__init__()
        self.register_buffer("per_clip", torch.tensor(bool(per_clip)))
        self.register_buffer("mean", torch.zeros(n_mels, 1))
        self.register_buffer("std", torch.ones(n_mels, 1))

    def _level(self, features: torch.Tensor) -> torch.Tensor:
        if bool(self.per_clip):
            return features - features.mean(dim=(-2, -1), keepdim=True)
        return features

    @torch.no_grad()
    def fit(self, features: torch.Tensor) -> "Normalizer":
        """``features``: ``(clips, n_mels, frames)`` of the training clips."""
        if features.ndim != 3 or features.shape[1] != self.mean.shape[0]:
            raise ValueError(
                f"expected training features of shape (clips, {self.mean.shape[0]}, frames), got {tuple(features.shape)}"
            )
        features = self._level(features)
        self.mean.copy_(features.mean(dim=(0, 2)).unsqueeze(-1))
        self.std.copy_(features.std(dim=(0, 2)).clamp_min(1e-5).unsqueeze(-1))
        return self

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return (self._level(features) - self.mean) / self.std


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentations; each one can be switched off on its own."""

    time_shift: bool = True  # roll every clip by a random offset in time
    spec_augment: bool = True  # mask random bands of time and frequency
    time_masks: int = 2
    time_mask_width: int = 20  # frames
    freq_masks: int = 2
    freq_mask_width: int = 8  # mel bands
    mixup: bool = False  # blend pairs of clips and their labels (the kit's recipe in configs turns it on)
    mixup_alpha: float = 0.4
    random_eq: bool = False  # add a random smooth spectral tilt (a different microphone or room)
    eq_strength: float = 0.5  # in units of each band's standard deviation
    freq_shift: int = 0  # shift the mel bands by up to this many bins, up or down

    @classmethod
    def none(cls) -> "AugmentConfig":
        """Every augmentation switched off: the clips are trained on exactly as they are."""
        return cls(time_shift=False, spec_augment=False, mixup=False, random_eq=False, freq_shift=0)

    def to_dict(self) -> dict:
        return asdict(self)


def time_shift(x: torch.Tensor, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Roll every clip of a batch ``(B, n_mels, frames)`` by its own random offset.

    Environmental sounds are (mostly) the same class wherever they start, and a
    circular shift keeps all of the clip's energy.
    """
    batch, _, frames = x.shape
    shifts = torch.randint(0, frames, (batch,), generator=generator)
    index = (torch.arange(frames).unsqueeze(0) - shifts.unsqueeze(1)) % frames
    return torch.gather(x, 2, index.unsqueeze(1).expand_as(x).to(x.device))


def random_eq(x: torch.Tensor, strength: float = 0.5, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Add a random smooth curve across the mel bands of each clip: a tilt and a gentle bump.

    Two recordings of the same helicopter through different microphones differ
    mostly by such a curve; training on many of them teaches the model to ignore it.
    """
    batch, n_mels, _ = x.shape
    pos = torch.linspace(-1.0, 1.0, n_mels)
    coef = (torch.rand(batch, 3, generator=generator) * 2 - 1) * strength
    curve = coef[:, :1] * pos + coef[:, 1:2] * torch.cos(torch.pi * pos) + coef[:, 2:] * torch.cos(2 * torch.pi * pos)
    return x + curve.unsqueeze(-1).to(x.device)


def freq_shift(x: torch.Tensor, max_shift: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Move each clip's spectrum up or down by up to ``max_shift`` mel bands (edges repeat)."""
    if max_shift <= 0:
        return x
    batch, n_mels, _ = x.shape
    shifts = torch.randint(-max_shift, max_shift + 1, (batch, 1), generator=generator)
    index = (torch.arange(n_mels).unsqueeze(0) - shifts).clamp(0, n_mels - 1)
    return torch.gather(x, 1, index.unsqueeze(-1).expand_as(x).to(x.device))


def _masks(batch: int, size: int, count: int, width: int, generator) -> torch.Tensor:
    """Boolean ``(batch, size)``: True where one of ``count`` random bands of up to ``width`` covers."""
    positions = torch.arange(size).view(1, 1, size)
    widths = torch.randint(0, width + 1, (batch, count, 1), generator=generator)
    starts = (torch.rand(batch, count, 1, generator=generator) * (size - widths + 1)).long()
    return ((positions >= starts) & (positions < starts + widths)).any(dim=1)


def spec_augment(
    x: torch.Tensor,
    time_masks: int = 2,
    time_mask_width: int = 20,
    freq_masks: int = 2,
    freq_mask_width: int = 8,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """SpecAugment (Park et al., 2019): zero random time and frequency bands of each clip.

    ``x`` is a normalised batch ``(B, n_mels, frames)``, so zero is the mean level.
    """
    batch, n_mels, frames = x.shape
    mask = torch.zeros(batch, n_mels, frames, dtype=torch.bool)
    if time_masks and time_mask_width:
        mask |= _masks(batch, frames, time_masks, min(time_mask_width, frames), generator).unsqueeze(1)
    if freq_masks and freq_mask_width:
        mask |= _masks(batch, n_mels, freq_masks, min(freq_mask_width, n_mels), generator).unsqueeze(2)
    return x.masked_fill(mask.to(x.device), 0.0)


def mixup(
    x: torch.Tensor,
    y: torch.Tensor,
    alpha: float = 0.4,
    generator: Optional[torch.Generator] = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """mixup (Zhang et al., 2018): blend each clip with a random partner.

    ``y`` are soft targets ``(B, classes)``; returns the blended batch and targets.
    """
    if alpha <= 0:
        return x, y
    # Beta sampling takes no generator: it draws from torch's global RNG (seeded by training).
    lam = torch.distributions.Beta(alpha, alpha).sample((x.shape[0],))
    lam = torch.maximum(lam, 1 - lam)  # the first clip always dominates
    perm = torch.randperm(x.shape[0], generator=generator)
    lam_x = lam.view(-1, 1, 1).to(x.device)
    lam_y = lam.view(-1, 1).to(y.device)
    return lam_x * x + (1 - lam_x) * x[perm.to(x.device)], lam_y * y + (1 - lam_y) * y[perm.to(y.device)]

