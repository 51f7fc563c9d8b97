"""Recipe ablation: what each ingredient of the kit's recipe is worth, measured honestly.

Each *variant* changes one thing about the kit's configuration of an architecture
(``configs.arch1()`` or ``configs.arch2(heads)``) and is cross-validated over the
development folds 1-4 (``evaluation.cross_validate(..., "development")``: trained on three, scored on the fourth)
with several seeds. Fold 5, the test fold, is never trained on nor scored. The table gives each variant's mean accuracy and its *paired*
difference from the recipe: the same seeds and folds, so the luck of one seed
cancels out. One fold has 80 clips, so one clip is 1.25 points; believe a difference
only when it is larger than its spread over seeds.

    python benchmarks/recipe_ablation.py [--arch arch1|arch2] [--heads 2]
        [--variants no-random-eq,no-mixup] [--seeds 0,1,2] [--epochs 100]
        [--workers 1] [--device auto] [--root PATH] [--out ablation]

Every run is stored under ``--out`` as an ordinary cross-validation result
(``<out>/<arch>/<variant>-seed<s>/dev-cv/``), so an interrupted ablation resumes where
it stopped. On a 2-core laptop CPU a 4-fold, 100-epoch run of Architecture 1 takes
about 2 minutes; ``--workers`` runs several at once (``$AUDIOLAB_WORKERS``: one-thread processes). ``--list`` prints the named and the parametric variants (``kernel-<k>``, ``channels-...``,
``stride-...``, ``hop-<samples>``, ...); ``+`` combines them (``hop-1024+stride-1-2-2-2``). ``--set KEY=VALUE``
changes the recipe itself first (``--set train.copies=1``: the recipe before it took two copies per step).

``distill`` (run on its own) distils the recipe's seed ensemble into one model, fold by fold: the recipe's models of
every seed train together on a fold's three training folds (they are the recipe's runs of the table, and the
teachers), their averaged probabilities on those training clips (8 time shifts, softened with temperature 2) are
mixed half and half with the labels' smoothed one-hot vectors, and a model of each seed trains on those targets
(``fit_cohort(..., targets=)``). The held fold is only scored. Its cost counts the student and its share of the
teachers: about 2x.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from joblib import Parallel, delayed
from scipy import stats as scipy_stats

from audiolab import configs
from audiolab.data import development_folds, load_features, load_metadata
from audiolab.evaluation import cross_validate, cv
from audiolab.experiment import Experiment
from audiolab.models import build_model
from audiolab.train import fit_cohort, predict_proba, seed_everything

FOLDS = (1, 2, 3, 4)  # the development folds: fold 5, the test fold, is never trained on nor scored here

#: variant name -> the overrides it applies (dotted keys, see Experiment.replace; the recipe itself is "recipe").
VARIANTS: dict[str, dict] = {
    "recipe": {},
    **configs.ABLATIONS,
    "no-label-smoothing": {"train.label_smoothing": 0.0},
    "no-time-shift": {"augment.time_shift": False},
    "no-test-shifts": {"train.tta_shifts": 1},
    "no-floor": {"features.floor_db": None},
    "dropout-0": {"model.dropout": 0.0},
    "dropout-0.1": {"model.dropout": 0.1},
    # what the literature says the recipe lacks (issue #24); off in the recipe
    "time-stretch": {"augment.time_stretch": 1.25},  # EnvNet-v2's "strong augment": 0.8x to 1.25x
    "mel-shift": {"augment.mel_shift": 2},  # a higher or lower sound, by up to 2 of the 64 mel bands
    "between-class": {"augment.between_class": True, "augment.mixup": False},  # BC learning instead of mixup
    "copies-2": {"train.copies": 2},  # two augmented copies of every clip in each step
    "batch-16": {"train.batch_size": 16},  # twice the optimiser steps in the same 100 epochs
    "crop-54": {"augment.crop_frames": 54},  # train on random 2.5-s windows; score 8 evenly spaced ones
}
"""Besides these, parametric variants:

