"""Training-time augmentation of log-mel clips: each function takes and returns ``(..., n_mels, frames)``.

Features are computed once per clip; these functions then change the clips in memory for every epoch, so the model
never sees exactly the same clip twice:

* :func:`time_shift` -- roll each clip in time (a bark is a bark wherever it starts);
* :func:`random_eq` -- a random smooth tilt across the mel bands (another microphone or room);
* :func:`spec_augment` -- blank random bands of time and frequency (Park et al., 2019);
* :func:`mixup` -- blend pairs of clips and their labels (Zhang et al., 2018);
* off in the recipe, measured by ``benchmarks/recipe_ablation.py``: :func:`time_stretch` and :func:`mel_shift` (a
  faster or slower, higher or lower sound), :func:`between_class` (pairs mixed as sounds mix, instead of mixup) and
  training on random windows (``crop_frames``).

Each function is given its random choices (shifts, curves, bands, partners) as tensors, drawn by :func:`draw` from
one model's own NumPy generator. That split is what lets :func:`audiolab.train.fit_cohort` train many models at once:
every model draws its own choices, and :func:`augment` applies all of them in a few tensor operations, on the device,
for a whole epoch. :class:`AugmentConfig`'s defaults are the kit's recipe; :meth:`AugmentConfig.none` switches all off.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
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
    time_stretch: float = 1.0  # play each clip up to this factor faster or slower (1.25: 0.8x to 1.25x); 1 = off
    mel_shift: int = 0  # move each clip up or down by up to this many mel bands; 0 = off
    between_class: bool = False  # mix pairs in power, at loudness-aware ratios (BC learning), instead of mixup
    crop_frames: int = 0  # train on a random window of this many frames of each clip (0 = the whole clip)

    @classmethod
    def none(cls) -> "AugmentConfig":
        """Every augmentation switched off: the clips are trained on exactly as they are."""
        return cls(time_shift=False, spec_augment=False, mixup=False, random_eq=False)


def time_stretch(x: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
    """Play each clip of ``x`` ``(..., n_mels, frames)`` ``rate`` ``(...)`` times as fast: frame ``t`` of the result is
    frame ``t * rate`` of the clip, linearly interpolated, wrapping around as :func:`time_shift` does."""
    frames = x.shape[-1]
    position = torch.arange(frames, device=x.device) * rate.unsqueeze(-1)  # (..., frames)
    below = position.floor()
    frame = [(below.long() + i) % frames for i in (0, 1)]
    return torch.lerp(*(torch.gather(x, -1, f.unsqueeze(-2).expand(x.shape)) for f in frame),
                      (position - below).unsqueeze(-2))


def mel_shift(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Move each clip ``shift`` ``(...)`` mel bands up (a higher sound) or down, repeating its edge band."""
    n_mels = x.shape[-2]
    index = (torch.arange(n_mels, device=x.device) - shift.unsqueeze(-1)).clamp(0, n_mels - 1)  # (..., n_mels)
    return torch.gather(x, -2, index.unsqueeze(-1).expand(x.shape))


