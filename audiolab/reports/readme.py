"""The generated ``README.md`` of the report folder: hardware, markdown tables and the page itself.

:func:`_readme` writes it from the ``run.json`` facts and the results folder: the
comparison table (:func:`comparison_markdown` of ``evaluation.comparison_table``),
the seed ensembles (``evaluation.ensemble_table``), the training time behind the
results (:meth:`ResultsStore.training_seconds`), the notebooks' wall times, the figures and the
machine (:func:`hardware_info`).
"""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Optional

from .._util import fmt_number
from ..evaluation.store import ResultsStore

__all__ = ["hardware_info", "markdown_table", "comparison_markdown"]


def hardware_info() -> dict:
    """CPU model, cores, memory, torch version and the device training uses."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    if sys.platform == "darwin" and not cpu.strip():
        cpu = platform.machine()
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    try:
        import torch

        from ..train import select_device

        device = select_device("auto")
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["device"] = str(device)
        if device.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(device)
    except Exception as error:  # the README is still written without them
        info["torch"] = f"unavailable ({error})"
    return info



def markdown_table(table) -> str:
    """A pandas DataFrame as a GitHub markdown table; ``<metric>_mean``/``<metric>_std`` pairs become ``mean ± std``."""
    columns = [str(c) for c in table.columns]
    merged, skip = [], set()
    for c in columns:
        if c in skip:
            continue
        if c.endswith("_mean") and c[: -len("_mean")] + "_std" in columns:
            std = c[: -len("_mean")] + "_std"
            skip.add(std)
            merged.append((c[: -len("_mean")], c, std))
        else:
            merged.append((c, c, None))
    rows = []
    for _, record in table.iterrows():
        cells = []
        for _, mean, std in merged:
            value = _item(record[mean])
            if std is not None and value is not None and _item(record[std]) is not None:
                cells.append(f"{fmt_number(float(value))} ± {fmt_number(float(_item(record[std])))}")
            else:
                cells.append(fmt_number(value))
        rows.append(cells)
    header = [name for name, _, _ in merged]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def _item(value):
    """Plain Python from a NumPy/pandas scalar; ``None`` for missing values (None, NaN, pd.NA, NaT)."""
    if value is None or isinstance(value, (list, tuple, dict, str)):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item"):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    return value


_COMPARISON_COLUMNS = (
    # (column of experiments.comparison_table, README header, how to format)
    ("name", "experiment", str),
    ("arch", "architecture", lambda a: {"conv1d": "Arch 1 (1D conv)", "transformer": "Arch 2 (conv + attention)"}.get(a, a)),
    ("heads", "heads", lambda h: str(int(h))),
    ("cv_accuracy", "CV accuracy", None),
    ("cv_macro_f1", "CV macro F1", None),
    ("cv_auc", "CV AUC", None),
    ("test_accuracy", "test accuracy", lambda v: f"{v:.3f}"),
    ("test_macro_f1", "test macro F1", lambda v: f"{v:.3f}"),
    ("test_auc", "test AUC", lambda v: f"{v:.3f}"),
    ("params_trainable", "trainable params", lambda v: f"{int(v):,}"),
    ("params_non_trainable", "non-trainable params", lambda v: f"{int(v):,}"),
    ("buffers", "buffers", lambda v: f"{int(v):,}"),
    ("train_seconds_total", "training time", lambda v: _duration(v)),
    ("seconds_per_epoch", "s / epoch", lambda v: f"{v:.2f}"),
)


_ENSEMBLE_COLUMNS = (
    # (column of experiments.ensemble_table, README header, how to format)
    ("name", "experiment", str),
    ("seeds", "seeds", lambda v: str(int(v))),
    ("member_accuracy_mean", "single seeds: mean CV accuracy", lambda v: f"{v:.3f}"),
    ("member_accuracy_min", "lowest seed", lambda v: f"{v:.3f}"),
    ("member_accuracy_max", "highest seed", lambda v: f"{v:.3f}"),
    ("ensemble_accuracy", "ensemble CV accuracy", None),
    ("ensemble_macro_f1_mean", "ensemble macro F1", lambda v: f"{v:.3f}"),
    ("ensemble_auc_mean", "ensemble AUC", lambda v: f"{v:.3f}"),
    ("params_trainable_total", "trainable params (all seeds)", lambda v: f"{int(v):,}"),
    ("train_seconds_total", "training time", lambda v: _duration(v)),
)


def _markdown_table(table, columns) -> str:
    """A markdown table of ``table`` with ``columns``: ``(column, header, format)`` triples; format ``None``
    shows ``<column>_mean ± <column>_std``. Columns the table lacks are left out."""
    header, rows = [], [[] for _ in range(len(table))]
    for column, title, fmt in columns:
        if fmt is None:
            mean, std = f"{column}_mean", f"{column}_std"
            if mean not in table.columns:
                continue
            values = [
                "" if _item(m) is None else f"{float(m):.3f} ± {float(_item(s) or 0.0):.3f}"
                for m, s in zip(table[mean], table[std] if std in table.columns else [0.0] * len(table))
            ]
        else:
            if column not in table.columns:
                continue
            values = ["" if _item(v) is None else fmt(_item(v)) for v in table[column]]
        header.append(title)
        for row, value in zip(rows, values):
            row.append(str(value).replace("|", "\\|"))
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def comparison_markdown(table) -> str:
    """``evaluation.comparison_table`` as the README's markdown table (mean ± std over folds)."""
    return _markdown_table(table, _COMPARISON_COLUMNS)