* ``kernel-<k>``: kernel size ``k``;
* ``channels-<c1>-<c2>-...``: one width per conv block, e.g. ``channels-64-128-128``;
* ``stride-<s1>-<s2>-...``: one stride for every block, or one per block;
* ``hop-<samples>``: the front-end's hop (the time masks keep their width in seconds);
* ``mels-<bands>``: the front-end's mel bands (the conv base's input channels follow);
* ``dmodel-<width>``: Architecture 2's transformer width;
* ``time-mask-<frames>``: SpecAugment's widest time mask;
* ``batch-<size>``: the batch size (more or fewer optimiser steps per epoch);
* ``copies-<n>``: differently augmented copies of every clip in each step.

Variants combine with ``+``: ``kernel-5+channels-64-128-128-256``."""


def _change(name: str) -> Callable[[Experiment], Experiment]:
    """The change a single variant name stands for."""
    if name in VARIANTS:
        return lambda e: e.replace(VARIANTS[name])
    kind, _, value = name.partition("-")
    try:
        if kind == "kernel":
            size = int(value)
            return lambda e: e.replace({"model.kernel_size": size})
        if kind == "channels":
            widths = tuple(int(w) for w in value.split("-"))
            return lambda e: e.replace({"model.channels": widths})
        if kind == "stride":
            strides = tuple(int(s) for s in value.split("-"))
            return lambda e: e.replace({"model.stride": strides[0] if len(strides) == 1 else strides})
        if kind == "hop":
            hop = int(value)  # the time masks keep their width in seconds
            return lambda e: e.replace({"features.hop_length": hop, "augment.time_mask_width": round(
                e.augment.time_mask_width * e.features.hop_length / hop)})
        if kind == "mels":
            bands = int(value)
            return lambda e: e.replace({"features.n_mels": bands})
        if kind in ("batch", "copies"):
            count = int(value)
            return lambda e: e.replace({f"train.{'batch_size' if kind == 'batch' else kind}": count})
        if kind == "dmodel":
            width = int(value)
            return lambda e: e.replace({"model.d_model": width})
        if kind == "time" and value.startswith("mask-"):
            frames = int(value[len("mask-"):])
            return lambda e: e.replace({"augment.time_mask_width": frames})
    except ValueError:
        pass
    raise SystemExit(
        f"unknown variant {name!r}; choose from {', '.join(VARIANTS)}, kernel-<k>, channels-<c1>-<c2>-..., "
        "stride-<s1>-<s2>-..., hop-<samples>, mels-<bands>, dmodel-<width> (Architecture 2) or time-mask-<frames> "
        "(combine them with +)"
    )


def variant(base: Experiment, name: str, seed: int, device: str = "auto") -> Experiment:
    """``base`` with variant ``name`` applied, trained with ``seed`` on ``device``."""
    exp = base
    for part in name.split("+"):
        exp = _change(part)(exp)
    return exp.replace({"train.seed": seed, "train.device": device}, name=f"{name}-seed{seed}")


def _distill_fold(base: Experiment, seeds: list[int], x: torch.Tensor, y: np.ndarray, n_classes: int, fold: int,
                  train_idx, held_idx, path: Path, alpha: float = 0.5, temperature: float = 2.0) -> dict:
    """One development fold of ``distill``: the recipe's models of ``seeds`` (the teachers), then a student of each
    seed on the teachers' softened, averaged probabilities; both scored on the held fold. Stored at ``path``."""
    if path.exists():
        return json.loads(path.read_text())
    torch.set_num_threads(1)
    recipes = [base.replace({"train.seed": s}).train for s in seeds]
    out = {"fold": fold, "accuracy": {}, "seconds": {}}
    targets = None
    for role in ("recipe", "distill"):
        models = []
        for recipe in recipes:
            seed_everything(recipe.seed)
            models.append(build_model(base.model, base.features.n_mels, n_classes))
        results = fit_cohort(models, x, y, [train_idx] * len(seeds), None, recipes, base.augment,
                             description=f"fold {fold}: {role}", targets=targets)
        held = [predict_proba(r.model, x[held_idx], r.normalizer, shifts=base.train.tta_shifts) for r in results]
        out["accuracy"][role] = [float((p.argmax(1) == y[held_idx]).mean()) for p in held]
        out["seconds"][role] = sum(r.seconds for r in results)
        if role == "recipe":  # the teachers' averaged probabilities on the training clips, softened
            teacher = np.mean([predict_proba(r.model, x[train_idx], r.normalizer, shifts=base.train.tta_shifts)
                               for r in results], axis=0) ** (1 / temperature)
            teacher /= teacher.sum(1, keepdims=True)
            smooth = base.train.label_smoothing
            labels = np.eye(n_classes)[y] * (1 - smooth) + smooth / n_classes
            mixed = labels.copy()
            mixed[train_idx] = (1 - alpha) * labels[train_idx] + alpha * teacher
            targets = torch.as_tensor(mixed, dtype=torch.float32).expand(len(seeds), -1, -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1))
    return out


