"""Seconds per training epoch: audiolab's pipeline against a naive one, for both architectures.

* **naive**: a ``DataLoader`` over :class:`audiolab.data.ESC10Dataset` that decodes
  every clip and computes its log-mel inside ``__getitem__``, every epoch
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

Prints seconds per epoch and the speed-up ratios. Timings depend on the machine (and on
anything else it runs meanwhile); the ratios are what to compare.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from torch.utils.data import DataLoader

from audiolab import configs
from audiolab.data import ESC10Dataset, load_features, load_metadata
from audiolab.augment import AugmentConfig
from audiolab.features import LogMel
from audiolab.models import build_model
from audiolab.train import fit


def naive_epoch_seconds(exp, meta, epochs: int) -> float:
    """Seconds per epoch when every item is decoded and transformed on the fly (the first,
    warm-up epoch excluded, as on the audiolab side: it also reads the files into the OS cache)."""
    torch.manual_seed(0)
    dataset = ESC10Dataset(meta, exp.features, train=True, transform=LogMel(exp.features))
    loader = DataLoader(dataset, batch_size=exp.train.batch_size, shuffle=True)
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
    config = exp.train.replace(epochs=epochs + 1)
    result = fit(model, x, y, config=config, augment=exp.augment if augment else AugmentConfig.none(), progress=False)
    return sum(row["seconds"] for row in result.history[1:]) / epochs


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
    print(f"{'':<16}{'naive':>8}{'cached, same work':>28}{'kit recipe':>24}")
    print(f"{'architecture':<16}{'s/epoch':>8}{'s/epoch':>18}{'speed-up':>10}{'s/epoch':>14}{'speed-up':>10}")
    for exp in (configs.arch1(), configs.arch2(heads=4)):
        x = load_features(train_meta, exp.features)  # the experiment's front-end (cached on disk)
        naive, same, recipe = [], [], []
        for _ in range(args.repeats):
            naive.append(naive_epoch_seconds(exp, train_meta, args.naive_epochs))
            same.append(audiolab_epoch_seconds(exp, x, y, args.epochs, augment=False))
            recipe.append(audiolab_epoch_seconds(exp, x, y, args.epochs))
        n, a, r = (statistics.median(v) for v in (naive, same, recipe))
        print(f"{exp.name:<16}{n:>8.2f}{a:>18.2f}{n / a:>9.1f}x{r:>14.2f}{n / r:>9.1f}x", flush=True)


if __name__ == "__main__":
    main()
