"""``audiolab reports``: run the course notebooks with papermill and (re)generate ``reports/``.

The four notebooks in ``notebooks/`` are the report: they train, evaluate and
compare the models, and every number in them comes from the results they
compute. :func:`run_reports` runs them in order into a staging folder next to the
output (``reports.partial/``) and only when all four succeed swaps it into place::

    reports/
      README.md        comparison table, links, hardware, wall times (generated)
      run.json         the same facts as data
      notebooks/       the executed notebooks (with outputs)
      html/            the same as HTML pages
      figures/         every figure as PNG
      results/         experiment results (JSON/CSV, models); best_model.pt for `audiolab predict`

**Resume.** Results are cached per experiment (see :mod:`audiolab.experiments`).
Before a run, the staging folder is seeded with the results of the current
output and keeps those of an interrupted run, so a rerun retrains nothing that
already finished. If a notebook fails, the output is left untouched, the
partial folder stays for the next attempt, and the failing executed notebook
(with the error in it) is named.

**Stale results.** A run that executes every training notebook removes, before the
comparison notebook reads the results, the result files none of them wrote or
reused (:func:`prune_unused_results`): they belong to configurations the notebooks
no longer define, and would otherwise show up in the report's tables.

The ``smoke`` profile writes to ``reports-smoke/`` by default, never over the
committed ``reports/``.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence, Union

from . import configs

__all__ = [
    "NOTEBOOKS",
    "ReportError",
    "notebooks_dir",
    "default_output",
    "run_reports",
    "reports_command",
    "hardware_info",
    "markdown_table",
    "comparison_markdown",
]

#: The notebooks of the report, in the order they run (later ones read earlier results).
NOTEBOOKS: Sequence[Union[str, Path]] = (
    "00_dataset.ipynb",
    "01_architecture1.ipynb",
    "02_architecture2.ipynb",
    "03_comparison.ipynb",
)

#: The notebook that reads the results of all the others (see :func:`prune_unused_results`).
COMPARISON_NOTEBOOK = "03_comparison.ipynb"

#: What :func:`run_reports` writes into the output folder; anything else already there is kept.
MANAGED = ("README.md", "run.json", "notebooks", "html", "figures", "results")

KERNEL_NAME = "python3"
PathLike = Union[str, os.PathLike]


class ReportError(RuntimeError):
    """A notebook failed; ``notebook`` is the executed copy holding the error, ``partial`` the staging folder."""

    def __init__(self, message: str, notebook: Optional[Path] = None, partial: Optional[Path] = None):
        super().__init__(message)
        self.notebook = notebook
        self.partial = partial


# --------------------------------------------------------------------------- where things are


def notebooks_dir() -> Path:
    """``notebooks/`` of this checkout."""
    folder = configs._repo_root() / "notebooks"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no notebooks folder at {folder}: `audiolab reports` runs the notebooks of a checkout of the "
            "repository; run it from the repository root (git clone, then `make reports`)"
        )
    return folder


def default_output(profile: str = "full") -> Path:
    """``reports/`` of the checkout for the full profile, ``reports-<profile>/`` for the others."""
    name = "reports" if profile == "full" else f"reports-{profile}"
    return configs._repo_root() / name


def _notebook_paths(notebooks: Optional[Iterable[PathLike]]) -> list[Path]:
    items = list(NOTEBOOKS if notebooks is None else notebooks)
    paths = []
    for item in items:
        path = Path(item)
        if not path.is_absolute() and not path.exists():
            path = notebooks_dir() / path
        if not path.is_file():
            raise FileNotFoundError(f"notebook {path} does not exist; the report runs {[Path(i).name for i in items]}")
        paths.append(path)
    return paths


def _staging_for(output: Path) -> Path:
    return output.with_name(output.name + ".partial")


# --------------------------------------------------------------------------- staging and resume


def _copy_missing(src: Path, dst: Path) -> int:
    """Copy files of ``src`` that ``dst`` lacks (keeping their mtimes); returns how many were copied."""
    copied = 0
    for path in src.rglob("*"):
        if not path.is_file():
            continue
        target = dst / path.relative_to(src)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
        copied += 1
    return copied


def _prepare_staging(output: Path, staging: Path) -> None:
    """A staging folder whose ``results/`` holds every finished result (an interrupted run's and the output's)."""
    staging.mkdir(parents=True, exist_ok=True)
    for name in MANAGED:
        if name == "results":
            continue
        path = staging / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    (staging / "results").mkdir(exist_ok=True)
    if (output / "results").is_dir():
        _copy_missing(output / "results", staging / "results")
    for name in ("notebooks", "html", "figures"):
        (staging / name).mkdir()


def prune_unused_results(results: PathLike, since: float) -> list[Path]:
    """Delete the files of experiments under ``results`` (``results/<name>/...``) that were neither
    written nor reused since ``since`` (a :func:`time.time`), and the folders left empty; returns the
    deleted files. Files directly in ``results`` (the comparison notebook's tables and kept model)
    are left to the notebook that rewrites them.

    Experiments mark each stored result they reuse (its modification time becomes "now"), so
    once the training notebooks have run, an older file belongs to a configuration they no
    longer define: a search trial of a changed starting configuration, the seed ensemble of a
    head count that is no longer the best. Left in place, it would appear in the comparison and
    ensemble tables and in the training-time sums as if it were part of this report.
    """
    results = Path(results)
    removed = [p for p in results.glob("*/**/*") if p.is_file() and p.stat().st_mtime < since]
    for path in removed:
        path.unlink()
    for folder in sorted((p for p in results.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(folder.iterdir()):
            folder.rmdir()
    return removed


def _swap_into_place(staging: Path, output: Path) -> None:
    """Replace ``output`` by ``staging``: files of ``output`` the report does not manage are carried over."""
    if output.exists():
        for entry in output.iterdir():
            if entry.name in MANAGED or (staging / entry.name).exists():
                continue
            if entry.is_dir():
                shutil.copytree(entry, staging / entry.name, symlinks=True)
            else:
                shutil.copy2(entry, staging / entry.name, follow_symlinks=False)
        old = output.with_name(f"{output.name}.old-{os.getpid()}")
        if old.exists():
            shutil.rmtree(old)
        os.replace(output, old)
        try:
            os.replace(staging, output)
        except OSError:
            os.replace(old, output)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, output)


# --------------------------------------------------------------------------- running


@contextmanager
def _current_python_kernel():
    """Make the ``python3`` kernel this interpreter, whatever kernelspecs the machine has.

    Notebook metadata keeps naming ``python3``; a private kernelspec of that name
    (this interpreter + ipykernel) goes first on ``JUPYTER_PATH`` while papermill runs.
    """
    with tempfile.TemporaryDirectory(prefix="audiolab-kernel-") as tmp:
        spec = Path(tmp) / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        }))
        before = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = tmp + (os.pathsep + before if before else "")
        try:
            yield KERNEL_NAME
        finally:
            if before is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = before


def _execute(notebook: Path, executed: Path, parameters: dict, kernel_name: str, cwd: Path, progress: bool = False) -> None:
    import papermill as pm

    pm.execute_notebook(
        str(notebook),
        str(executed),
        parameters=parameters,
        kernel_name=kernel_name,
        progress_bar={"leave": False, "desc": f"  {notebook.stem} cells"} if progress else False,
        log_output=False,
        cwd=str(cwd),
        # the kernel's own log (e.g. "running over TCP without encryption") is noise on the terminal
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
    )


def _export_html(executed: Path, html: Path) -> None:
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(str(executed), as_version=4))
    html.write_text(body, encoding="utf-8")


def run_reports(
    profile: str = "full",
    output: Optional[PathLike] = None,
    root: Optional[PathLike] = None,
    parameters: Optional[Mapping] = None,
    progress: bool = True,
    notebooks: Optional[Iterable[PathLike]] = None,
) -> Path:
    """Run the notebooks with papermill and regenerate the report folder; returns its path.

    Args:
        profile: ``"full"`` (the real run behind ``reports/``) or ``"smoke"`` (a quick check).
        output: the report folder (default :func:`default_output`: ``reports/`` or ``reports-smoke/``).
        root: dataset folder passed to the notebooks as ``data_root`` (default: ``$AUDIOLAB_DATA``,
            then the cache folder).
        parameters: more papermill parameters (``epochs``, ``folds``, ``search_trials``, ``seed``,
            ``wandb_mode``, ``progress``: default off); ``results_dir`` and ``figures_dir`` are always the
            report's own.
        progress: show a progress bar over the notebooks.
        notebooks: the notebooks to run (default :data:`NOTEBOOKS`, names relative to ``notebooks/``).

    Raises :class:`ReportError` when a notebook fails: ``output`` is then left as it
    was and ``<output>.partial/`` is kept, so the next run resumes from it.
    """
    from tqdm.auto import tqdm

    configs.get_profile(profile)  # an unknown profile fails here, before anything runs
    output = (Path(output).expanduser() if output is not None else default_output(profile)).absolute()
    staging = _staging_for(output)
    paths = _notebook_paths(notebooks)
    resumed = staging.is_dir()
    _prepare_staging(output, staging)

    params = {"progress": False, **dict(parameters or {})}  # progress bars are noise in a saved notebook
    params.update(
        profile=profile,
        data_root=str(Path(root).expanduser().absolute()) if root is not None else params.get("data_root"),
        results_dir=str(staging / "results"),
        figures_dir=str(staging / "figures"),
    )
    if progress and resumed:
        print(f"resuming from {staging}", file=sys.stderr)

    started = _dt.datetime.now().astimezone()
    # 2 s of slack: file systems with coarse timestamps may round a mark made just after the start down
    marks_since = time.time() - 2.0
    names = [Path(n).name for n in NOTEBOOKS]
    trainers = set(names[: names.index(COMPARISON_NOTEBOOK)]) if COMPARISON_NOTEBOOK in names else None
    timings, pruned = [], 0
    t_total = time.perf_counter()
    with _current_python_kernel() as kernel_name:
        bar = tqdm(paths, desc="notebooks", unit="notebook", disable=not progress)
        for notebook in bar:
            bar.set_postfix_str(notebook.name)
            if notebook.name == COMPARISON_NOTEBOOK and trainers is not None and trainers <= {t["notebook"] for t in timings}:
                # every training notebook ran in this run: what none of them used is stale
                pruned = len(prune_unused_results(staging / "results", marks_since))
                if progress and pruned:
                    bar.write(f"removed {pruned} result files of configurations the notebooks no longer define")
            executed = staging / "notebooks" / notebook.name
            t0 = time.perf_counter()
            try:
                _execute(notebook, executed, params, kernel_name, configs._repo_root(), progress)
            except Exception as error:
                bar.close()
                raise ReportError(
                    f"notebook {notebook.name} failed ({type(error).__name__}): {_first_line(error)}\n"
                    f"the executed notebook with the error: {executed}\n"
                    f"{output} was left untouched; finished results stay in {staging} and the next run resumes from them",
                    notebook=executed,
                    partial=staging,
                ) from error
            _export_html(executed, staging / "html" / (notebook.stem + ".html"))
            timings.append({"notebook": notebook.name, "seconds": round(time.perf_counter() - t0, 2)})
            if progress:
                bar.write(f"{notebook.name}: done in {_duration(timings[-1]['seconds'])}")
        bar.close()
    total = time.perf_counter() - t_total

    run = {
        "profile": profile,
        "profile_settings": configs.get_profile(profile).to_dict(),
        "parameters": {k: v for k, v in params.items() if k not in ("results_dir", "figures_dir")},
        "started": started.isoformat(timespec="seconds"),
        "finished": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "notebooks": timings,
        "stale_result_files_removed": pruned,
        "total_seconds": round(total, 2),
        "hardware": hardware_info(),
    }
    (staging / "run.json").write_text(json.dumps(run, indent=2, default=str) + "\n")
    (staging / "README.md").write_text(_readme(staging, run), encoding="utf-8")
    _swap_into_place(staging, output)
    return output


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    ename = getattr(error, "ename", None)
    evalue = getattr(error, "evalue", None)
    if ename:  # papermill's PapermillExecutionError carries the notebook's exception
        return f"{ename}: {evalue}"
    return text[0] if text else ""


# --------------------------------------------------------------------------- README


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

        from .train import select_device

        device = select_device("auto")
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["device"] = str(device)
        if device.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(device)
    except Exception as error:  # the README is still written without them
        info["torch"] = f"unavailable ({error})"
    return info


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fmt(v) for v in value)
    return str(value).replace("|", "\\|").replace("\n", " ")


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
                cells.append(f"{_fmt(float(value))} ± {_fmt(float(_item(record[std])))}")
            else:
                cells.append(_fmt(value))
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
    """``experiments.comparison_table`` as the README's markdown table (mean ± std over folds)."""
    return _markdown_table(table, _COMPARISON_COLUMNS)


def _comparison_section(results: Path) -> str:
    try:
        from . import experiments

        table = experiments.comparison_table(results)
    except Exception as error:  # fall back to the table notebook 03 wrote; the report is written either way
        try:
            import pandas as pd

            table = pd.read_csv(results / "comparison.csv")
        except Exception:
            return f"_No comparison table: {type(error).__name__}: {error}_"
    if table is None or len(table) == 0:
        return "_No finished experiments in the results folder._"
    folds = int(table["folds"].max()) if "folds" in table.columns else None
    note = (f"Mean ± sample standard deviation over {folds} cross-validation folds; test: the held-out test fold "
            "(trained on the other folds); buffers: stored, not learned values such as batch-norm running "
            "statistics; training time: all folds together." if folds else "")
    return comparison_markdown(table) + ("\n\n" + note if note else "")


def _ensemble_section(results: Path) -> Optional[str]:
    try:
        from . import experiments

        table = experiments.ensemble_table(results)
    except Exception:
        return None
    return _markdown_table(table, _ENSEMBLE_COLUMNS) if len(table) else None


def training_seconds(results: PathLike) -> dict:
    """Seconds of training behind a results folder, by kind: ``cv`` folds, ``holdout`` models and
    ``search`` trials (seed-ensemble members are ``cv`` runs of their own), plus ``total``.

    Unlike the wall time of one ``audiolab reports`` run, this does not shrink when finished
    experiments are reused."""
    results = Path(results)
    sums = {"cv": 0.0, "holdout": 0.0, "search": 0.0}
    patterns = {"cv": "*/cv/fold*.json", "holdout": "*/holdout/result.json", "search": "*/search/trial-*.json"}
    for kind, pattern in patterns.items():
        for path in results.glob(pattern):
            try:
                sums[kind] += float(json.loads(path.read_text()).get("train_seconds") or 0.0)
            except (ValueError, OSError):
                continue
    sums["total"] = sum(sums.values())
    return sums


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
        "## Comparison (official cross-validation)",
        "",
        _comparison_section(folder / "results"),
        "",
    ]
    best = folder / "results" / "best_model.json"
    if best.is_file():
        try:
            chosen = json.loads(best.read_text()).get("experiment")
        except ValueError:
            chosen = None
        if chosen:
            lines += [f"`audiolab predict` uses `results/best_model.pt`: the held-out model of **{chosen}**.", ""]
    ensembles = _ensemble_section(folder / "results")
    if ensembles:
        lines += ["## Seed ensembles", "",
                  "The chosen configurations cross-validated with several seeds: the single seeds' range, and the "
                  "ensemble that averages their probabilities.", "", ensembles, ""]
    spent = training_seconds(folder / "results")
    lines += ["## Training behind these results", "",
              "| cross-validation folds | held-out models | search trials | total |", "|---|---|---|---|",
              f"| {_duration(spent['cv'])} | {_duration(spent['holdout'])} | {_duration(spent['search'])} "
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
        f"- profile: `{run['profile']}` (epochs {settings.get('epochs')}, folds {_fmt(settings.get('folds'))}, "
        f"search trials {settings.get('search_trials')}, search epochs {settings.get('search_epochs')})",
        f"- started {run['started']}, finished {run['finished']}, wall time {_duration(run['total_seconds'])}",
        f"- CPU: {hw.get('cpu')} ({hw.get('cores')} cores); platform {hw.get('platform')}",
        f"- Python {hw.get('python')}, torch {hw.get('torch')} ({hw.get('torch_threads')} threads), "
        f"device `{hw.get('device')}`" + (f" ({hw['gpu']})" if hw.get("gpu") else ""),
        "",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- command


def reports_command(args) -> int:
    """``audiolab reports [--profile full|smoke] [--root PATH] [--output DIR]``: 0 on success, 1 if a notebook failed."""
    profile = getattr(args, "profile", "full") or "full"
    output = getattr(args, "output", None)
    if output is None:  # a smoke run never overwrites the committed reports/
        output = default_output(profile)
    try:
        path = run_reports(profile=profile, output=output, root=getattr(args, "root", None))
    except ReportError as error:
        print(f"audiolab reports: error: {error}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as error:
        print(f"audiolab reports: error: {error}", file=sys.stderr)
        return 1
    print(f"reports written to {path} (open {path / 'README.md'})")
    return 0
