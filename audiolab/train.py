"""The training engine: one loop for both architectures, training one model (:func:`fit`) or many at once
(:func:`fit_cohort`).

Inputs are log-mel features already in memory (:func:`audiolab.data.load_features`). Each epoch shuffles the training
clips, augments them (:mod:`audiolab.augment`), and takes AdamW steps on a warm-up + cosine learning-rate schedule with
label smoothing. The model of the **last** epoch is the result: the clips scored after each epoch are only watched, they
never choose the model. :class:`TrainConfig`'s defaults are the kit's recipe (Architecture 2 uses ``lr=1e-3``)."""
from __future__ import annotations

import copy
import ctypes
import math
import platform
import random
import time
from dataclasses import dataclass, replace
from typing import Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .augment import AugmentConfig, augment as apply_augment, between_class, draw
from .features import Normalizer
from .models.cohort import stacked_forward


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
    copies: int = 1  # differently augmented copies of every clip in a step (a batch holds batch_size * copies)

    def __post_init__(self):
        if min(self.epochs, self.batch_size, self.tta_shifts, self.copies) < 1 or not self.lr > 0:
            raise ValueError(f"epochs, batch_size and copies must be >= 1, tta_shifts >= 1 (1 = no test-time shifts) "
                             f"and lr positive; got epochs={self.epochs}, batch_size={self.batch_size}, copies="
                             f"{self.copies}, tta_shifts={self.tta_shifts}, lr={self.lr}")


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


def keep_freed_memory() -> None:
    """Tells glibc's malloc to keep the large blocks this process frees (thresholds of 2 GB; off glibc, nothing): it
    hands them back to the system, and a training's tensors, made again every step, were paged in afresh (README)."""
    if platform.libc_ver()[0] == "glibc":
        for option, value in ((-1, 2**31 - 1), (-2, 2**30), (-3, 2**31 - 1)):  # M_TRIM_THRESHOLD, _TOP_PAD, _MMAP_
            ctypes.CDLL(None).mallopt(option, value)


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


def clip_grad_norms_(grads: list, max_norm: float) -> None:
    """:func:`torch.nn.utils.clip_grad_norm_` for every model of a cohort on its own: ``grads`` are stacked
    ``(K, ...)``; each model's gradients are scaled down to a norm of at most ``max_norm``."""
    k = len(grads[0])
    norms = torch.stack([torch.linalg.vector_norm(g, dim=tuple(range(1, g.dim()))) if g.dim() > 1 else g.abs()
                         for g in grads])  # (tensors, K)
    coef = (max_norm / (torch.linalg.vector_norm(norms, dim=0) + 1e-6)).clamp(max=1.0)
    coefs = {d: coef.view(k, *[1] * (d - 1)) for d in {g.dim() for g in grads}}  # a view per rank, not per tensor
    torch._foreach_mul_(grads, [coefs[g.dim()] for g in grads])


def fit(model: nn.Module, x_train: torch.Tensor, y_train, x_eval: Optional[torch.Tensor] = None, y_eval=None,
        config: TrainConfig = TrainConfig(), augment: AugmentConfig = AugmentConfig(), eval_name: str = "val",
        on_epoch: Optional[Callable[[dict], None]] = None, description: str = "training") -> TrainResult:
    """Train ``model`` on log-mel features ``x_train`` ``(N, n_mels, frames)`` and labels ``y_train``.

    ``x_eval``/``y_eval`` (optional) are scored after every epoch for the history only, as ``<eval_name>_loss`` and
    ``<eval_name>_acc`` (``"test"`` when they are a cross-validation test fold, ``"val"`` for a validation fold); they
    never choose the returned weights. ``on_epoch`` receives each history row (e.g. to log it to W&B). The model of the
    last epoch is returned; a progress bar shows the epochs (``TQDM_DISABLE=1`` turns it off). This is
    :func:`fit_cohort` for a cohort of one."""
    y_train, n = np.asarray(y_train), len(x_train)
    if n != len(y_train):
        raise ValueError(f"x_train has {n} clips but y_train has {len(y_train)} labels")
    has_eval = x_eval is not None and y_eval is not None and len(x_eval) > 0
    x, y = (torch.cat([x_train, x_eval]), np.concatenate([y_train, y_eval])) if has_eval else (x_train, y_train)
    return fit_cohort([model], x, y, [np.arange(n)], [np.arange(n, len(x))] if has_eval else None, config, augment,
                      eval_name, None if on_epoch is None else lambda rows: on_epoch(rows[0]), description)[0]