def _comparison_section(results: Path) -> str:
    try:
        from ..evaluation import comparison_table

        table = comparison_table(results)
    except Exception as error:  # fall back to the table notebook 03 wrote; the report is written either way
        try:
            import pandas as pd

            table = pd.read_csv(results / "comparison.csv")
        except Exception:
            return f"_No comparison table: {type(error).__name__}: {error}_"
    if table is None or len(table) == 0:
        return "_No finished experiments in the results folder._"
    folds = int(table["folds"].max()) if "folds" in table.columns else None
    note = (f"Mean ± sample standard deviation over {folds} cross-validation folds; test: the test fold's score "
            "(its cross-validation model, trained on the other folds); buffers: stored, not learned values such as batch-norm running "
            "statistics; training time: all folds together." if folds else "")
    return comparison_markdown(table) + ("\n\n" + note if note else "")


def _headline_section(results: Path) -> Optional[str]:
    """The protocol's numbers (written by the comparison notebook to ``results/headline.json``)."""
    store = ResultsStore(results)
    headline = store.read(store.root / "headline.json")
    if not headline or "comparison" not in headline:
        return None
    comparison = headline.pop("comparison")
    pct = lambda v: "" if v is None else f"{100 * v:.1f} %"  # noqa: E731
    lines = ["| experiment | seeds | official CV, mean over seeds (lowest–highest seed) | development CV, mean over "
             "seeds | test fold (seed 0), 95 % CI |", "|---|---|---|---|---|"]
    for name, h in headline.items():
        test = ("" if h.get("test_accuracy") is None else
                f"{pct(h['test_accuracy'])} ({pct(h['test_ci_low'])}–{pct(h['test_ci_high'])}) on {h['test_clips']} clips")
        lines.append(f"| {name} | {h['seeds']} | {pct(h['official_cv_mean'])} ({pct(h['official_cv_min'])}–"
                     f"{pct(h['official_cv_max'])}) | {pct(h['dev_cv_mean'])} | {test} |")
    o, d = comparison["official"], comparison["development"]
    ci = lambda t: f"{100 * t['mean']:+.1f} points, 95 % CI {100 * t['ci_low']:+.1f} to {100 * t['ci_high']:+.1f}"  # noqa: E731
    lines += ["", f"{comparison['a']} − {comparison['b']}, mean over seeds (corrected resampled t-test): official CV "
              f"{ci(o)}; development CV {ci(d)}. The verdict: {comparison['text'].split(' (')[0]}.", "",
              f"Shipped model (`audiolab predict`): **{comparison['shipped']}**, chosen on the development folds."]
    return "\n".join(lines)


def _ablation_section(results: Path) -> Optional[str]:
    """The recipe ablations of notebooks 01 and 02 (``results/ablation-<arch>.csv``)."""
    import pandas as pd

    parts = []
    for arch in ("arch1", "arch2"):
        path = results / f"ablation-{arch}.csv"
        if not path.is_file():
            continue
        table = pd.read_csv(path)
        rows = ["| variant | seeds | development accuracy | vs recipe (paired, points) | 95 % CI |", "|---|---|---|---|---|"]
        for r in table.itertuples():
            diff = "" if pd.isna(r.difference) else f"{r.difference:+.2f} ± {r.se:.2f}"
            ci = "" if pd.isna(r.ci_low) else f"{r.ci_low:+.2f} to {r.ci_high:+.2f}"
            rows.append(f"| {r.variant} | {r.seeds} | {r.dev_accuracy:.2f} % | {diff} | {ci} |")
        parts.append(f"**{arch}**\n\n" + "\n".join(rows))
    return "\n\n".join(parts) or None


