"""The kit's chosen configurations and run profiles.

Everything the notebooks and ``audiolab reports`` train is defined here, once:

* :data:`FEATURES` — the log-mel front-end used by every experiment;
* :func:`arch1` and :func:`arch2` — the starting configurations of the two
  architectures (the hyperparameter search in the notebooks starts from these);
* :data:`PROFILES` — ``full`` (the real 100-epoch, 5-fold run behind ``reports/``)
  and ``smoke`` (a check of a few minutes, used by the tests and CI);
* :func:`load_dataset` — metadata and cached features for a profile.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Optional

from .features import AugmentConfig, FeatureConfig
from .train import TrainConfig

__all__ = [
    "FEATURES",
    "Profile",
    "PROFILES",
    "get_profile",
    "arch1",
    "arch2",
    "HEADS",
    "load_dataset",
    "results_dir_for",
]

#: The front-end of both architectures: 22.05 kHz, 2048-point FFT, hop 1024 (46 ms), 64 mel bands:
#: 108 frames per 5-s clip; bins quieter than -30 dB (of a full-scale signal) are raised to -30 dB
#: (see FeatureConfig). Half the frames of a 23-ms hop, so Architecture 2's conv base does half the work
#: and Architecture 1's first block needs no stride; in development runs on folds 1-4
#: (benchmarks/recipe_ablation.py) neither architecture was more accurate with the finer hop.
FEATURES = FeatureConfig(sample_rate=22050, duration=5.0, n_fft=2048, hop_length=1024, n_mels=64, floor_db=-30.0)

#: The attention heads compared for Architecture 2.
HEADS = (1, 2, 4)


@dataclass(frozen=True)
class Profile:
    """How much work one run of the notebooks does."""

    name: str
    epochs: int
    folds: tuple = (1, 2, 3, 4, 5)
    search_trials: int = 8
    search_epochs: Optional[int] = None  # None: the same as ``epochs``
    clips_per_class_fold: Optional[int] = None  # None: every clip; smoke runs use a few
    ensemble_size: int = 3  # seeds of the chosen configuration cross-validated for the seed ensemble

    def to_dict(self) -> dict:
        return asdict(self)


PROFILES = {
    "full": Profile("full", epochs=100, folds=(1, 2, 3, 4, 5), search_trials=8, search_epochs=60),
    "smoke": Profile("smoke", epochs=2, folds=(1, 2), search_trials=2, search_epochs=1, clips_per_class_fold=1,
                     ensemble_size=2),
}


def get_profile(name: str = "full", **overrides) -> Profile:
    """A profile by name; keyword arguments that are not ``None`` override its fields."""
    try:
        profile = PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}") from None
    changes = {k: (tuple(v) if k == "folds" else v) for k, v in overrides.items() if v is not None}
    return replace(profile, **changes)


def _train(profile: Profile, **fields) -> TrainConfig:
    """The kit's recipe: AdamW, warm-up + cosine, label smoothing, time shift + SpecAugment (time masks
    up to 10 frames, 0.46 s) + random EQ + mixup, per-clip level normalisation, and 8 time shifts
    averaged at evaluation."""
    augment = AugmentConfig(mixup=True, random_eq=True, time_mask_width=10)
    return TrainConfig(epochs=profile.epochs, tta_shifts=8, augment=augment, **fields)


def arch1(profile: Profile = PROFILES["full"], name: str = "arch1"):
    """Architecture 1, as the kit trains it by default: 4 conv blocks (64-128-128-256), kernel 5,
    stride 2 in every block but the first (the 46-ms hop is coarse enough to start from)."""
    from .experiments import Experiment

    return Experiment(
        name=name,
        arch="conv1d",
        params={"channels": (64, 128, 128, 256), "kernel_size": 5, "stride": (1, 2, 2, 2), "activation": "relu",
                "pool": "max", "dropout": 0.1, "global_pool": "avgmax"},
        train=_train(profile),
        features=FEATURES,
        description="Architecture 1: 1D-conv blocks (conv, batch norm, ReLU, max-pool, dropout), avg+max pooling, one FC layer",
    )


def arch2(heads: int = 4, profile: Profile = PROFILES["full"], name: Optional[str] = None):
    """Architecture 2 with ``heads`` attention heads: 3 conv blocks
    (64-128-128, the first with stride 2), then a 2-block transformer (d_model 64) over 7 time steps + ``<cls>``;
    no dropout (the augmentation regularises enough, and dropout's random masks cost a fifth of a CPU epoch)."""
    from .experiments import Experiment

    return Experiment(
        name=name or f"arch2-heads{heads}",
        arch="transformer",
        params={"channels": (64, 128, 128), "kernel_size": 5, "stride": (2, 1, 1), "activation": "relu",
                "pool": "max", "dropout": 0.0, "d_model": 64, "heads": heads, "depth": 2},
        train=_train(profile, lr=1e-3),
        features=FEATURES,
        description=f"Architecture 2: conv base, <cls> token, {heads}-head self-attention transformer, MLP head",
    )


def results_dir_for(profile: Profile, results_dir: Optional[os.PathLike] = None) -> Path:
    """Where a profile's results go: ``results_dir`` if given, ``$AUDIOLAB_RESULTS``, else
    ``reports/results`` for the full profile and a scratch folder for smoke runs (so a
    smoke run never overwrites the committed reports)."""
    if results_dir is not None:
        return Path(results_dir)
    if os.environ.get("AUDIOLAB_RESULTS"):
        return Path(os.environ["AUDIOLAB_RESULTS"])
    if profile.name == "full":
        return _repo_root() / "reports" / "results"
    return Path(tempfile.gettempdir()) / "audiolab-smoke" / "results"


def _repo_root() -> Path:
    """The checkout this package lives in (for an installed package: the working directory)."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "notebooks").is_dir() else Path.cwd()


def load_dataset(
    profile: Profile = PROFILES["full"],
    root=None,
    download: bool = False,
    features: FeatureConfig = FEATURES,
    subset: str = "esc10",
    strict: bool = True,
):
    """``(meta, X)``: the metadata table and log-mel features ``(clips, n_mels, frames)`` for a profile.

    ``subset="esc50"`` with ``strict=False`` reads any dataset in the ESC-50 layout
    (``audio/*.wav`` + ``meta/esc50.csv``), which is how to bring your own data.

    Smoke profiles keep ``clips_per_class_fold`` clips of each class in each fold (all
    five folds stay, so the held-out split and the search still have their folds).
    """
    from .data import load_features, load_metadata

    meta = load_metadata(root, subset=subset, download=download, strict=strict)
    if profile.clips_per_class_fold:
        attrs = dict(meta.attrs)
        meta = meta.groupby(["fold", "target"], sort=False).head(profile.clips_per_class_fold).reset_index(drop=True)
        meta.attrs.update(attrs)
    return meta, load_features(meta, features)
