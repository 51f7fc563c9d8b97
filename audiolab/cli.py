"""The ``audiolab`` command.

    audiolab data     [--root PATH] [--download]          summary of the dataset
    audiolab train    --arch conv1d|transformer ... --out results.json
    audiolab reports  [--profile full|smoke]              regenerate reports/ with papermill
    audiolab predict  FILE... [--checkpoint PATH]         top-3 classes for any audio file

Each sub-command is a thin layer over a function of the package, so everything
the command does can also be done from a notebook.
"""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

__all__ = ["main", "build_parser"]


def _folds(text: str) -> tuple[int, ...]:
    try:
        folds = tuple(int(f) for f in text.split(",") if f.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--folds takes fold numbers separated by commas, like 1,2,3; got {text!r}")
    if not folds:
        raise argparse.ArgumentTypeError("--folds needs at least one fold number")
    return folds


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="audiolab", description="Environmental audio classification on ESC-10.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("data", help="show where the dataset is and what it holds (download it with --download)")
    p.add_argument("--root", help="dataset folder (default: $AUDIOLAB_DATA, then the cache folder)")
    p.add_argument("--download", action="store_true", help="download ESC-10 into the cache folder if it is missing")

    p = sub.add_parser("train", help="official cross-validation of one configuration, results as JSON")
    p.add_argument("--arch", required=True, choices=["conv1d", "transformer"], help="Architecture 1 or 2")
    p.add_argument("--heads", type=int, help="attention heads (Architecture 2)")
    p.add_argument("--d-model", "--d_model", type=int, dest="d_model", help="transformer width (Architecture 2)")
    p.add_argument("--depth", type=int, help="transformer blocks (Architecture 2)")
    p.add_argument("--dropout", type=float, help="dropout in the conv blocks and the transformer")
    p.add_argument("--channels", help="conv widths, one per block, e.g. 128,128,256")
    p.add_argument("--kernel-size", "--kernel_size", type=int, dest="kernel_size")
    p.add_argument("--stride", help="conv stride: one for every block (2) or one per block (2,1,1)")
    p.add_argument("--activation", choices=["relu", "gelu", "elu", "leaky_relu"])
    p.add_argument("--pool", choices=["max", "avg", "none"])
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--folds", type=_folds, default=(1, 2, 3, 4, 5), help="test folds, e.g. 1,2,3,4,5")
    p.add_argument("--lr", type=float)
    p.add_argument("--batch-size", "--batch_size", type=int, dest="batch_size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--root", help="dataset folder")
    p.add_argument("--download", action="store_true", help="download ESC-10 if it is missing")
    p.add_argument("--wandb", choices=["online", "offline", "disabled"], help="W&B mode (default: $WANDB_MODE, else offline)")
    p.add_argument("--name", help="name of the configuration in the results")
    p.add_argument("--out", required=True, help="where to write the results JSON")

    p = sub.add_parser("reports", help="run the notebooks with papermill and regenerate reports/")
    p.add_argument("--profile", choices=["full", "smoke"], default="full", help="full = the real 100-epoch run; smoke = a quick check")
    p.add_argument("--root", help="dataset folder")
    p.add_argument("--output", default=None, help="folder to (re)generate (default: reports/ for full, reports-smoke/ for smoke)")

    p = sub.add_parser("predict", help="top-3 classes for audio files, with the model saved by `audiolab reports`")
    p.add_argument("files", nargs="+", help="audio files soundfile can read (wav, flac, ogg, ...)")
    p.add_argument("--checkpoint", help="model checkpoint (default: the best model in reports/)")
    p.add_argument("--top", type=int, default=3)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "data":
            from .data import data_command

            return data_command(root=args.root, download=args.download)
        if args.command == "train":
            from .experiments import train_command

            return train_command(args)
        if args.command == "reports":
            from .reports import reports_command

            return reports_command(args)
        if args.command == "predict":
            from .predict import predict_command

            return predict_command(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
