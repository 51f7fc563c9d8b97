"""Running the course notebooks with papermill into the report folder (``audiolab reports``).

The four notebooks in ``notebooks/`` are the report: they train, evaluate and
compare the models, and every number in them comes from the results they
compute. :func:`run_reports` runs them in order into a staging folder next to the
output (``reports.partial/``) and only when all four succeed swaps it into place::

    reports/
      README.md        comparison table, links, hardware, wall times (generated: see readme.py)
      run.json         the same facts as data
      notebooks/       the executed notebooks (with outputs)
      html/            the same as HTML pages
      figures/         every figure as PNG
      results/         experiment results (JSON/CSV, models); best_model.pt for `audiolab predict`

**Resume.** Results are cached per experiment (see :mod:`audiolab.evaluation.store`).
Before a run, the staging folder is seeded with the results of the current
output and keeps those of an interrupted run, so a rerun retrains nothing that
already finished. If a notebook fails, the output is left untouched, the
partial folder stays for the next attempt, and the failing executed notebook
(with the error in it) is named.

**Stale results.** A run that executes every training notebook removes, before the
comparison notebook reads the results, the result files none of them wrote or
reused (:meth:`~audiolab.evaluation.store.ResultsStore.prune_unused`): they belong to
configurations the notebooks no longer define, and would otherwise show up in the
report's tables.

The ``smoke`` profile writes to ``reports-smoke/`` by default, never over the
committed ``reports/``.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Mapping, Optional, Sequence, Union

from .. import configs
from .._util import PathLike, repo_root
from ..evaluation.store import ResultsStore
from .dataset import ensure_dataset
from .readme import _duration, _readme, hardware_info

__all__ = ["NOTEBOOKS", "ReportError", "notebooks_dir", "default_output", "run_reports", "reports_command"]

#: The notebooks of the report, in the order they run (later ones read earlier results).
NOTEBOOKS: Sequence[Union[str, Path]] = (
    "00_dataset.ipynb",
    "01_architecture1.ipynb",
    "02_architecture2.ipynb",
    "03_comparison.ipynb",
)

#: The notebook that reads the results of all the others (see :meth:`ResultsStore.prune_unused`).
COMPARISON_NOTEBOOK = "03_comparison.ipynb"

#: What :func:`run_reports` writes into the output folder; anything else already there is kept.
MANAGED = ("README.md", "run.json", "notebooks", "html", "figures", "results")

KERNEL_NAME = "python3"


class ReportError(RuntimeError):
    """A notebook failed; ``notebook`` is the executed copy holding the error, ``partial`` the staging folder."""

    def __init__(self, message: str, notebook: Optional[Path] = None, partial: Optional[Path] = None):
        super().__init__(message)
        self.notebook = notebook
        self.partial = partial


# --------------------------------------------------------------------------- where things are


def notebooks_dir() -> Path:
    """``notebooks/`` of this checkout."""
    folder = repo_root() / "notebooks"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no notebooks folder at {folder}: `audiolab reports` runs the notebooks of a checkout of the "
            "repository; run it from the repository root (git clone, then `make reports`)"
        )
    return folder


def default_output(profile: str = "full") -> Path:
    """``reports/`` of the checkout for the full profile, ``reports-<profile>/`` for the others."""
    name = "reports" if profile == "full" else f"reports-{profile}"
    return repo_root() / name


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


def _execute(notebook: Path, executed: Path, parameters: dict, kernel_name: str, cwd: Path,
             label: Optional[str] = None) -> None:
    """Run ``notebook`` into ``executed``; with a ``label``, show the progress line (see :mod:`.progress`)."""
    import papermill as pm

    from .progress import papermill_options

    pm.execute_notebook(
        str(notebook),
        str(executed),
        parameters=parameters,
        kernel_name=kernel_name,
        log_output=False,
        cwd=str(cwd),
        # the kernel's own log (e.g. "running over TCP without encryption") is noise on the terminal
        extra_arguments=["--IPKernelApp.log_level=ERROR"],
        **papermill_options(label),
    )
    import nbformat

    done = nbformat.read(str(executed), as_version=4)  # papermill records where the notebook was: say it relatively
    info = done.metadata.get("papermill", {})
    for key in ("input_path", "output_path"):
        if info.get(key):
            info[key] = _from_repo(Path(info[key]))
    nbformat.write(done, str(executed))


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
            ``wandb_mode``, ``progress``: default off, ``check_claims``); ``results_dir`` and ``figures_dir`` are always the
            report's own.
        progress: show one console line, updated in place: the notebook, its cell, and what is training
            (``01_architecture1 (2/4) · cell 25/37 · arch1 cv fold 3 · epoch 57/100``).
        notebooks: the notebooks to run (default :data:`NOTEBOOKS`, names relative to ``notebooks/``).

    Raises :class:`ReportError` when a notebook fails: ``output`` is then left as it
    was and ``<output>.partial/`` is kept, so the next run resumes from it.
    """
    configs.get_profile(profile)  # an unknown profile fails here, before anything runs
    output = (Path(output).expanduser() if output is not None else default_output(profile)).absolute()
    staging = _staging_for(output)
    paths = _notebook_paths(notebooks)
    resumed = staging.is_dir()
    _prepare_staging(output, staging)

    params = {"progress": False, **dict(parameters or {})}  # progress bars are noise in a saved notebook
    params.update(
        profile=profile,
        data_root=_from_repo(Path(root).expanduser()) if root is not None else params.get("data_root"),
        results_dir=_from_repo(staging / "results"),
        figures_dir=_from_repo(staging / "figures"),
    )
    if progress and resumed:
        print(f"resuming from {staging}", file=sys.stderr)
    store = ResultsStore(staging / "results")

    started = _dt.datetime.now().astimezone()
    # 2 s of slack: file systems with coarse timestamps may round a mark made just after the start down
    marks_since = time.time() - 2.0
    names = [Path(n).name for n in NOTEBOOKS]
    trainers = set(names[: names.index(COMPARISON_NOTEBOOK)]) if COMPARISON_NOTEBOOK in names else None
    timings, pruned = [], 0
    t_total = time.perf_counter()
    with _current_python_kernel() as kernel_name:
        for number, notebook in enumerate(paths, 1):
            if notebook.name == COMPARISON_NOTEBOOK and trainers is not None and trainers <= {t["notebook"] for t in timings}:
                # every training notebook ran in this run: what none of them used is stale
                pruned = len(store.prune_unused(marks_since))
                if progress and pruned:
                    print(f"removed {pruned} result files of configurations the notebooks no longer define", file=sys.stderr)
            executed = staging / "notebooks" / notebook.name
            t0 = time.perf_counter()
            try:
                _execute(notebook, executed, params, kernel_name, repo_root(),
                         f"{notebook.stem} ({number}/{len(paths)})" if progress else None)
            except Exception as error:
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
                print(f"{notebook.name}: done in {_duration(timings[-1]['seconds'])}", file=sys.stderr)
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


