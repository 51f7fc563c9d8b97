"""Training-time augmentation of log-mel batches: each function takes and returns ``(B, n_mels, frames)``.

Features are computed once per clip; these functions then change a batch in memory on
every step, so the model never sees exactly the same clip twice:

* :func:`time_shift` -- roll each clip in time (a bark is a bark wherever it starts);
* :func:`random_eq` -- a random smooth tilt across the mel bands (another microphone or room);
* :func:`spec_augment` -- blank random bands of time and frequency (Park et al., 2019);
* :func:`mixup` -- blend pairs of clips and their labels (Zhang et al., 2018).

:class:`AugmentConfig`'s defaults are the kit's recipe; :meth:`AugmentConfig.none` switches all off.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch


@dataclass(frozen=True)
class AugmentConfig:
    """Training-time augmentations; each one can be switched off on its own. The defaults are the kit's recipe."""

    time_shift: bool = True  # roll every clip by a random offset in time
    spec_augment: bool = True  # mask random bands of time and frequency
    time_masks: int = 2
    time_mask_width: int = 10  # frames (10 frames of the kit's 46-ms hop: 0.46 s)
    freq_masks: int = 2
    freq_mask_width: int = 8  # mel bands
    mixup: bool = True  # blend pairs of clips and their labels
    mixup_alpha: float = 0.4
    random_eq: bool = True  # add a random smooth spectral tilt (a different microphone or room)
    eq_strength: float = 0.5  # in units of each band's standard deviation

    @classmethod
    def none(cls) -> "AugmentConfig":
        """Every augmentation switched off: the clips are trained on exactly as they are."""
        return cls(time_shift=False, spec_augment=False, mixup=False, random_eq=False)


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


def _masks(batch: int, size: int, count: int, width: int, generator) -> torch.Tensor:
    """Boolean ``(batch, size)``: True where one of ``count`` random bands of up to ``width`` covers."""
    positions = torch.arange(size).view(1, 1, size)
    widths = torch.randint(0, width + 1, (batch, count, 1), generator=generator)
    starts = (torch.rand(batch, count, 1, generator=generator) * (size - widths + 1)).long()
    return ((positions >= starts) & (positions < starts + widths)).any(dim=1)


def spec_augment(x: torch.Tensor, time_masks: int = 2, time_mask_width: int = 20, freq_masks: int = 2,
                 freq_mask_width: int = 8, generator: Optional[torch.Generator] = None) -> torch.Tensor:
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


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float = 0.4,
          generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, torch.Tensor]:
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


def augment_batch(x: torch.Tensor, y_soft: torch.Tensor, config: AugmentConfig,
                  generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply ``config``'s augmentations to a normalised batch ``x`` and its soft targets, in the recipe's order."""
    if config.time_shift:
        x = time_shift(x, generator)
    if config.random_eq:
        x = random_eq(x, config.eq_strength, generator)
    if config.spec_augment:
        x = spec_augment(x, config.time_masks, config.time_mask_width, config.freq_masks, config.freq_mask_width,
                         generator)
    if config.mixup:
        x, y_soft = mixup(x, y_soft, config.mixup_alpha, generator)
    return x, y_soft
