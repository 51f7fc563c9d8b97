"""The training engine: one honest, fast, reproducible loop for both architectures.

Inputs are log-mel features already in memory (see :func:`audiolab.data.load_features`). Each epoch shuffles the
training clips, augments every batch on the fly (time shift, SpecAugment, mixup), and takes AdamW steps on a warm-up +
cosine learning-rate schedule with label smoothing. Nothing is decoded again, which is why an epoch of ESC-10 takes
well under a second on a laptop CPU.

The model of the **last** epoch is the result: the clips scored after each epoch (``x_eval``) are only watched, they
never choose the model.

:class:`TrainConfig`'s defaults are the kit's recipe (Architecture 2 uses ``lr=1e-3``). Checkpoints are written and
read by :mod:`audiolab.checkpoint`.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .augment import AugmentConfig, augment_batch
from .features import Normalizer


@dataclass(frozen=True)
class TrainConfig:
    """Everything about *how* a model is trained (not what it is). The defaults are the kit's recipe:
    AdamW, 5 warm-up epochs then a cosine decay, label smoothing 0.1, per-clip level removal, and
    8 time shifts averaged at evaluation."""

    epochs: int = 100
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.05
    warmup_epochs: int = 5
    label_smoothing: float = 0.1
    per_clip_norm: bool = True  # remove each clip's overall level before standardising (see features.Normalizer)
    tta_shifts: int = 8  # evaluation: average this many evenly spaced time shifts of each clip
    grad_clip: Optional[float] = 5.0
    seed: int = 0
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "mps"
    amp: bool = True  # mixed precision, used on CUDA only
    eval_batch_size: int = 256

    def __post_init__(self):
        if min(self.epochs, self.batch_size, self.tta_shifts) < 1 or not self.lr > 0:
            raise ValueError(f"epochs and batch_size must be >= 1, tta_shifts >= 1 (1 = no test-time shifts) and lr "
                             f"positive; got epochs={self.epochs}, batch_size={self.batch_size}, "
                             f"tta_shifts={self.tta_shifts}, lr={self.lr}")


@dataclass
class TrainResult:
    """What :func:`fit` returns: the trained model and how it got there."""

    model: nn.Module
    normalizer: Normalizer
    history: list  # one dict per epoch: epoch, lr, train_loss, train_acc[, <eval>_loss, <eval>_acc], seconds
    seconds: float
    device: str


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so that the same seed gives the same numbers on CPU."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def select_device(device: str = "auto") -> torch.device:
    """``"auto"`` picks CUDA, then Apple's MPS, then the CPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    return torch.device(device)


def _lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up, then cosine decay to zero."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


@torch.no_grad()
def _evaluate(model, x, y, batch_size, device) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of (already normalised) ``x``."""
    model.eval()
    logits = torch.cat([model(x[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)])
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def fit(model: nn.Module, x_train: torch.Tensor, y_train, x_eval: Optional[torch.Tensor] = None, y_eval=None,
        config: TrainConfig = TrainConfig(), augment: AugmentConfig = AugmentConfig(), eval_name: str = "val",
        on_epoch: Optional[Callable[[dict], None]] = None, description: str = "training") -> TrainResult:
    """Train ``model`` on log-mel features ``x_train`` ``(N, n_mels, frames)`` and labels ``y_train``.

    ``x_eval``/``y_eval`` (optional) are scored after every epoch for the history only, as ``<eval_name>_loss`` and
    ``<eval_name>_acc`` (``"test"`` when they are a cross-validation test fold, ``"val"`` for a validation fold); they
    never choose the returned weights. ``on_epoch`` receives each history row (e.g. to log it to W&B). The model of
    the last epoch is returned; a progress bar shows the epochs (``TQDM_DISABLE=1`` turns it off).
    """
    seed_everything(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    device = select_device(config.device)
    y_train = torch.as_tensor(np.asarray(y_train), dtype=torch.long)
    if len(x_train) != len(y_train):
        raise ValueError(f"x_train has {len(x_train)} clips but y_train has {len(y_train)} labels")
    has_eval = x_eval is not None and y_eval is not None and len(x_eval) > 0

    normalizer = Normalizer(x_train.shape[1], per_clip=config.per_clip_norm).fit(x_train)
    x_train = normalizer(x_train)
    if has_eval:
        x_eval = normalizer(x_eval)
        y_eval = torch.as_tensor(np.asarray(y_eval), dtype=torch.long)
    model.to(device)
    with torch.no_grad():  # the number of classes: the outputs of one tiny forward pass in eval mode
        n_classes = model.eval()(x_train[:2].to(device)).shape[-1]
    # The fused AdamW updates every parameter in one kernel: the same maths, and about a tenth of an
    # Architecture 2 step less on a laptop CPU, where the many small per-tensor updates add up.
    fused = device.type in ("cpu", "cuda")
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, fused=fused)
    steps_per_epoch = math.ceil(len(x_train) / config.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(
        s, config.epochs * steps_per_epoch, config.warmup_epochs * steps_per_epoch))
    use_amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    history = []
    start = time.perf_counter()
    for epoch in (bar := tqdm(range(1, config.epochs + 1), desc=description, leave=False, unit="epoch")):
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        loss_sum, correct = 0.0, 0
        for i in range(0, len(order), config.batch_size):
            idx = order[i : i + config.batch_size]
            if len(idx) < 2 and len(order) > 1:  # a batch of one breaks batch norm
                continue
            xb, yb = x_train[idx], y_train[idx]
            soft = F.one_hot(yb, n_classes).float() * (1.0 - config.label_smoothing) + config.label_smoothing / n_classes
            xb, soft = augment_batch(xb, soft, augment, generator)
            xb, soft, yb = xb.to(device), soft.to(device), yb.to(device)
            with torch.autocast(device.type, enabled=use_amp):
                logits = model(xb)
                loss = torch.sum(-soft * F.log_softmax(logits.float(), dim=1), dim=1).mean()
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.grad_clip:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == yb).sum().item()
        row = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"], "train_loss": loss_sum / len(order),
               "train_acc": correct / len(order)}
        if has_eval:
            row[f"{eval_name}_loss"], row[f"{eval_name}_acc"] = _evaluate(model, x_eval, y_eval,
                                                                          config.eval_batch_size, device)
        row["seconds"] = time.perf_counter() - t0
        history.append(row)
        if on_epoch is not None:
            on_epoch(row)
        bar.set_postfix({k: f"{row[k]:.3f}" for k in ("train_loss", "train_acc", f"{eval_name}_acc") if k in row})
    bar.close()
    return TrainResult(model, normalizer, history, time.perf_counter() - start, str(device))


@torch.no_grad()
def predict_proba(model: nn.Module, x: torch.Tensor, normalizer: Optional[Normalizer] = None, batch_size: int = 256,
                  shifts: int = 1) -> np.ndarray:
    """Class probabilities ``(N, n_classes)`` for raw log-mel features ``x``.

    ``shifts > 1`` averages the probabilities of that many evenly spaced circular
    time shifts of every clip (test-time augmentation matching ``time_shift``).
    """
    device, shifts = next(model.parameters()).device, max(1, shifts)
    if normalizer is not None:
        x = normalizer.to(x.device)(x)
    model.eval()
    total = 0.0
    for s in range(shifts):
        xs = torch.roll(x, shifts=s * x.shape[-1] // shifts, dims=-1)
        total = total + torch.cat([model(xs[i : i + batch_size].to(device)).float().softmax(1).cpu()
                                   for i in range(0, len(xs), batch_size)])
    return (total / shifts).numpy()