def time_shift(x: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """Roll every clip of ``x`` ``(..., n_mels, frames)`` by its own number of frames ``shifts`` ``(...)``:
    environmental sounds are (mostly) the same class wherever they start, and a circular shift keeps all of the clip's
    energy."""
    frames = x.shape[-1]
    index = (torch.arange(frames, device=x.device) - shifts.unsqueeze(-1)) % frames  # (..., frames)
    return torch.gather(x, -1, index.unsqueeze(-2).expand(x.shape))


def random_eq(x: torch.Tensor, coef: torch.Tensor) -> torch.Tensor:
    """Add to each clip a smooth curve across the mel bands: ``coef`` ``(..., 3)`` weighs a tilt and two gentle bumps.
    Two recordings of the same helicopter through different microphones differ mostly by such a curve; training on
    many of them teaches the model to ignore it."""
    pos = torch.linspace(-1.0, 1.0, x.shape[-2], device=x.device)
    shapes = torch.stack([pos, torch.cos(torch.pi * pos), torch.cos(2 * torch.pi * pos)])  # (3, n_mels)
    return x + (coef @ shapes).unsqueeze(-1)


def band_mask(size: int, starts: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
    """Boolean ``(..., size)``: True where one of the bands ``[start, start + width)`` (``(..., bands)``) covers."""
    positions = torch.arange(size, device=starts.device)
    return ((positions >= starts.unsqueeze(-1)) & (positions < (starts + widths).unsqueeze(-1))).any(dim=-2)


def spec_augment(x: torch.Tensor, time_mask: torch.Tensor, freq_mask: torch.Tensor) -> torch.Tensor:
    """SpecAugment (Park et al., 2019): zero the masked time steps ``(..., frames)`` and mel bands ``(..., n_mels)``.
    ``x`` is standardised, so zero is the mean level. :func:`band_mask` makes the masks."""
    return x.masked_fill(time_mask.unsqueeze(-2), 0.0).masked_fill_(freq_mask.unsqueeze(-1), 0.0)


def mixup(x: torch.Tensor, y: torch.Tensor, lam: torch.Tensor, partner: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """mixup (Zhang et al., 2018): blend clip ``i`` of ``x`` ``(..., clips, n_mels, frames)`` with clip ``partner[i]``
    by ``lam[i]``, and their soft targets ``y`` ``(..., clips, classes)`` alike."""
    lam_x = lam.view(*lam.shape, 1, 1)
    return torch.lerp(_pick(x, partner), x, lam_x), torch.lerp(_pick(y, partner), y, lam.unsqueeze(-1))


def _pick(t: torch.Tensor, partner: torch.Tensor) -> torch.Tensor:
    """Row ``partner[i]`` of ``t`` ``(..., clips, ...)`` at row ``i``."""
    return torch.gather(t, partner.dim() - 1, partner.view(*partner.shape, *[1] * (t.dim() - partner.dim()))
                        .expand(t.shape))


def between_class(x: torch.Tensor, y: torch.Tensor, ratio: torch.Tensor,
                  partner: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Between-class learning (Tokozume et al., ICLR 2018) on log-mel dB ``x`` ``(..., clips, n_mels, frames)``
    *before* normalisation: clip ``i`` and clip ``partner[i]`` mix as two sounds do, in power, weighted so that the
    partner is heard at share ``1 - ratio`` whatever the two clips' loudness (their mean level); the target is the
    ``ratio`` blend of their targets."""
    other = _pick(x, partner)
    ratio = ratio.clamp(1e-3, 1 - 1e-3)
    louder = (x.mean((-2, -1)) - other.mean((-2, -1))) / 20  # (..., clips): log10 of the clip's amplitude ratio
    p = (1 / (1 + 10 ** louder * (1 - ratio) / ratio)).view(*ratio.shape, 1, 1)
    to_log = math.log(10) / 10  # dB -> natural log of power
    mixed = torch.logaddexp(x * to_log + 2 * torch.log(p), other * to_log + 2 * torch.log1p(-p)) / to_log
    return mixed - 10 * torch.log10(p ** 2 + (1 - p) ** 2), torch.lerp(_pick(y, partner), y, ratio.unsqueeze(-1))


def draw(config: AugmentConfig, clips: int, n_mels: int, frames: int, rng: np.random.Generator) -> dict:
    """One model's random choices for ``clips`` clips (NumPy arrays, one row per clip), as :func:`augment` takes them."""
    out = {}
    if config.time_shift:
        out["shift"] = rng.integers(0, frames, clips)
    if config.random_eq:
        out["eq"] = rng.uniform(-config.eq_strength, config.eq_strength, (clips, 3)).astype(np.float32)
    if config.spec_augment:
        for name, size, count, width in (("time", frames, config.time_masks, config.time_mask_width),
                                         ("freq", n_mels, config.freq_masks, config.freq_mask_width)):
            widths = rng.integers(0, min(width, size) + 1, (clips, count))
            out[f"{name}_start"] = (rng.random((clips, count)) * (size - widths + 1)).astype(np.int64)
            out[f"{name}_width"] = widths
    if config.mixup and config.mixup_alpha > 0:
        lam = rng.beta(config.mixup_alpha, config.mixup_alpha, clips)
        out["lam"] = np.maximum(lam, 1 - lam).astype(np.float32)  # the clip itself always dominates
        out["partner"] = rng.permutation(clips)
    if config.time_stretch > 1:
        out["stretch"] = np.exp(rng.uniform(-1, 1, clips) * np.log(config.time_stretch)).astype(np.float32)
    if config.mel_shift:
        out["mel_shift"] = rng.integers(-config.mel_shift, config.mel_shift + 1, clips)
    if config.between_class:
        out["ratio"], out["bc_partner"] = rng.random(clips).astype(np.float32), rng.permutation(clips)
    return out


def augment(x: torch.Tensor, y_soft: torch.Tensor, config: AugmentConfig, choices: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply ``config``'s augmentations, in the recipe's order, to standardised clips ``x`` ``(..., clips, n_mels,
    frames)`` and their soft targets ``(..., clips, classes)``, with the random ``choices`` of :func:`draw` (as
    tensors on ``x``'s device; for many models, stacked along the leading dimensions). :func:`between_class`
    mixes clips before normalisation: :func:`audiolab.train.fit_cohort` applies it first."""
    for key, transform in (("stretch", time_stretch), ("mel_shift", mel_shift), ("shift", time_shift)):
        if key in choices:
            x = transform(x, choices[key])
    if config.crop_frames:  # after a random circular shift, the first frames are a random window
        x = x[..., : config.crop_frames]
    if "eq" in choices:
        x = random_eq(x, choices["eq"])
    if "time_start" in choices:
        x = spec_augment(x, band_mask(x.shape[-1], choices["time_start"], choices["time_width"]),
                         band_mask(x.shape[-2], choices["freq_start"], choices["freq_width"]))
    if "lam" in choices:
        x, y_soft = mixup(x, y_soft, choices["lam"], choices["partner"])
    return x, y_soft