def distill(base: Experiment, seeds: list[int], meta, x: torch.Tensor, out: Path, workers: int):
    """``(results, seconds)`` of ``recipe`` and ``distill`` per seed, as :func:`ablation_table` takes them; a
    student's seconds include its share of the teachers'."""
    y, n_classes = np.array(meta["target"]), len(cv.class_names(meta))
    folds = [(k, tr, held) for k, tr, held in development_folds(meta) if k in FOLDS]
    tag = base.replace(name="distill").key()
    runs = Parallel(n_jobs=min(workers, len(folds)))(
        delayed(_distill_fold)(base, seeds, x, y, n_classes, k, tr, held,
                               out / f"distill-{tag}-seeds{'-'.join(map(str, seeds))}" / f"fold{k}.json")
        for k, tr, held in folds)
    results = {(role, s): [run["accuracy"][role][i] for run in runs] for role in ("recipe", "distill")
               for i, s in enumerate(seeds)}
    recipe_seconds = sum(run["seconds"]["recipe"] for run in runs)
    seconds = {("recipe", s): recipe_seconds for s in seeds}
    seconds.update({("distill", s): recipe_seconds + sum(run["seconds"]["distill"] for run in runs) for s in seeds})
    return results, seconds


def ablation_table(results: dict[tuple[str, int], list[float]], seconds: dict | None = None) -> list[dict]:
    """Rows of variant, seeds, mean accuracy (%) and the paired difference from ``recipe``: its mean over seeds, std
    and 95 % t-interval (``low``, ``high``); with ``seconds`` (training seconds per run), the ``cost`` against the
    recipe's."""
    names = sorted({n for n, _ in results}, key=lambda n: (n != "recipe", n))
    rows = []
    for name in names:
        seeds = sorted(s for n, s in results if n == name)
        means = {s: 100 * statistics.mean(results[name, s]) for s in seeds}
        paired = [means[s] - 100 * statistics.mean(results["recipe", s]) for s in seeds if ("recipe", s) in results]
        diff = statistics.mean(paired) if paired and name != "recipe" else None
        std = statistics.stdev(paired) if len(paired) > 1 and name != "recipe" else None
        half = None if std is None else scipy_stats.t.ppf(0.975, len(paired) - 1) * std / math.sqrt(len(paired))
        cost = None
        if seconds and all((n, s) in seconds for n in ("recipe", name) for s in seeds):
            cost = sum(seconds[name, s] for s in seeds) / sum(seconds["recipe", s] for s in seeds)
        rows.append({"variant": name, "seeds": len(seeds), "accuracy": statistics.mean(means.values()),
                     "difference": diff, "difference_std": std, "low": None if half is None else diff - half,
                     "high": None if half is None else diff + half, "cost": cost})
    return rows


