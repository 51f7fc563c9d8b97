"""Architecture 2: a 1D-conv base, then a transformer encoder and an MLP head.

1. The conv base (the same :class:`~audiolab.models.conv1d.ConvBase` as Architecture 1) turns the log-mel spectrogram
   into a shorter sequence of feature vectors, one per time step.
2. A linear projection maps each vector to ``d_model`` features.
3. A learnable ``<cls>`` token is put in front of the sequence and learnable positional embeddings are added, so
   attention knows *when* each step is.
4. ``depth`` pre-norm transformer blocks let every time step look at every other through
   :class:`~audiolab.models.attention.MultiHeadSelfAttention`.
5. The ``<cls>`` token, which has gathered information from the whole clip, goes through an MLP head to the class
   logits."""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Sequence, Union

import torch
from torch import nn

from .attention import MultiHeadSelfAttention
from .conv1d import ConvBase, ConvBaseConfig, make_activation


@dataclass(frozen=True)
class TransformerConfig(ConvBaseConfig):
    """Architecture 2: the conv base's fields, then the encoder on top of it. The defaults are the kit's Architecture 2:
    3 conv blocks (64-128-128, stride 2 in the first), a 2-block transformer with ``d_model`` 64 and 4 heads, no dropout
    (the augmentation regularises enough). ``dropout`` applies to the conv blocks and the transformer alike."""

    arch: ClassVar[str] = "transformer"

    channels: Sequence[int] = (64, 128, 128)
    stride: Union[int, Sequence[int]] = (2, 1, 1)
    dropout: float = 0.0
    d_model: int = 64
    heads: int = 4
    depth: int = 2  # transformer blocks
    mlp_ratio: float = 2.0
    attention_dropout: float = 0.0
    mlp_activation: str = "gelu"
    max_tokens: int = 128  # longest token sequence (<cls> + time steps) the positional table covers

    def __post_init__(self):
        super().__post_init__()
        if self.d_model < 1 or self.heads < 1 or self.d_model % self.heads != 0:
            raise ValueError(f"d_model={self.d_model} must be divisible by heads={self.heads}; "
                             f"pick heads from the divisors of {self.d_model} (e.g. 1, 2, 4) or change d_model")
        if self.depth < 1:
            raise ValueError(f"depth must be >= 1, got {self.depth}")
        make_activation(self.mlp_activation)


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + attention(norm(x))``, then ``x + mlp(norm(x))``."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        hidden = int(config.d_model * config.mlp_ratio)
        self.norm1 = nn.LayerNorm(config.d_model)
        self.attention = MultiHeadSelfAttention(config.d_model, config.heads, dropout=config.attention_dropout)
        self.norm2 = nn.LayerNorm(config.d_model)
        self.mlp = nn.Sequential(nn.Linear(config.d_model, hidden), make_activation(config.mlp_activation),
                                 nn.Dropout(config.dropout), nn.Linear(hidden, config.d_model))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, need_weights: bool = False):
        attended, weights = self.attention(self.norm1(x), need_weights=need_weights)
        x = x + self.dropout(attended)
        x = x + self.dropout(self.mlp(self.norm2(x)))
        return x, weights


class ConvTransformer(nn.Module):
    """Architecture 2: conv base -> projection -> ``<cls>`` + positions -> transformer -> MLP head."""

    def __init__(self, config: TransformerConfig = TransformerConfig(), n_mels: int = 64, n_classes: int = 10):
        super().__init__()
        self.config = config
        d = config.d_model
        self.features = ConvBase(n_mels, config)
        self.project = nn.Linear(self.features.out_channels, d)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.positions = nn.Parameter(torch.zeros(1, config.max_tokens, d))
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.positions, std=0.02)
        self.embed_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Sequential(nn.Linear(d, d), make_activation(config.mlp_activation), nn.Dropout(config.dropout),
                                  nn.Linear(d, n_classes))

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Log-mel ``(B, n_mels, frames)`` -> token sequence ``(B, 1 + steps, d_model)``, ``<cls>`` first."""
        steps = self.features(x).transpose(1, 2)  # (B, steps, channels)
        if steps.shape[1] + 1 > self.positions.shape[1]:
            raise ValueError(f"the conv base produced {steps.shape[1]} time steps but max_tokens="
                             f"{self.config.max_tokens}; raise TransformerConfig.max_tokens or downsample more")
        h = self.project(steps)
        cls = self.cls_token.expand(h.shape[0], -1, -1)
        h = torch.cat([cls, h], dim=1)
        return self.embed_dropout(h + self.positions[:, : h.shape[1]])

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        """Class logits ``(B, n_classes)``; with ``return_attention`` also a list of ``(B, heads, T, T)`` per block."""
        h = self.tokens(x)
        maps = []
        for block in self.blocks:
            h, weights = block(h, need_weights=return_attention)
            maps.append(weights)
        logits = self.head(self.norm(h[:, 0]))
        return (logits, maps) if return_attention else logits
