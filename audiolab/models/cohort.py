"""Many models in one forward pass: K models of one architecture, their parameters stacked ``(K, ...)``
(``torch.func.stack_module_state``), model k on its clips ``x[k]``: ``(K, B, n_mels, frames)`` -> ``(K, B, classes)``.

Any model runs under ``torch.func.vmap`` of ``functional_call`` (PyTorch's model-ensembling recipe). Architecture 1 is
written out, with about half of vmap's dispatched operations (``benchmarks/cohort.py`` counts them): model k's channels
are the k-th group of one grouped convolution and keep that place, ``(B, K*C, T)``, through batch norm (every channel
its own statistics), activation, pooling and dropout. A cohort of one is the model itself."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .conv1d import Conv1dClassifier, ConvBase, global_pool

#: the layers Architecture 1's cohort is written out for; a model with others (a student's change) runs under vmap
WRITTEN_OUT = (ConvBase, nn.Sequential, nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d, nn.AvgPool1d, nn.Dropout, nn.ReLU,
               nn.GELU, nn.ELU, nn.LeakyReLU)


def stacked_forward(skeleton: nn.Module, k: int):
    """``forward(params, buffers, x)`` for ``k`` models shaped like ``skeleton`` (its own weights are not used)."""
    if k == 1:  # the model itself, on the one model's weights and clips (squeezed: views both ways, no copy)
        return lambda params, buffers, x: torch.func.functional_call(skeleton, (
            {n: p.squeeze(0) for n, p in params.items()}, {n: b.squeeze(0) for n, b in buffers.items()}), (x[0],))[None]
    if type(skeleton) is Conv1dClassifier and all(isinstance(m, WRITTEN_OUT) for m in skeleton.features.modules()):
        return lambda params, buffers, x: _grouped_conv1d(skeleton, params, buffers, x)
    return torch.func.vmap(lambda p, b, xb: torch.func.functional_call(skeleton, (p, b), (xb,)),
                           randomness="different")  # each model its own dropout masks


def _grouped_conv1d(model: Conv1dClassifier, params: dict, buffers: dict, x: torch.Tensor) -> torch.Tensor:
    k, b = x.shape[:2]
    h, counts = x.transpose(0, 1).flatten(1, 2), []  # (B, K*C, T): model k's channels are the k-th group
    for name, layer in model.features.blocks.named_modules(prefix="features.blocks"):
        if isinstance(layer, nn.Conv1d):
            h = F.conv1d(h, params[name + ".weight"].flatten(0, 1), None, layer.stride, layer.padding, groups=k)
        elif isinstance(layer, nn.BatchNorm1d):
            counts.append(buffers[name + ".num_batches_tracked"])
            h = F.batch_norm(h, *(buffers[f"{name}.running_{s}"].view(-1) for s in ("mean", "var")),
                             params[name + ".weight"].view(-1), params[name + ".bias"].view(-1), model.training,
                             layer.momentum, layer.eps)
        elif isinstance(layer, nn.Dropout):  # each model its own mask, drawn (K, B, C, T)
            h = _dropout(h.view(b, k, -1, h.shape[-1]).transpose(0, 1), layer.p, model.training).transpose(0, 1)
            h = h.flatten(1, 2)
        elif not isinstance(layer, nn.Sequential):  # activation, pooling along time
            h = layer(h)
    if model.training:
        torch._foreach_add_(counts, 1)  # batch norm counts its batches
    h = global_pool(h.view(b, k, -1, h.shape[-1]).transpose(0, 1), model.config.global_pool)  # (K, B, features)
    h = _dropout(h, model.dropout.p, model.training)
    return torch.bmm(h, params["classifier.weight"].transpose(1, 2)) + params["classifier.bias"].unsqueeze(1)


def _dropout(h: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout on ``(K, B, ...)``, each model its own mask."""
    if not training or p == 0:
        return h
    return h * h.new_empty(h.shape).bernoulli_(1 - p).div_(1 - p)
