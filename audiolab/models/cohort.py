"""Many models in one forward pass: K models of one architecture, their parameters stacked ``(K, ...)``
(``torch.func.stack_module_state``), model k on its clips ``x[k]``: ``(K, B, n_mels, frames)`` -> ``(K, B, classes)``.

Any model runs under ``torch.func.vmap`` of ``functional_call`` (PyTorch's model-ensembling recipe). Architecture 1
is written out, with about half of vmap's dispatched operations (``benchmarks/cohort.py`` counts them): model k's
channels are the k-th group of one grouped convolution, batch norm gives every channel its own statistics, the rest
works on ``(K, B, C, T)``. With ReLU it computes what vmap computes bit for bit, dropout's masks included; with GELU
or ELU the gradients differ in the last bits (vmap's batch norm sums them in another order).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .conv1d import Conv1dClassifier, ConvBase, global_pool

#: the layers Architecture 1's cohort is written out for; a model with others (a student's change) runs under vmap
WRITTEN_OUT = (ConvBase, nn.Sequential, nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d, nn.AvgPool1d, nn.Dropout, nn.ReLU,
               nn.GELU, nn.ELU, nn.LeakyReLU)


def stacked_forward(skeleton: nn.Module):
    """``forward(params, buffers, x)`` for K models shaped like ``skeleton`` (its own weights are not used)."""
    if type(skeleton) is Conv1dClassifier and all(isinstance(m, WRITTEN_OUT) for m in skeleton.features.modules()):
        return lambda params, buffers, x: _grouped_conv1d(skeleton, params, buffers, x)
    return torch.func.vmap(lambda p, b, xb: torch.func.functional_call(skeleton, (p, b), (xb,)),
                           randomness="different")  # each model its own dropout masks


def _grouped_conv1d(model: Conv1dClassifier, params: dict, buffers: dict, x: torch.Tensor) -> torch.Tensor:
    h, k, counts = x, x.shape[0], []
    for name, layer in model.features.blocks.named_modules(prefix="features.blocks"):
        if isinstance(layer, nn.Conv1d):  # (B, K*C, T): model k's channels are the k-th group
            h = h.transpose(0, 1).flatten(1, 2)
            h = F.conv1d(h, params[name + ".weight"].flatten(0, 1), None, layer.stride, layer.padding, groups=k)
        elif isinstance(layer, nn.BatchNorm1d):  # each model's channels their own statistics; then scale, shift
            counts.append(buffers[name + ".num_batches_tracked"])
            h = F.batch_norm(h, buffers[name + ".running_mean"].view(-1), buffers[name + ".running_var"].view(-1),
                             None, None, model.training, layer.momentum, layer.eps)
            h = h * params[name + ".weight"].view(1, -1, 1) + params[name + ".bias"].view(1, -1, 1)
            h = h.view(h.shape[0], k, -1, h.shape[-1]).transpose(0, 1)  # (K, B, C, T)
        elif isinstance(layer, (nn.MaxPool1d, nn.AvgPool1d)):  # pooled along time: a (1, size) window in 2-D
            pool = F.max_pool2d if isinstance(layer, nn.MaxPool1d) else F.avg_pool2d
            size, stride = (v if isinstance(v, int) else v[0] for v in (layer.kernel_size, layer.stride))
            h = pool(h, (1, size), (1, stride), ceil_mode=layer.ceil_mode)
        elif isinstance(layer, nn.Dropout):
            h = _dropout(h, layer.p, model.training)
        elif not isinstance(layer, nn.Sequential):  # the activation
            h = layer(h)
    if model.training:
        torch._foreach_add_(counts, 1)  # batch norm counts its batches
    h = _dropout(global_pool(h, model.config.global_pool), model.dropout.p, model.training)  # (K, B, features)
    return torch.bmm(h, params["classifier.weight"].transpose(1, 2)) + params["classifier.bias"].unsqueeze(1)


def _dropout(h: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Dropout on ``(K, B, ...)``, each model its own mask, drawn as ``vmap`` draws it."""
    if not training or p == 0:
        return h
    return h * h.new_empty(h.shape).bernoulli_(1 - p).div_(1 - p)
