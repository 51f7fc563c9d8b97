"""The two architectures of the course and a single way to build them from a config dict."""
from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from .attention import MultiHeadSelfAttention
from .conv1d import Conv1dClassifier, ConvBase, ConvConfig
from .transformer import ConvTransformer, TransformerConfig

__all__ = [
    "ARCHITECTURES",
    "Conv1dClassifier",
    "ConvBase",
    "ConvConfig",
    "ConvTransformer",
    "MultiHeadSelfAttention",
    "TransformerConfig",
    "build_model",
]

ARCHITECTURES = ("conv1d", "transformer")


def build_model(arch: str, n_mels: int, n_classes: int, params: Mapping[str, Any] | None = None) -> nn.Module:
    """Build Architecture 1 (``"conv1d"``) or 2 (``"transformer"``) from a flat dict.

    ``params`` may hold any field of :class:`ConvConfig` (``channels``, ``kernel_size``,
    ``stride``, ``activation``, ``pool``, ``dropout``, ...), of :class:`TransformerConfig`
    (``d_model``, ``heads``, ``depth``, ``mlp_activation``, ...) and ``head_dropout`` for
    Architecture 1. For Architecture 2 one ``dropout`` sets both the conv blocks and the
    transformer.
    Unknown keys raise, so a typo in a search space cannot pass silently.
    """
    params = dict(params or {})
    conv_keys = set(ConvConfig.__dataclass_fields__)
    conv = {k: params.pop(k) for k in list(params) if k in conv_keys}
    if arch == "conv1d":
        extra = {k: params.pop(k) for k in list(params) if k == "head_dropout"}
        _reject(params, arch)
        return Conv1dClassifier(n_mels, n_classes, ConvConfig(**conv), **extra)
    if arch == "transformer":
        tkeys = set(TransformerConfig.__dataclass_fields__)
        trans = {k: params.pop(k) for k in list(params) if k in tkeys}
        if "dropout" in conv:
            trans.setdefault("dropout", conv["dropout"])
        _reject(params, arch)
        conv.setdefault("channels", (128, 128, 128))
        conv.setdefault("global_pool", "avg")
        return ConvTransformer(n_mels, n_classes, ConvConfig(**conv), TransformerConfig(**trans))
    raise ValueError(f"unknown architecture {arch!r}; choose one of {ARCHITECTURES}")


def _reject(leftover: dict, arch: str) -> None:
    if leftover:
        raise ValueError(f"unknown model parameter(s) for {arch!r}: {sorted(leftover)}")
