"""Seconds per training epoch: audiolab's pipeline against a naive one, for both architectures.

* **naive**: a ``DataLoader`` over the clip table that decodes every clip and computes
  its log-mel for every batch, every epoch
  (the usual first attempt, e.g. the 2024 report we replace), with no augmentation;
* **cached**: :func:`audiolab.train.fit` on features decoded once (on-disk cache) and
  held in memory, with augmentation switched off as on the naive side (the ratio is
  the data pipeline's, plus the training loop's own fused optimiser step);
* **kit recipe**: :func:`audiolab.train.fit` exactly as the kit trains (time shift,
  SpecAugment, random EQ and mixup on the cached tensors, label smoothing, gradient
  clipping): more work per epoch than the naive side does, which only flatters it.

All three train the same model on the same 320 clips (folds 1-4). Each number is the
median of ``--repeats`` measurements; each measurement skips a first, warm-up epoch. A cached epoch
takes a fifth of a second on a laptop CPU and varies by a fifth from one epoch to the next, so each
measurement averages 10 of them (the much slower naive side averages 2).

    python benchmarks/epoch_speed.py [--root PATH] [--epochs 10] [--naive-epochs 2] [--repeats 3]

Prints seconds per epoch and the speed-up ratios, then what fraction of this CPU's peak the kit's
training reaches: the model's floating-point operations per epoch (forward and backward, counted by
``torch.utils.flop_counter``) divided by the epoch's seconds, against the FLOP/s of a large float32
matrix multiplication measured in the same run with the same threads. Timings depend on the machine
(and on anything else it runs meanwhile); the ratios are what to compare.
"""
from __future__ import annotations

import argparse
import dataclasses
import platform
import statistics
import time

import torch
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from audiolab import configs
from audiolab.data import load_audio, load_features, load_metadata
from audiolab.augment import AugmentConfig
from audiolab.features import LogMel
from audiolab.models import build_model
from audiolab.train import fit


def naive_epoch_seconds(exp, meta, epochs: int) -> float:
    """Seconds per epoch when every item is decoded and transformed on the fly (the first,
    warm-up epoch excluded, as on the audiolab side: it also reads the files into the OS cache)."""
    torch.manual_seed(0)
    f, logmel = exp.features, LogMel(exp.features)

    def decode(batch):  # a random window of every clip, decoded and transformed on the fly
        waves = [logmel(load_audio(path, f.sample_rate, f.duration, offset="random")) for path, _ in batch]
        return torch.stack(waves), torch.tensor([target for _, target in batch])

    clips = list(zip(meta["path"], meta["target"]))
    loader = DataLoader(clips, batch_size=exp.train.batch_size, shuffle=True, collate_fn=decode)
    model = build_model(exp.model, exp.features.n_mels, 10)
    optimizer = torch.optim.AdamW(model.parameters(), lr=exp.train.lr)

    def one_epoch():
        model.train()
        for x, y in loader:
            x = (x - x.mean()) / (x.std() + 1e-5)
            loss = torch.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    one_epoch()  # warm-up, not timed
    start = time.perf_counter()
    for _ in range(epochs):
        one_epoch()
    return (time.perf_counter() - start) / epochs


def audiolab_epoch_seconds(exp, x, y, epochs: int, augment: bool = True) -> float:
    """Seconds per epoch of :func:`audiolab.train.fit` (the first, warm-up epoch excluded);
    ``augment=False`` switches every augmentation off."""
    model = build_model(exp.model, exp.features.n_mels, 10)
    config = dataclasses.replace(exp.train, epochs=epochs + 1)
    result = fit(model, x, y, config=config, augment=exp.augment if augment else AugmentConfig.none())
    return sum(row["seconds"] for row in result.history[1:]) / epochs


def training_flops_per_clip(model: torch.nn.Module, batch: torch.Tensor) -> float:
    """Floating-point operations to train ``model`` on one clip: a forward and a backward pass over
    ``batch`` counted by :class:`torch.utils.flop_counter.FlopCounterMode` (a multiply-add counts 2),
    divided by the batch size. Augmentation and the optimiser step are not counted: they are cheap
    element-wise work next to the convolutions and matrix products."""
    model.train()
    with FlopCounterMode(display=False) as counter:
        model(batch).float().sum().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / len(batch)


def matmul_flops_per_second(n: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of an ``n`` x ``n`` float32 matrix product, the best of ``repeats`` (after one warm-up):
    what this CPU reaches on the friendliest possible work, with torch's current number of threads."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="dataset folder (default: $AUDIOLAB_DATA or the cache)")
    parser.add_argument("--epochs", type=int, default=10, help="timed epochs of the audiolab pipeline")
    parser.add_argument("--naive-epochs", type=int, default=2, help="timed epochs of the naive pipeline")
    parser.add_argument("--repeats", type=int, default=3, help="measurements of each; the median is printed")
    args = parser.parse_args()

    meta = load_metadata(args.root)
    train_meta = meta[meta["fold"] != 5].reset_index(drop=True)
    y = torch.tensor(train_meta["target"].to_numpy())
    print(f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}")
    print(f"{len(train_meta)} training clips per epoch; medians of {args.repeats} measurements\n")
    peak = matmul_flops_per_second()
    print(f"peak: a 2048 x 2048 float32 matmul runs at {peak / 1e9:.1f} GFLOP/s\n")
    print(f"{'':<16}{'naive':>8}{'cached, same work':>28}{'kit recipe':>24}")
    print(f"{'architecture':<16}{'s/epoch':>8}{'s/epoch':>18}{'speed-up':>10}{'s/epoch':>14}{'speed-up':>10}")
    fractions = []
    for exp in (configs.arch1(), configs.arch2(heads=4)):
        x = load_features(train_meta, exp.features)  # the experiment's front-end (cached on disk)
        model = build_model(exp.model, exp.features.n_mels, 10)
        flops = training_flops_per_clip(model, x[: exp.train.batch_size]) * len(x)
        naive, same, recipe = [], [], []
        for _ in range(args.repeats):
            naive.append(naive_epoch_seconds(exp, train_meta, args.naive_epochs))
            same.append(audiolab_epoch_seconds(exp, x, y, args.epochs, augment=False))
            recipe.append(audiolab_epoch_seconds(exp, x, y, args.epochs))
        n, a, r = (statistics.median(v) for v in (naive, same, recipe))
        print(f"{exp.name:<16}{n:>8.2f}{a:>18.2f}{n / a:>9.1f}x{r:>14.2f}{n / r:>9.1f}x", flush=True)
        fractions.append((exp.name, flops, r))
    print(f"\n{'architecture':<16}{'GFLOP/epoch':>12}{'GFLOP/s':>10}{'of peak':>9}")
    for name, flops, seconds in fractions:
        print(f"{name:<16}{flops / 1e9:>12.2f}{flops / seconds / 1e9:>10.1f}{flops / seconds / peak:>9.1%}")


if __name__ == "__main__":
    main()
