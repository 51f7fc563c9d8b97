"""The kit's configurations: what the notebooks and ``audiolab reports`` train, defined once.

:func:`arch1` and :func:`arch2` (the configs' defaults, the search's starting points), :data:`FEATURES` and
:data:`HEADS`, the 2024 report's :func:`baseline_experiments`, the search spaces (:data:`SPACES`, shared with the W&B
sweeps), the recipe's :data:`ABLATIONS`, the run :data:`PROFILES` (``full``: the 100-epoch run behind ``reports/``;
``smoke``: a check of a few minutes for tests and CI) and :func:`load_dataset` (metadata and features of a profile)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from .augment import AugmentConfig
from .data import DEV_FOLDS, TEST_FOLD
from .experiment import Experiment
from .features import FeatureConfig
from .models import ConvConfig, TransformerConfig
from .train import TrainConfig

#: The front-end of both architectures (FeatureConfig's defaults: hop 46 ms, -30 dB floor). In development runs on
#: folds 1-4 (benchmarks/recipe_ablation.py) neither was more accurate with a 23-ms hop, twice the conv work.
FEATURES = FeatureConfig()

#: The attention heads compared for Architecture 2.
HEADS = (1, 2, 4)


@dataclass(frozen=True)
class Profile:
    """How much work one run of the notebooks does."""

    name: str
    epochs: int
    folds: tuple = (*DEV_FOLDS, TEST_FOLD)  # the official cross-validation's test folds
    search_trials: int = 8
    search_epochs: Optional[int] = None  # None: the same as ``epochs``
    clips_per_class_fold: Optional[int] = None  # None: every clip; smoke runs use a few
    n_seeds: int = 3  # seeds each chosen configuration is cross-validated with (its seed ensemble's members)


PROFILES = {"full": Profile("full", epochs=100, search_trials=8, search_epochs=60),
            "smoke": Profile("smoke", epochs=2, folds=(DEV_FOLDS[0], TEST_FOLD), search_trials=2, search_epochs=1,
                             clips_per_class_fold=1, n_seeds=2)}


def get_profile(name: str = "full", **overrides) -> Profile:
    """A profile by name; keyword arguments that are not ``None`` override its fields."""
    try:
        profile = PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}") from None
    return replace(profile, **{k: (tuple(v) if k == "folds" else v) for k, v in overrides.items() if v is not None})


def arch1(profile: Profile = PROFILES["full"], name: str = "arch1") -> Experiment:
    """Architecture 1 as the kit trains it: the defaults of every config (see :class:`ConvConfig`), but two augmented
    copies of every clip in a step (+2.1 points on the development folds, 0.7 to 3.4 over 5 seeds; README)."""
    return Experiment(name=name, model=ConvConfig(), train=TrainConfig(epochs=profile.epochs, copies=2),
                      description="Architecture 1: 1D-conv blocks (conv, batch norm, ReLU, max-pool, dropout), "
                                  "avg+max pooling, one FC layer")


def arch2(heads: int = 4, profile: Profile = PROFILES["full"], name: Optional[str] = None) -> Experiment:
    """Architecture 2 with ``heads`` attention heads (see :class:`TransformerConfig`), trained at lr 1e-3 (one copy of
    each clip per step: two gave +0.8 points, -0.6 to +2.2 over 5 seeds, no evidence of a gain; README)."""
    return Experiment(name=name or f"arch2-heads{heads}", model=TransformerConfig(heads=heads),
                      train=TrainConfig(epochs=profile.epochs, lr=1e-3),
                      description=f"Architecture 2: conv base, <cls> token, {heads}-head self-attention transformer, MLP head")


def baseline_experiments() -> dict[str, Experiment]:
    """The two configurations of the 2024 report this kit replaces, as faithfully as its text allows.

    The report (Assignment 2, 22 Feb 2024) says: Architecture 1 is "a 1D convolutional neural network with three
    layers, utilizing a kernel size of 3, a stride of 1, ReLU activation functions, and max-pooling with a 2x2 window.
    The classification head is implemented using a fully connected layer." (36,522 trainable parameters; k-fold
    accuracy 0.5975, F1 0.546, AUC 0.955). Architecture 2 has "three 1D convolutional layers with increasing filter
    sizes (32, 64, 128), followed by batch normalization, ReLU activation, dropout, and max-pooling", then a
    transformer encoder (heads 1, 2 or 4), a learnable ``<cls>`` token and an MLP head (335,402 trainable parameters;
    k-fold accuracy 0.5225, test accuracy 0.475). Both: best hyperparameters ``{'num_epochs': 100, 'learning_rate':
    0.001, 'batch_size': 64}``; nothing about augmentation, label smoothing, weight decay, schedules or features.

    Guesses where it is silent: Architecture 1 channels ``(32, 64, 128)``, borrowed from Architecture 2 (38,602
    parameters on 64 mel bands, close to the reported 36,522), global average pooling, no dropout. Architecture 2:
    ``d_model=128``, ``heads=4``, ``depth=2``, dropout 0.1 (the report names dropout, not its rate), classifying from
    ``<cls>`` (402,506 parameters on 64 mel bands, 65,536 of them the 512 learnable positions). Our conv blocks always
    have batch norm. Recipe: AdamW with ``weight_decay=0`` (= Adam), lr 1e-3, batch 64, 100 epochs, a cosine decay to
    zero (a constant rate is not offered), and no warm-up, label smoothing, gradient clipping, augmentation, per-clip
    level normalisation or test-time shifts. Features: a 23-ms hop (1024-point FFT, hop 512) with no absolute floor, the
    kit's front-end of the time."""
    recipe = TrainConfig(epochs=100, batch_size=64, lr=1e-3, weight_decay=0.0, warmup_epochs=0, label_smoothing=0.0,
                         grad_clip=None, per_clip_norm=False, tta_shifts=1)
    features = FeatureConfig(n_fft=1024, hop_length=512, floor_db=None)
    conv = dict(channels=(32, 64, 128), kernel_size=3, stride=1, activation="relu", pool="max", pool_size=2)
    arch1_2024 = Experiment(name="arch1-baseline-2024", features=features, train=recipe, augment=AugmentConfig.none(),
                            model=ConvConfig(**conv, dropout=0.0, global_pool="avg", head_dropout=0.0),
                            description="Architecture 1 as in the 2024 report: 3 conv layers (32, 64, 128 guessed), "
                            "kernel 3, stride 1, ReLU, max-pool 2, one FC layer; lr 1e-3, batch 64, 100 epochs, no augmentation.")
    arch2_2024 = Experiment(name="arch2-baseline-2024", features=features, train=recipe, augment=AugmentConfig.none(),
                            model=TransformerConfig(**conv, dropout=0.1, d_model=128, heads=4, depth=2),
                            description="Architecture 2 as in the 2024 report: conv (32, 64, 128), kernel 3, ReLU, max-pool "
                            "2, transformer d_model 128, 4 heads, 2 blocks; lr 1e-3, batch 64, 100 epochs, no augmentation.")
    return {arch1_2024.name: arch1_2024, arch2_2024.name: arch2_2024}


