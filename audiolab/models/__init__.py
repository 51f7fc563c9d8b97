"""The two architectures of the course and a single way to build them from a config dict."""
from __future__ import annotations

from typing import Any, Mapping

from torch import nn

from .attention import MultiHeadSelfAttention
from .conv1d import HEAD_DROPOUT, Conv1dClassifier, ConvBase, ConvConfig
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
    "resolved_params",
]

ARCHITECTURES = ("conv1d", "transformer")


#: Architecture 2's conv base differs from ConvConfig's defaults in these fields.
TRANSFORMER_CONV_DEFAULTS = {"channels": (128, 128, 128), "global_pool": "avg"}


def _configs(arch: str, params: Mapping[str, Any] | None):
    """``(ConvConfig, TransformerConfig or None, extra kwargs)`` for ``arch`` from a flat dict."""
    params = dict(params or {})
    conv = {k: params.pop(k) for k in list(params) if k in ConvConfig.__dataclass_fields__}
    if arch == "conv1d":
        extra = {"head_dropout": params.pop("head_dropout", HEAD_DROPOUT)}
        _reject(params, arch)
        return ConvConfig(**conv), None, extra
    if arch == "transformer":
        trans = {k: params.pop(k) for k in list(params) if k in TransformerConfig.__dataclass_fields__}
        _reject(params, arch)
        for key, value in TRANSFORMER_CONV_DEFAULTS.items():
            conv.setdefault(key, value)
        if "dropout" in conv:
            trans.setdefault("dropout", conv["dropout"])
        return ConvConfig(**conv), TransformerConfig(**trans), {}
    raise ValueError(f"unknown architecture {arch!r}; choose one of {ARCHITECTURES}")


def build_model(arch: str, n_mels: int, n_classes: int, params: Mapping[str, Any] | None = None) -> nn.Module:
    """Build Architecture 1 (``"conv1d"``) or 2 (``"transformer"``) from a flat dict.

    ``params`` may hold any field of :class:`ConvConfig` (``channels``, ``kernel_size``,
    ``stride``, ``activation``, ``pool``, ``dropout``, ...), of :class:`TransformerConfig`
    (``d_model``, ``heads``, ``depth``, ``mlp_activation``, ...) and ``head_dropout`` for
    Architecture 1. For Architecture 2 one ``dropout`` sets both the conv blocks and the
    transformer. Unknown keys raise, so a typo in a search space cannot pass silently.
    """
    conv, transformer, extra = _configs(arch, params)
    if transformer is None:
        return Conv1dClassifier(n_mels, n_classes, conv, **extra)
    return ConvTransformer(n_mels, n_classes, conv, transformer)


def resolved_params(arch: str, params: Mapping[str, Any] | None = None) -> dict:
    """Every model parameter with the value :func:`build_model` really uses (defaults filled in)."""
    conv, transformer, extra = _configs(arch, params)
    out = conv.to_dict()
    if transformer is not None:
        out.update({k: v for k, v in transformer.to_dict().items() if k not in out})
    out.update(extra)
    return out


def _reject(leftover: dict, arch: str) -> None:
    if leftover:
        raise ValueError(f"unknown model parameter(s) for {arch!r}: {sorted(leftover)}")
