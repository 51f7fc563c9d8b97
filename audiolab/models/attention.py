"""Multi-head self-attention, written from scratch.

For a sequence ``x`` of ``T`` vectors of size ``d_model``:

1. Three linear maps give each position a *query*, a *key* and a *value*.
2. They are split into ``heads`` groups of ``d_head = d_model // heads`` features.
   Each head compares every query with every key::

       scores  = Q @ K^T / sqrt(d_head)          # (T, T): how well position i matches j
       weights = softmax(scores, over j)          # each row sums to 1
       out     = weights @ V                      # a weighted average of the values

3. The heads are concatenated back to ``d_model`` features and mixed by the *output projection*.

Several heads let the layer attend to several things at once (one head may follow the onset of a dog bark while
another tracks background rain). The result matches ``torch.nn.MultiheadAttention`` to floating-point precision when
the weights are copied over (see ``tests/test_attention.py``)."""
from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn


class MultiHeadSelfAttention(nn.Module):
    """Self-attention over ``(batch, tokens, d_model)`` with ``heads`` heads."""

    def __init__(self, d_model: int, heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if heads < 1 or d_model % heads != 0:
            raise ValueError(f"d_model={d_model} must be divisible by heads={heads}: each head gets d_model // heads "
                             f"features. Choose heads from the divisors of {d_model} (e.g. 1, 2, 4) or change d_model.")
        self.d_model, self.heads, self.d_head = d_model, heads, d_model // heads
        self.query = nn.Linear(d_model, d_model, bias=bias)
        self.key = nn.Linear(d_model, d_model, bias=bias)
        self.value = nn.Linear(d_model, d_model, bias=bias)
        self.out = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, d_model) -> (B, heads, T, d_head)``."""
        batch, tokens, _ = x.shape
        return x.view(batch, tokens, self.heads, self.d_head).transpose(1, 2)

    def forward(self, x: torch.Tensor, need_weights: bool = False) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Returns ``(output, weights)``; ``weights`` is ``(B, heads, T, T)`` or ``None``."""
        batch, tokens, _ = x.shape
        q = self._split_heads(self.query(x))
        k = self._split_heads(self.key(x))
        v = self._split_heads(self.value(x))

        scores = q @ k.transpose(-2, -1) / math.sqrt(self.d_head)  # (B, heads, T, T)
        weights = scores.softmax(dim=-1)
        context = self.dropout(weights) @ v  # (B, heads, T, d_head)

        context = context.transpose(1, 2).reshape(batch, tokens, self.d_model)  # concatenate the heads
        return self.out(context), (weights if need_weights else None)