ARCH1_SPACE: dict[str, list] = {
    "train.lr": [3e-4, 1e-3, 3e-3], "train.batch_size": [32, 64],
    # depth through width presets: 3, 3, 4 and 5 conv blocks
    "model.channels": [(64, 64, 64), (64, 128, 128, 256), (128, 128, 256, 256), (64, 128, 128, 256, 256)],
    "model.kernel_size": [3, 5, 7], "model.stride": [1, 2], "model.activation": ["relu", "gelu", "elu"]}
"""Architecture 1 search space; the notebooks and sweeps/arch1.yaml (its trials), sweeps/arch1-explore.yaml use it."""

ARCH2_SPACE: dict[str, list] = {"model.heads": [1, 2, 4], "model.d_model": [64, 128], "model.depth": [1, 2, 4],
                                "model.dropout": [0.0, 0.1, 0.3], "train.lr": [3e-4, 1e-3, 3e-3]}
"""Architecture 2 search space; the notebooks and sweeps/arch2.yaml (its trials), sweeps/arch2-explore.yaml use it."""

ABLATIONS: dict[str, dict] = {"no-mixup": {"augment.mixup": False}, "no-random-eq": {"augment.random_eq": False},
                              "no-spec-augment": {"augment.spec_augment": False}}
"""The recipe's main ingredients, each switched off on its own: the ablation the notebooks run on the
development folds (:func:`audiolab.evaluation.run_ablation`). More variants (label smoothing, time
shift, the -30 dB floor, kernel sizes, ...) are in ``benchmarks/recipe_ablation.py``."""

SPACES: dict[str, tuple] = {"arch1": (arch1, ARCH1_SPACE), "arch2": (arch2, ARCH2_SPACE)}
"""Sweep name -> (starting configuration, space): the search ``sweeps/<name>.yaml`` runs (``--trial N``)."""


def load_dataset(profile: Profile = PROFILES["full"], root=None, download: bool = False,
                 features: FeatureConfig = FEATURES, own_data: bool = False, strict: bool = True):
    """``(meta, X)``: the metadata table and log-mel features ``(clips, n_mels, frames)`` for a profile. Your own
    data: ``own_data=True`` with ``strict=False`` reads any dataset in the ESC-50 layout (``audio/*.wav`` +
    ``meta/esc50.csv``). Smoke profiles keep ``clips_per_class_fold`` clips of each class in each of the five folds."""
    from .data import load_features, load_metadata

    meta = load_metadata(root, subset="esc50" if own_data else "esc10", download=download, strict=strict)
    if profile.clips_per_class_fold:
        attrs = dict(meta.attrs)
        meta = meta.groupby(["fold", "target"], sort=False).head(profile.clips_per_class_fold).reset_index(drop=True)
        meta.attrs.update(attrs)
    return meta, load_features(meta, features)
