"""The two architectures of the course.

Read in this order:

1. :mod:`~audiolab.models.conv1d` -- Architecture 1: conv blocks, global pooling, one linear layer;
2. :mod:`~audiolab.models.attention` -- multi-head self-attention written from scratch;
3. :mod:`~audiolab.models.transformer` -- Architecture 2: the conv base, a ``<cls>`` token, transformer blocks.

Plumbing: :mod:`~audiolab.models.cohort` runs K models of one shape in one forward pass (for the training engine).

A model is described by its config (:class:`ConvConfig` or :class:`TransformerConfig`, whose
defaults are the kit's two architectures) and built with :func:`build_model`."""
from __future__ import annotations

from typing import Union

from torch import nn

from .attention import MultiHeadSelfAttention
from .conv1d import Conv1dClassifier, ConvBase, ConvBaseConfig, ConvConfig
from .transformer import ConvTransformer, TransformerConfig

ModelConfig = Union[ConvConfig, TransformerConfig]

#: architecture name -> (its config, its module)
ARCHITECTURES = {"conv1d": (ConvConfig, Conv1dClassifier), "transformer": (TransformerConfig, ConvTransformer)}


def build_model(config: ModelConfig, n_mels: int = 64, n_classes: int = 10) -> nn.Module:
    """Architecture 1 from a :class:`ConvConfig`, Architecture 2 from a :class:`TransformerConfig`."""
    for cls, module in ARCHITECTURES.values():
        if type(config) is cls:
            return module(config, n_mels, n_classes)
    raise TypeError(f"build_model takes a ConvConfig or a TransformerConfig, got {type(config).__name__}")