def _ensemble_section(results: Path) -> Optional[str]:
    try:
        from ..evaluation import ensemble_table

        table = ensemble_table(results)
    except Exception:
        return None
    return _markdown_table(table, _ENSEMBLE_COLUMNS) if len(table) else None


def _duration(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _readme(folder: Path, run: dict) -> str:
    hw = run["hardware"]
    settings = run["profile_settings"]
    lines = [
        "# audiolab reports",
        "",
        f"Generated by `audiolab reports --profile {run['profile']}` on {run['finished']}. "
        "Every file here is regenerated by that command (`make reports`); do not edit by hand.",
        "",
    ]
    headline = _headline_section(folder / "results")
    if headline:
        lines += ["## The protocol's numbers", "",
                  "Choices are made on the development folds 1-4 only; fold 5 is the test fold, scored by the "
                  "official cross-validation's fold-5 model. The recipe was first built looking at all five folds "
                  "(earlier versions of the kit), so the test fold's number is one more estimate, not an untouched one.",
                  "", headline, ""]
    lines += ["## Comparison (official cross-validation, seed 0)", "", _comparison_section(folder / "results"), ""]
    ablation = _ablation_section(folder / "results")
    if ablation:
        lines += ["## What each ingredient of the recipe is worth (development folds)", "",
                  "Each variant switches one ingredient off; paired with the recipe seed by seed (mean ± standard "
                  "error over seeds, and a 95 % t-interval).", "", ablation, ""]
    chosen = (ResultsStore(folder / "results").best_model_info() or {}).get("experiment")
    if chosen:
        lines += [f"`audiolab predict` uses `results/best_model.pt`: the test-fold model of **{chosen}** (trained on folds 1-4 in its official cross-validation).", ""]
    ensembles = _ensemble_section(folder / "results")
    if ensembles:
        lines += ["## Seed ensembles", "",
                  "The chosen configurations cross-validated with several seeds: the single seeds' range, and the "
                  "ensemble that averages their probabilities.", "", ensembles, ""]
    spent = ResultsStore(folder / "results").training_seconds()
    lines += ["## Training behind these results", "",
              "| official cross-validation | development cross-validation | search trials | total |",
              "|---|---|---|---|",
              f"| {_duration(spent['cv'])} | {_duration(spent['dev_cv'])} | {_duration(spent['search'])} "
              f"| **{_duration(spent['total'])}** |", "",
              "Sums of the training time stored with every result, however many runs of `audiolab reports` produced "
              "them (evaluation, figures and notebook start-up come on top).", ""]
    lines += ["## Notebooks", "",
              "Wall time of this run; a run reuses every finished result, so it is shorter than the first one.", "",
              "| notebook | executed | HTML | wall time |", "|---|---|---|---|"]
    for item in run["notebooks"]:
        name = item["notebook"]
        stem = Path(name).stem
        lines.append(f"| {stem} | [notebooks/{name}](notebooks/{name}) | [html/{stem}.html](html/{stem}.html) "
                     f"| {_duration(item['seconds'])} |")
    lines.append(f"| **total** | | | **{_duration(run['total_seconds'])}** |")
    figures = sorted((folder / "figures").rglob("*.png"))
    lines += ["", f"## Figures ({len(figures)})", ""]
    lines += [f"- [{p.relative_to(folder / 'figures').as_posix()}](figures/{p.relative_to(folder / 'figures').as_posix()})"
              for p in figures]
    lines += [
        "",
        "## Run",
        "",
        f"- profile: `{run['profile']}` (epochs {settings.get('epochs')}, folds {fmt_number(settings.get('folds'))}, "
        f"search trials {settings.get('search_trials')}, search epochs {settings.get('search_epochs')})",
        f"- started {run['started']}, finished {run['finished']}, wall time {_duration(run['total_seconds'])}",
        f"- CPU: {hw.get('cpu')} ({hw.get('cores')} cores); platform {hw.get('platform')}",
        f"- Python {hw.get('python')}, torch {hw.get('torch')} ({hw.get('torch_threads')} threads), "
        f"device `{hw.get('device')}`" + (f" ({hw['gpu']})" if hw.get("gpu") else ""),
        "",
    ]
    return "\n".join(lines)
