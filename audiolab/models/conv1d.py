"""Architecture 1: a 1D-convolutional feature extractor and a fully connected classifier.

The input is a log-mel spectrogram ``(batch, n_mels, frames)``. A 1D convolution treats the ``n_mels`` bands as input
*channels* and slides along time, so each layer learns detectors of short spectro-temporal patterns ("a rising
whistle", "a broadband click") and the stack of layers combines them over ever longer stretches of time.

Every block is ``conv -> batch norm -> activation -> pooling -> dropout``. Depth, channels, kernel size, stride,
activation and pooling are all set in :class:`ConvConfig`, whose defaults are the kit's Architecture 1."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional, Sequence, Union

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "elu": nn.ELU, "leaky_relu": lambda: nn.LeakyReLU(0.1)}


def make_activation(name: str) -> nn.Module:
    """``"relu" | "gelu" | "elu" | "leaky_relu"`` -> a fresh activation module."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}") from None


def _ints(values, name: str, example: str) -> tuple:
    try:
        return tuple(int(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{name} takes positive integers, like {example}; got {values!r}") from None


@dataclass(frozen=True)
class ConvBaseConfig:
    """The 1D-conv feature extractor shared by both architectures (see :class:`ConvBase`). ``channels`` has one entry
    per block, so ``len(channels)`` is the number of blocks. ``stride`` is one number for every block or one per block
    (e.g. ``(2, 1, 1)`` halves the frames in the first block only). ``pool`` (``"max"``, ``"avg"`` or ``"none"``,
    window ``pool_size``) follows every block."""

    channels: Sequence[int] = (64, 128, 128, 256)
    kernel_size: int = 5
    stride: Union[int, Sequence[int]] = (1, 2, 2, 2)
    activation: str = "relu"
    pool: str = "max"
    pool_size: int = 2
    dropout: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "channels", _ints(self.channels, "channels", "(64, 128, 128), one width per block"))
        if len(self.channels) < 1 or min(self.channels) < 1:
            raise ValueError(f"channels must list at least one positive width per block, got {self.channels}")
        if not isinstance(self.stride, int):
            object.__setattr__(self, "stride", _ints(self.stride, "stride", "2 for every block or (2, 1, 1)"))
            if len(self.stride) != len(self.channels):
                raise ValueError(f"stride lists {len(self.stride)} values for {len(self.channels)} conv blocks; "
                                 "give one stride per entry of channels, or a single number for all")
        if self.kernel_size < 1 or min(self.strides) < 1:
            raise ValueError(f"kernel_size and stride must be >= 1, got {self.kernel_size} and {self.stride}")
        make_activation(self.activation)
        if self.pool not in ("max", "avg", "none"):
            raise ValueError(f"pool must be 'max', 'avg' or 'none', got {self.pool!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def strides(self) -> tuple:
        """The stride of every block."""
        return (self.stride,) * len(self.channels) if isinstance(self.stride, int) else self.stride


@dataclass(frozen=True)
class ConvConfig(ConvBaseConfig):
    """Architecture 1: the conv base, ``global_pool`` over the remaining time steps (``"avg"``, ``"max"`` or
    ``"avgmax"``, the concatenation of both), dropout ``head_dropout``, one linear layer. The defaults are the kit's
    Architecture 1: 4 blocks (64-128-128-256), kernel 5, stride 2 in every block but the first."""

    arch: ClassVar[str] = "conv1d"

    global_pool: str = "avgmax"
    head_dropout: float = 0.3

    def __post_init__(self):
        super().__post_init__()
        if self.global_pool not in ("avg", "max", "avgmax"):
            raise ValueError(f"global_pool must be 'avg', 'max' or 'avgmax', got {self.global_pool!r}")
        if not 0.0 <= self.head_dropout < 1.0:
            raise ValueError(f"head_dropout must be in [0, 1), got {self.head_dropout}")


class ConvBlock(nn.Sequential):
    """conv -> batch norm -> activation -> pooling -> dropout."""

    def __init__(self, in_channels: int, out_channels: int, config: ConvBaseConfig, stride: Optional[int] = None):
        stride = config.strides[0] if stride is None else stride
        layers = [nn.Conv1d(in_channels, out_channels, kernel_size=config.kernel_size, stride=stride,
                            padding=config.kernel_size // 2, bias=False),  # batch norm adds the bias
                  nn.BatchNorm1d(out_channels), make_activation(config.activation)]
        if config.pool == "max":
            layers.append(nn.MaxPool1d(config.pool_size, ceil_mode=True))
        elif config.pool == "avg":
            layers.append(nn.AvgPool1d(config.pool_size, ceil_mode=True))
        if config.dropout > 0:
            layers.append(nn.Dropout(config.dropout))
        super().__init__(*layers)


class ConvBase(nn.Module):
    """A stack of :class:`ConvBlock`: ``(B, n_mels, frames) -> (B, channels[-1], steps)``."""

    def __init__(self, in_channels: int, config: ConvBaseConfig = ConvBaseConfig()):
        super().__init__()
        self.config = config
        widths = (in_channels,) + tuple(config.channels)
        self.blocks = nn.Sequential(*(ConvBlock(a, b, config, stride)
                                      for a, b, stride in zip(widths[:-1], widths[1:], config.strides)))
        self.out_channels = widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


def global_pool(x: torch.Tensor, how: str) -> torch.Tensor:
    """``(B, C, steps) -> (B, C)`` (or ``(B, 2C)`` for ``"avgmax"``)."""
    if how == "avg":
        return x.mean(dim=-1)
    if how == "max":
        return x.amax(dim=-1)
    return torch.cat([x.mean(dim=-1), x.amax(dim=-1)], dim=-1)


class Conv1dClassifier(nn.Module):
    """Architecture 1: :class:`ConvBase`, global pooling over time, one fully connected layer."""

    def __init__(self, config: ConvConfig = ConvConfig(), n_mels: int = 64, n_classes: int = 10):
        super().__init__()
        self.config = config
        self.features = ConvBase(n_mels, config)
        pooled = self.features.out_channels * (2 if config.global_pool == "avgmax" else 1)
        self.dropout = nn.Dropout(config.head_dropout)
        self.classifier = nn.Linear(pooled, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log-mel ``(B, n_mels, frames)`` -> class logits ``(B, n_classes)``."""
        h = global_pool(self.features(x), self.config.global_pool)
        return self.classifier(self.dropout(h))
