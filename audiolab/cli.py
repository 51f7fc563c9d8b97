"""The ``audiolab`` command.

    audiolab data     [--root PATH] [--download]          summary of the dataset
    audiolab train    --arch conv1d|transformer [KEY=VALUE ...] --out results.json
    audiolab reports  [--profile full|smoke]              regenerate reports/ with papermill
    audiolab predict  FILE... [--checkpoint PATH]         top-3 classes for any audio file
    audiolab sweep collect ENTITY/PROJECT/SWEEP_ID [--results DIR]   a W&B sweep's trials into a results store

Each sub-command is a thin layer over a function of the package, so everything the command does can also be done from a
notebook. ``audiolab train`` changes the kit's configuration with dotted overrides (``train.lr=0.001
model.channels=64,64,64``, see :meth:`audiolab.experiment.Experiment.replace`); ``--epochs`` is the one named shortcut
(``train.epochs``)."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional, Sequence


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

    p = sub.add_parser("train", help="cross-validate one configuration (or run one search trial), results as JSON")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="changes to the kit's configuration, e.g. train.lr=0.001 model.channels=64,64,64")
    p.add_argument("--arch", required=True, choices=["conv1d", "transformer"], help="Architecture 1 or 2")
    p.add_argument("--epochs", type=int, default=100, help="train.epochs")
    p.add_argument("--folds", type=_folds, help="test folds, e.g. 1,2 (official protocol; default all)")
    p.add_argument("--protocol", choices=["official", "development", "search"], default="official",
                   help="official: 5-fold CV; development: CV over the development folds; search: one trial of "
                        "the notebooks' search (what a W&B sweep runs)")
    p.add_argument("--results", help="results folder (default: <out stem>_runs next to --out)")
    p.add_argument("--trial", type=int, help="with --protocol search: run trial N of the notebooks' search "
                   "(0 is the starting configuration; what sweeps/<arch>.yaml runs)")
    p.add_argument("--search-trials", "--search_trials", type=int, default=8, dest="search_trials",
                   help="trials of the notebooks' search that --trial counts in (the full profile's 8)")
    p.add_argument("--search-seed", "--search_seed", type=int, default=0, dest="search_seed",
                   help="seed of the notebooks' search that --trial counts in (the notebooks' 0)")
    p.add_argument("--root", help="dataset folder")
    p.add_argument("--download", action="store_true", help="download ESC-10 if it is missing")
    p.add_argument("--wandb", choices=["online", "offline", "disabled"],
                   help="W&B mode, sets $WANDB_MODE (default: $WANDB_MODE, else online when logged in, else offline)")
    p.add_argument("--name", help="name of the configuration in the results")
    p.add_argument("--out", required=True, help="where to write the results JSON")

    p = sub.add_parser("reports", help="run the notebooks with papermill and regenerate reports/")
    p.add_argument("--profile", choices=["full", "smoke"], default="full", help="full: the real run; smoke: a quick check")
    p.add_argument("--root", help="dataset folder")
    p.add_argument("--output", help="folder to (re)generate (default: reports/, or reports-smoke/)")
    p.add_argument("--no-check-claims", dest="check_claims", action="store_false",
                   help="note each sentence of the notebooks' text these results contradict and run on (a GPU, "
                        "changed code), instead of stopping at the first")

    p = sub.add_parser("predict", help="top-3 classes for audio files, with the model saved by `audiolab reports`")
    p.add_argument("files", nargs="+", help="audio files soundfile can read (wav, flac, ogg, ...)")
    p.add_argument("--checkpoint", help="model checkpoint (default: the best model in reports/)")
    p.add_argument("--top", type=int, default=3)

    p = sub.add_parser("sweep", help="W&B sweeps of the notebooks' search (sweeps/*.yaml)")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = actions.add_parser("collect", help="download the trial result of each finished run of a sweep into a "
                                           "results folder, where the notebooks' search reuses it")
    p.add_argument("sweep", metavar="ENTITY/PROJECT/SWEEP_ID", help="the sweep, as `wandb sweep` printed it")
    p.add_argument("--results", help="results folder (default: $AUDIOLAB_RESULTS, else reports/results)")
    return parser


def experiment_from_args(args):
    """The :class:`~audiolab.experiment.Experiment` ``audiolab train`` runs: the kit's configuration
    (:func:`audiolab.configs.arch1` or :func:`~audiolab.configs.arch2`), then the overrides, then (``--trial N``)
    the values of trial N of the notebooks' search. ``ValueError`` names what is wrong."""
    from . import configs
    from .evaluation import search_trials

    base = configs.arch1() if args.arch == "conv1d" else configs.arch2(name="arch2")
    overrides = {"train.epochs": args.epochs}
    for item in args.overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"overrides look like KEY=VALUE (e.g. train.lr=0.001), got {item!r}")
        overrides[".".join(base.resolve(key.strip().lstrip("-")))] = value
    channels = overrides.get("model.channels")
    if channels is not None and "model.stride" not in overrides and not isinstance(base.model.stride, int):
        # other widths keep the kit's pattern of strides (the first block's, then the later blocks'):
        # the kit's strides fit only the kit's number of blocks
        blocks = len(str(channels).strip("()[] ,").split(","))
        overrides["model.stride"] = base.model.strides[:1] + base.model.strides[-1:] * (blocks - 1)
    exp = base.replace(overrides)
    if args.trial is not None:
        if args.protocol != "search":
            raise ValueError("--trial names a trial of the notebooks' search: use it with --protocol search")
        space = configs.SPACES[base.name][1]
        if clash := sorted(set(overrides) & {".".join(base.resolve(k)) for k in space}):
            raise ValueError(f"--trial sets {', '.join(clash)} from the notebooks' search: give no other value for them")
        points = search_trials(exp, space, args.search_trials, args.search_seed)
        if not 0 <= args.trial < len(points):
            raise ValueError(f"--trial {args.trial}: the notebooks' search of {base.name} has trials 0-{len(points) - 1}")
        exp = exp.replace(points[args.trial])
    # a search trial belongs to the search of the notebooks' starting configuration, named arch1/arch2
    default = base.name if args.protocol == "search" else f"{base.name}-{exp.key()[:8]}"
    return exp.replace(name=args.name or default, description="audiolab train")


