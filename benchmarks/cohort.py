"""Many models per step: dispatched operations and CPU time per model and step, a cohort against one model at a time.

A GPU runs a small model's training step as a string of tiny kernels, and launching them, not computing them, takes
the time: the number of operations dispatched per step is what a GPU run pays for. This script counts them on any
machine (a ``TorchDispatchMode`` sees every operation torch dispatches, on the CPU as on a GPU) for

* **today's engine** as it was before cohorts: one model per step, augmentation on the host for each batch, loss and
  accuracy read from the device after every step (``one_model_epoch`` below, kept here for the comparison);
* **the cohort engine** (:func:`audiolab.train.fit_cohort`) training K = 1, 5, 15 models in one step (15 = the 5 folds
  x 3 seeds of an official cross-validation), its per-epoch augmentation and evaluation included,

and times both on this CPU with one thread (as each worker process has), without counting (a counter slows every
operation, so it would slow the engine with more operations most), in rounds that take the engines in turn (a machine
drifts). Both train the kit's Architecture 1 and 2 on ESC-10-shaped clips (320 training clips of 64 mel bands x 108
frames, 80 scored; random numbers: no dataset needed). Both keep the memory they free, as every training of the kit
does (:func:`audiolab.train.keep_freed_memory`).

    python benchmarks/cohort.py [--epochs 2] [--ks 1,5,15] [--arch both] [--rounds 3]

Timings depend on the machine; the ratios are what to compare.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import platform
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from audiolab import configs
from audiolab.augment import augment, draw
from audiolab.features import Normalizer
from audiolab.models import build_model
from audiolab.train import _lr_factor, fit_cohort, keep_freed_memory


class CountOps(TorchDispatchMode):
    """Counts the operations torch dispatches while it is active: ``count`` all of them, ``kernels`` those that
    compute (views such as ``view``, ``permute``, ``expand`` or ``detach`` only relabel memory: no GPU kernel)."""

    def __init__(self):
        super().__init__()
        self.count = self.kernels = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        self.kernels += not (func.is_view or func.namespace == "profiler" or func.__name__ == "_unsafe_view")
        return func(*args, **(kwargs or {}))


def one_model_epoch(model, x, y, exp, optimizer, scheduler, rng) -> None:
    """One epoch of the engine before cohorts: per batch, draw and apply the augmentation, step, read the numbers.
    Every clip of a batch comes ``copies`` times, as in the recipe, so that both engines do the same work."""
    config, n_classes = exp.train, 10
    model.train()
    order = torch.from_numpy(rng.permutation(len(x)))
    for i in range(0, len(order), config.batch_size):
        idx = order[i : i + config.batch_size].repeat_interleave(config.copies)  # differently augmented copies
        soft = F.one_hot(y[idx], n_classes).float() * (1 - config.label_smoothing) + config.label_smoothing / n_classes
        choices = {k: torch.from_numpy(v) for k, v in draw(exp.augment, len(idx), *x.shape[1:], rng).items()}
        xb, soft = augment(x[idx], soft, exp.augment, choices)
        logits = model(xb)
        loss = torch.sum(-soft * F.log_softmax(logits, dim=1), dim=1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        scheduler.step()
        loss.item(), (logits.argmax(1) == y[idx]).sum().item()  # read after every step, as that engine did


def one_model(exp, x, y, epochs: int, count: bool = True) -> tuple[float, float, float]:
    """(operations, kernels, seconds) per step of :func:`one_model_epoch`, with the evaluation after each epoch: the
    operations counted in one epoch (NaN without ``count``), the time of ``epochs`` epochs without counting (counting
    slows every operation)."""
    torch.manual_seed(0)
    model, rng = build_model(exp.model, x.shape[1], 10), np.random.default_rng(0)
    xn = Normalizer(x.shape[1]).fit(x[:320])(x)
    optimizer = torch.optim.AdamW(model.parameters(), lr=exp.train.lr, weight_decay=exp.train.weight_decay, fused=True)
    steps = -(-320 // exp.train.batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, (1 + epochs) * steps, steps))

    def epoch():
        one_model_epoch(model, xn[:320], y[:320], exp, optimizer, scheduler, rng)
        with torch.no_grad():
            model.eval()
            F.cross_entropy(model(xn[320:]), y[320:]).item()

    counter = CountOps()
    if count:
        with counter:
            epoch()
    start = time.perf_counter()
    for _ in range(epochs):
        epoch()
    ops = (counter.count / steps, counter.kernels / steps) if count else (np.nan, np.nan)
    return *ops, (time.perf_counter() - start) / (epochs * steps)


def cohort(exp, x, y, k: int, epochs: int, count: bool = True) -> tuple[float, float, float]:
    """(operations, kernels, seconds) per model-step of :func:`fit_cohort` training ``k`` models: the difference
    between trainings of ``1 + epochs`` and of 1 epoch, so the one-off set-up (stacking the models, normalising)
    is not counted, as it is not in a 100-epoch training. Operations are counted in one epoch (2 against 1), the
    time taken without counting."""
    def run(n_epochs, count=False):
        models = []
        for seed in range(k):
            torch.manual_seed(seed)
            models.append(build_model(exp.model, x.shape[1], 10))
        recipes = [dataclasses.replace(exp.train, epochs=n_epochs, seed=s, device="cpu") for s in range(k)]
        counter, start = CountOps(), time.perf_counter()
        with counter if count else contextlib.nullcontext():
            fit_cohort(models, x, y, [np.arange(320)] * k, [np.arange(320, 400)] * k, recipes, exp.augment,
                       description=f"cohort of {k}")
        return np.array([counter.count, counter.kernels, time.perf_counter() - start])

    steps = -(-320 // exp.train.batch_size) * k
    ops, kernels, _ = (run(2, count=True) - run(1, count=True)) / steps if count else (np.nan,) * 3
    return ops, kernels, (run(1 + epochs) - run(1))[2] / (epochs * steps)


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2, help="epochs per measurement (default 2)")
    parser.add_argument("--ks", default="1,5,15", help="cohort sizes, comma-separated (default 1,5,15)")
    parser.add_argument("--arch", choices=("arch1", "arch2", "both"), default="both")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as one worker process)")
    parser.add_argument("--rounds", type=int, default=3, help="timings per engine, taken in turn (default 3)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # for the engine before cohorts too, which would otherwise run with glibc's defaults at first
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(400, configs.FEATURES.n_mels, configs.FEATURES.num_frames, generator=g) * 10 - 40, \
        torch.arange(400) % 10
    experiments = {"arch1": configs.arch1(), "arch2": configs.arch2()}
    rows = []
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s), "
          f"{args.epochs} epochs per timing, {args.rounds} rounds (the engines in turn; median time, and the range "
          "of the speed-up over the rounds)")
    print(f"{'':6} {'engine':>19} {'ops/model-step':>15} {'of them kernels':>16} {'ms/model-step':>14} "
          f"{'ops ratio':>10} {'speed-up':>9} {'range':>12}")
    for arch in (["arch1", "arch2"] if args.arch == "both" else [args.arch]):
        exp = experiments[arch]
        engines = {"one model per step": (1, functools.partial(one_model, exp, x, y, args.epochs))}
        engines |= {f"cohort of {k}": (k, functools.partial(cohort, exp, x, y, k, args.epochs))
                    for k in map(int, args.ks.split(","))}
        counted = {name: run() for name, (_, run) in engines.items()}  # the first round also counts
        seconds = {name: [c[2]] for name, c in counted.items()}
        for _ in range(args.rounds - 1):  # machines drift: every round times each engine once, in turn
            for name, (_, run) in engines.items():
                seconds[name].append(run(count=False)[2])
        ops0, one = counted["one model per step"][0], np.array(seconds["one model per step"])
        for name, (k, _) in engines.items():
            (ops, kernels, _), sec = counted[name], np.array(seconds[name])
            rows.append({"arch": arch, "engine": name, "k": k, "ops": ops, "kernels": kernels,
                         "seconds": float(np.median(sec)), "speed_up": float(np.median(one) / np.median(sec))})
            ratios = one / sec
            print(f"{arch:6} {name:>19} {ops:15.1f} {kernels:16.1f} {np.median(sec) * 1e3:14.1f} {ops0 / ops:10.2f} "
                  f"{rows[-1]['speed_up']:9.2f} {ratios.min():5.2f}-{ratios.max():.2f}")
    return rows


if __name__ == "__main__":
    main()