def fit_cohort(models: Sequence[nn.Module], x: torch.Tensor, y, train_idx: Sequence, eval_idx: Optional[Sequence] = None,
               config: "TrainConfig | Sequence[TrainConfig]" = TrainConfig(), augment: AugmentConfig = AugmentConfig(),
               eval_name: str = "val", on_epoch: Optional[Callable[[list], None]] = None,
               description: str = "training", targets: Optional[torch.Tensor] = None) -> list[TrainResult]:
    """Train a **cohort**: K models of one architecture and shape at once, each on its own clips, in one step.

    Model ``k`` trains on the clips ``x[train_idx[k]]`` (every model as many) with ``config[k]`` (the same recipe, only
    the seed may differ) and is watched on ``x[eval_idx[k]]``; the result is the list of K :class:`TrainResult`, each
    what :func:`fit` would have returned for that model alone. How: the K models' parameters are stacked
    (``torch.func.stack_module_state``) and one forward pass runs all K (:mod:`audiolab.models.cohort`: grouped
    convolutions, or ``torch.func.vmap``), so one step dispatches the operations of about one model, not K. Each model
    keeps its own initial weights, data order and augmentation (drawn from its own generator), dropout masks, gradient
    clipping and AdamW state (one AdamW over the stacked parameters is K independent ones). Loss and accuracy are read
    from the device once per epoch; on a CUDA GPU with bfloat16 the forward pass is autocast to it (``config.amp``).
    The process keeps the memory it frees (:func:`keep_freed_memory`). ``on_epoch`` receives the K history rows of each
    epoch. ``targets`` (optional, ``(K, clips, classes)``) replaces each model's training targets, the labels' smoothed
    one-hot vectors (e.g. with a teacher's probabilities: distillation)."""
    configs = [config] * len(models) if isinstance(config, TrainConfig) else list(config)
    if not models or len({len(models), len(configs), len(train_idx), len(eval_idx or train_idx)}) > 1:
        raise ValueError(f"a cohort needs one config, one train_idx and one eval_idx per model; got {len(models)} "
                         f"models, {len(configs)} configs, {len(train_idx)} train_idx")
    if len({replace(c, seed=0) for c in configs}) > 1:
        raise ValueError("the models of a cohort share their training recipe (only the seed may differ): "
                         "train models with other settings in a cohort of their own")
    config, k = configs[0], len(models)
    y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} clips but y has {len(y)} labels")
    if len({len(i) for i in train_idx}) > 1 or (eval_idx is not None and len({len(i) for i in eval_idx}) > 1):
        raise ValueError("the models of a cohort train on as many clips as each other (and are scored on as many): "
                         "train the others in a cohort of their own")
    seed_everything(config.seed)  # dropout's masks come from torch's generator
    keep_freed_memory()
    device = select_device(config.device)
    train_idx = torch.as_tensor(np.stack([np.asarray(i, dtype=np.int64) for i in train_idx]))
    normalizers = [Normalizer(x.shape[1], per_clip=config.per_clip_norm).fit(x[i]) for i in train_idx]
    normalize = Normalizer(x.shape[1], per_clip=config.per_clip_norm).to(device)  # every model's, stacked:
    normalize.mean, normalize.std = (torch.stack([getattr(n, b) for n in normalizers]).unsqueeze(1).to(device)
                                     for b in ("mean", "std"))  # (K, 1, n_mels, 1)
    x = x.to(device)
    xn = normalize(x.unsqueeze(0))  # (K, clips, n_mels, frames): each model's view
    y, train_idx, rows = y.to(device), train_idx.to(device), torch.arange(k, device=device).unsqueeze(1)
    with torch.no_grad():  # the number of classes: the outputs of one tiny forward pass in eval mode
        n_classes = models[0].to(device).eval()(xn[0, :2]).shape[-1]
    models = [model.to(device).train() for model in models]
    soft = F.one_hot(y, n_classes).float() * (1.0 - config.label_smoothing) + config.label_smoothing / n_classes
    if targets is not None and tuple(targets.shape) != (k, *soft.shape):
        raise ValueError(f"targets must be (models, clips, classes) = {(k, *soft.shape)}, got {tuple(targets.shape)}")
    soft = soft.expand(k, -1, -1) if targets is None else targets.float().to(device)  # (K, clips, classes)
    if eval_idx is not None:
        eval_idx = torch.as_tensor(np.stack([np.asarray(i, dtype=np.int64) for i in eval_idx])).to(device)
        x_eval, y_eval = xn[rows, eval_idx], y[eval_idx]

    params, buffers = torch.func.stack_module_state(list(models))  # (K, ...) each, the parameters leaves of autograd
    skeleton = copy.deepcopy(models[0]).to("meta")  # the architecture; the weights come from params and buffers
    forward = stacked_forward(skeleton, k)  # (K, B, ...) clips -> (K, B, classes) logits, each model its own masks
    # The fused AdamW updates every parameter in one kernel: the same maths as the per-tensor loop, far fewer launches.
    optimizer = torch.optim.AdamW(params.values(), lr=config.lr, weight_decay=config.weight_decay,
                                  fused=device.type in ("cpu", "cuda"))
    n, size = train_idx.shape[1] * config.copies, config.batch_size * config.copies  # clips, batch: copies included
    batches = [i for i in range(0, n, size) if min(size, n - i) > config.copies or n == config.copies]
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(
        s, config.epochs * len(batches), config.warmup_epochs * len(batches)))
    autocast = torch.autocast(device.type, torch.bfloat16, enabled=config.amp and device.type == "cuda"
                              and torch.cuda.is_bf16_supported())
    rngs = [np.random.default_rng(c.seed) for c in configs]

    histories = [[] for _ in models]
    start = time.perf_counter()
    for epoch in (bar := tqdm(range(1, config.epochs + 1), desc=description, leave=False, unit="epoch")):
        t0 = time.perf_counter()
        # the epoch's clips and random choices, for every model: drawn on the host, augmented on the device at once
        choices = [{"order": rng.permutation(n // config.copies).repeat(config.copies),
                    **draw(augment, n, *x.shape[1:], rng)} for rng in rngs]
        choices = {name: torch.from_numpy(np.stack([c[name] for c in choices])).to(device) for name in choices[0]}
        order = train_idx.gather(1, choices.pop("order"))  # (K, n): the clips of each model, in its order
        se = soft[rows, order]  # (K, n, classes): each model's targets, in its order
        if augment.between_class:  # mixed as sounds mix: in dB before normalisation
            xe, se = between_class(x[order], se, choices.pop("ratio"), choices.pop("bc_partner"))
            xe = normalize(xe)
        else:
            xe = xn[rows, order]
        xe, se = apply_augment(xe, se, augment, choices)
        ye, totals = y[order], torch.zeros(2, k, device=device)
        skeleton.train()
        for i in batches:
            with autocast:
                logits = forward(params, buffers, xe[:, i : i + size]).float()
            losses = torch.sum(-se[:, i : i + size] * F.log_softmax(logits, dim=-1), dim=-1).mean(-1)
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()  # the models share no weights: each gets the gradient of its own loss
            if config.grad_clip:
                clip_grad_norms_([p.grad for p in params.values()], config.grad_clip)
            optimizer.step()
            scheduler.step()
            totals += torch.stack([losses.detach(), (logits.argmax(-1) == ye[:, i : i + size])
                                   .float().mean(-1)]) * logits.shape[1]
        seen = sum(min(size, n - i) for i in batches)
        stats = [totals / seen] + ([_evaluate(forward, skeleton, params, buffers, x_eval, y_eval,
                                              config.eval_batch_size)] if eval_idx is not None else [])
        stats = torch.cat(stats).T.tolist()  # one read from the device per epoch
        seconds = (time.perf_counter() - t0) / k  # the epoch's time, shared by its k models
        epoch_rows = [{"epoch": epoch, "lr": optimizer.param_groups[0]["lr"], "train_loss": s[0], "train_acc": s[1],
                       **({f"{eval_name}_loss": s[2], f"{eval_name}_acc": s[3]} if eval_idx is not None else {}),
                       "seconds": seconds} for s in stats]
        for history, row in zip(histories, epoch_rows):
            history.append(row)
        if on_epoch is not None:
            on_epoch(epoch_rows)
        bar.set_postfix({name: f"{np.mean([r[name] for r in epoch_rows]):.3f}" for name in
                         ("train_loss", "train_acc", f"{eval_name}_acc") if name in epoch_rows[0]})
    bar.close()
    seconds = (time.perf_counter() - start) / k
    for j, model in enumerate(models):  # each model gets its trained weights and batch-norm statistics back
        model.load_state_dict({name: t[j].detach() for name, t in {**params, **buffers}.items()})
    return [TrainResult(model, norm, history, seconds, str(device))
            for model, norm, history in zip(models, normalizers, histories)]


@torch.no_grad()
def _evaluate(forward, skeleton, params, buffers, x, y, batch_size) -> torch.Tensor:
    """Mean cross-entropy and accuracy ``(2, K)`` of every model on its own (already normalised) clips ``x``."""
    skeleton.eval()
    logits = torch.cat([forward(params, buffers, x[:, i : i + batch_size]).float()
                        for i in range(0, x.shape[1], batch_size)], dim=1)
    loss = -torch.gather(F.log_softmax(logits, dim=-1), -1, y.unsqueeze(-1)).squeeze(-1).mean(-1)
    return torch.stack([loss, (logits.argmax(-1) == y).float().mean(-1)])


@torch.no_grad()
def predict_proba(model: nn.Module, x: torch.Tensor, normalizer: Optional[Normalizer] = None, batch_size: int = 256,
                  shifts: int = 1, crop: int = 0) -> np.ndarray:
    """Class probabilities ``(N, n_classes)`` for raw log-mel features ``x``. ``shifts > 1`` averages the
    probabilities of that many evenly spaced circular time shifts of every clip (test-time augmentation matching
    ``time_shift``); with ``crop``, of the first ``crop`` frames of each shift: evenly spaced windows, for a model
    trained on windows (``AugmentConfig.crop_frames``)."""
    device, shifts = next(model.parameters()).device, max(1, shifts)
    if normalizer is not None:
        x = normalizer.to(x.device)(x)
    model.eval()
    total = 0.0
    for s in range(shifts):
        xs = torch.roll(x, shifts=s * x.shape[-1] // shifts, dims=-1)[..., : crop or None]
        total = total + torch.cat([model(xs[i : i + batch_size].to(device)).float().softmax(1).cpu()
                                   for i in range(0, len(xs), batch_size)])
    return (total / shifts).numpy()