def _from_repo(path: Path) -> str:
    """``path`` relative to the repository (where the notebooks run) when inside it, so that the executed
    notebooks, whose parameters cell shows it, name no folder of the machine that ran them."""
    path = path.absolute()
    try:
        return path.relative_to(repo_root()).as_posix()
    except ValueError:
        return str(path)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    ename = getattr(error, "ename", None)
    evalue = getattr(error, "evalue", None)
    if ename:  # papermill's PapermillExecutionError carries the notebook's exception
        return f"{ename}: {evalue}"
    return text[0] if text else ""


# --------------------------------------------------------------------------- command


def reports_command(args) -> int:
    """``audiolab reports [--profile full|smoke] [--root PATH] [--output DIR] [--no-check-claims]``: 0 on success, 1 if a notebook failed
    or there is no dataset (with none anywhere, ESC-10 is downloaded first: :func:`.dataset.ensure_dataset`)."""
    profile = getattr(args, "profile", "full") or "full"
    output = getattr(args, "output", None)
    if output is None:  # a smoke run never overwrites the committed reports/
        output = default_output(profile)
    try:
        ensure_dataset(getattr(args, "root", None))
        extra = {} if getattr(args, "check_claims", True) else {"check_claims": False}
        path = run_reports(profile=profile, output=output, root=getattr(args, "root", None), parameters=extra)
    except ReportError as error:
        print(f"audiolab reports: error: {error}", file=sys.stderr)
        return 1
    except (FileNotFoundError, ValueError) as error:
        print(f"audiolab reports: error: {error}", file=sys.stderr)
        return 1
    print(f"reports written to {path} (open {path / 'README.md'})")
    return 0