def train_command(args) -> int:
    """``audiolab train``: cross-validate one configuration (``--protocol official`` or ``development``),
    or run one trial of the notebooks' search (``--protocol search``: what a W&B sweep agent runs, its one run
    the sweep's), and write the results as JSON. Results go to a results store (``--results``), so a rerun
    resumes and a search trial lands where :func:`audiolab.evaluation.search` finds it. Returns 0, or 2 after
    one line on stderr for a user error (all found before any training)."""
    import pandas as pd

    from . import data
    from ._util import write_json
    from .evaluation import ExperimentBusy, ResultsStore, cross_validate, run_trial
    from .evaluation.cv import cohort_size, workers

    sweep = bool(os.environ.get("WANDB_SWEEP_ID"))
    out = Path(args.out)
    store = Path(args.results) if args.results else out.parent / f"{out.stem}_runs"
    try:
        if sweep and args.protocol != "search":
            raise ValueError(f"under a W&B sweep agent ($WANDB_SWEEP_ID is set) run --protocol search, not "
                             f"{args.protocol}: a sweep trial is one trial of the notebooks' search, one W&B run")
        exp = experiment_from_args(args)
        workers(), cohort_size()  # a bad $AUDIOLAB_WORKERS or $AUDIOLAB_COHORT is refused before any training
        if out.suffix.lower() != ".json":
            raise ValueError(f"--out should name a .json file, got {out}")
        if args.wandb:
            os.environ["WANDB_MODE"] = args.wandb
        meta = data.load_metadata(args.root, download=args.download, strict=False)
        if len(meta) != data.ESC10_NUM_CLIPS:
            print(f"audiolab train: warning: the dataset at {meta.attrs.get('root')} has {len(meta)} clips, "
                  f"not the {data.ESC10_NUM_CLIPS} of ESC-10; results are not comparable to the full dataset",
                  file=sys.stderr)
        features = data.load_features(meta, exp.features)
        if args.protocol == "search":  # the folds are checked before any training, as in cross_validate
            trial = run_trial(exp, {}, meta, features, store, log_reused=sweep)
        else:
            summary = cross_validate(exp, meta, features, store, args.protocol, folds=args.folds)
    except (ValueError, TypeError, OSError, ExperimentBusy) as error:  # ExperimentBusy: another writer
        print(f"audiolab train: error: {error}", file=sys.stderr)
        return 2
    if args.protocol == "search":
        result = {"name": exp.name, "experiment": exp.to_dict(), "key": trial["key"], "protocol": "search",
                  "val_folds": trial["val_folds"], "test_fold": trial["test_fold"],
                  **{f"val_{m}": trial["metrics"][k] for m, k in (("accuracy", "accuracy"), ("macro_f1", "macro_f1"),
                                                                   ("auc", "auc_macro_ovr"))},
                  "params": trial["params"], "train_seconds_total": trial["train_seconds"],
                  "trial_file": str(ResultsStore(store).trial_path(exp.name, trial["key"]))}
        write_json(out, result)
        print(f"{exp.name} (key {trial['key']}): validation accuracy {result['val_accuracy']:.3f} on folds "
              f"{trial['val_folds']}; results: {out}")
        return 0
    result = {k: summary[k] for k in ("name", "experiment", "key", "protocol", "folds", "params", "train_seconds_total",
                                      "seconds_per_epoch", "complete")}
    result.update({m: {"mean": summary[f"{m}_mean"], "std": summary[f"{m}_std"]} for m in ("accuracy", "macro_f1", "auc")},
                  pooled={k: summary["pooled"][k] for k in ("accuracy", "macro_f1", "auc_macro_ovr")},
                  results_dir=str(store / exp.name / summary["protocol"]), clips=len(meta), dataset=meta.attrs.get("root"))
    write_json(out, result)
    rows = summary["folds"] + [{"fold": stat, **{m: summary[f"{m}_{stat}"] for m in ("accuracy", "macro_f1", "auc")}}
                               for stat in ("mean", "std")]
    table = pd.DataFrame(rows).set_index("fold")[["accuracy", "macro_f1", "auc", "train_seconds"]]
    p = summary["params"]
    print(f"\n{summary['name']}  ({summary['experiment']['arch']}, key {summary['key']})",
          table.to_string(float_format="{:.3f}".format, na_rep=""),
          f"parameters: {p['trainable']:,} trainable, {p['non_trainable']:,} non-trainable, {p['buffers']:,} in buffers",
          f"training: {summary['train_seconds_total']:.1f} s; results: {out}", sep="\n")
    return 0


def sweep_command(args) -> int:
    """``audiolab sweep collect``: :func:`audiolab.sweeps.collect`, then one line per run of the sweep.
    Returns 0, or 2 after printing the problem to stderr when the sweep cannot be read."""
    from .evaluation import ResultsStore
    from .sweeps import SweepError, collect

    results = ResultsStore.for_profile("full", args.results).root
    try:
        runs = collect(args.sweep, results)
    except SweepError as error:
        print(f"audiolab sweep collect: error: {error}", file=sys.stderr)
        return 2
    for run in runs:
        print(f"{run['run']:<24} {run['state']:<10} {run['status']}" + (f": {run['path']}" if run["path"] else ""))
    copied = sum(run["status"] == "collected" for run in runs)
    print(f"{copied} trial(s) collected into {results}; {len(runs) - copied} run(s) left as they were")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "data":
            from .data import data_command

            return data_command(args.root, args.download)
        if args.command == "reports":
            from .reports import reports_command as command
        elif args.command == "predict":
            from .predict import predict_command as command
        else:
            command = train_command if args.command == "train" else sweep_command
        return command(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as error:  # a full disk, a folder that cannot be written: one line, not a traceback
        print(f"audiolab {args.command}: error: {error.strerror or error}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