def _print_table(rows: list[dict]) -> None:
    width = max([22] + [len(r["variant"]) + 2 for r in rows])  # combined variants have long names
    print(f"\n{'variant':<{width}}{'seeds':>6}{'accuracy, folds 1-4':>22}{'vs recipe (paired)':>22}"
          f"{'95 % interval':>18}{'cost':>7}")
    for r in rows:
        diff = "" if r["difference"] is None else f"{r['difference']:+.2f}"
        if r["difference_std"] is not None:
            diff += f" ± {r['difference_std']:.2f}"
        interval = "" if r["low"] is None else f"{r['low']:+.2f} to {r['high']:+.2f}"
        cost = "" if r["cost"] is None else f"{r['cost']:.2f}x"
        print(f"{r['variant']:<{width}}{r['seeds']:>6}{r['accuracy']:>21.2f}%{diff:>22}{interval:>18}{cost:>7}")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=("arch1", "arch2"), default="arch1")
    parser.add_argument("--heads", type=int, default=2, help="attention heads of arch2 (default 2)")
    parser.add_argument("--variants", default="no-random-eq", help="comma-separated; 'recipe' is always added")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated training seeds")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=1, help="runs at a time (default 1)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    parser.add_argument("--root", help="dataset folder (default: $AUDIOLAB_DATA or the cache)")
    parser.add_argument("--out", default="ablation", help="where the runs are stored (default ./ablation)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change the recipe first (repeatable), e.g. train.copies=1")
    parser.add_argument("--list", action="store_true", help="print the variants and exit")
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join([*VARIANTS, "distill", "kernel-<k>", "channels-<c1>-<c2>-...", "stride-<s1>-<s2>-...", "hop-<samples>", "mels-<bands>", "dmodel-<width>", "time-mask-<frames>",
                          "batch-<size>", "copies-<n>", "(combine variants with +)"]))
        return {}

    profile = configs.get_profile("full", epochs=args.epochs)
    base = configs.arch1(profile) if args.arch == "arch1" else configs.arch2(args.heads, profile)
    base = base.replace(dict(item.split("=", 1) for item in args.set))
    names = ["recipe"] + [n for n in args.variants.split(",") if n and n != "recipe"]
    seeds = [int(s) for s in args.seeds.split(",")]
    if "distill" in names and len(names) > 2:
        raise SystemExit("distill trains its own recipe runs (its teachers): run it on its own, --variants distill")
    for name in names:
        if name != "distill":
            variant(base, name, 0)  # unknown names fail before anything trains
    os.environ[cv.WORKERS_ENV] = str(args.workers)  # trainings side by side: joblib processes of one thread
    print(f"{args.arch}: {len(names)} variants x {len(seeds)} seeds, folds {FOLDS}, {args.epochs} epochs, "
          f"{args.workers} at a time")
    meta, front_ends = load_metadata(args.root, strict=False), {}
    if "distill" in names:
        results, seconds = distill(base.replace({"train.device": args.device}), seeds, meta,
                                   load_features(meta, base.features), Path(args.out) / args.arch, args.workers)
        _print_table(ablation_table(results, seconds))
        return results
    runs = {(n, s): variant(base, n, s, args.device) for s in seeds for n in names}

    def features_of(front_end):
        if front_end not in front_ends:  # a variant may change the front-end: compute its features once
            front_ends[front_end] = load_features(meta, front_end)
        return front_ends[front_end]

    summaries = cross_validate(list(runs.values()), meta, features_of, Path(args.out) / args.arch, "development")
    results = {key: [row["accuracy"] for row in summary["folds"]] for key, summary in zip(runs, summaries)}
    seconds = {key: summary["train_seconds_total"] for key, summary in zip(runs, summaries)}
    _print_table(ablation_table(results, seconds))
    return results


if __name__ == "__main__":
    main()
