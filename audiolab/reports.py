"""``audiolab reports`` (``make reports``): the course notebooks run by papermill into ``reports/``::

    reports/  README.md (links, the headline table)  run.json  notebooks/  html/  figures/  results/

They run in order into ``reports.partial/``, which replaces the output only when all succeeded. Results are reused by
key: staging starts with the output's results and keeps an interrupted run's, so a rerun resumes; a failing notebook
leaves the output untouched and is named. ``run.json`` lists every file a run wrote: a non-empty output without that
list is refused (a foreign folder, or a report of an older kit), and a rerun carries over every other file. Only folders
the kit made are deleted. Outputs name no machine path and hold no timings or random cell ids. The ``smoke`` profile
writes to ``reports-smoke/``."""
from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Mapping, Optional
from unittest import mock

from . import configs
from ._util import PathLike, plain, read_json, repo_root

#: The notebooks of the report, in ``notebooks/``, in the order they run (later ones read earlier results).
NOTEBOOKS = ["00_dataset.ipynb", "01_architecture1.ipynb", "02_architecture2.ipynb", "03_comparison.ipynb"]
#: The file that marks a staging folder as the kit's.
STAGING_MARK = ".audiolab-staging"


class ReportError(RuntimeError):
    """A notebook failed (the message names the executed copy holding the error)."""


class OutputRefused(ValueError):
    """The output or its staging folder holds files the kit did not write: nothing was changed."""


def default_output(profile: str = "full") -> Path:
    """``reports/`` of the checkout for the full profile, ``reports-<profile>/`` for the others."""
    return repo_root() / ("reports" if profile == "full" else f"reports-{profile}")


def ensure_dataset(root: Optional[PathLike] = None) -> Path:
    """The dataset the notebooks will read; ESC-10 is downloaded into the cache folder when there is none
    (but a ``root`` or ``$AUDIOLAB_DATA`` that names a missing folder is an error to fix, not a place to download)."""
    from .data import DATA_ENV, DatasetNotFoundError, DownloadError, resolve_root

    try:
        return resolve_root(root)[0]
    except DatasetNotFoundError as missing:
        if root is not None or os.environ.get(DATA_ENV):
            raise
        print("audiolab reports: no ESC-10 on this machine yet: downloading it (once)", file=sys.stderr)
        try:
            return resolve_root(None, download=True)[0]
        except (DownloadError, OSError) as error:
            raise DatasetNotFoundError(f"{missing}\nThe automatic download failed: {error}") from error


def files_of(folder: Path) -> list:
    """Every file (and link) under ``folder`` as relative POSIX paths; empty folders end with ``/``."""
    paths = [p for p in folder.rglob("*") if p.is_symlink() or p.is_file() or not any(p.iterdir())]
    return sorted(p.relative_to(folder).as_posix() + ("/" if p.is_dir() and not p.is_symlink() else "") for p in paths)


def check_output(output: Path, staging: Path) -> set:
    """The files of ``output`` the kit wrote (the ``files`` its ``run.json`` lists); refuses an output or
    staging folder that is not the kit's, and a report of an older kit (its ``run.json`` lists no files)."""
    if staging.exists() and not (staging / STAGING_MARK).is_file():
        raise OutputRefused(f"{staging} exists and was not made by audiolab reports: move or rename it, then run again")
    if output.exists() and not output.is_dir():
        raise OutputRefused(f"{output} is a file: choose a folder with --output")
    if not output.is_dir() or not any(output.iterdir()):
        return set()
    run = read_json(output / "run.json")
    run = run if isinstance(run, dict) and isinstance(run.get("notebooks"), list) else {}
    if run and "files" not in run:
        raise OutputRefused(f"{output} was made by an older audiolab (its run.json lists no files): move it aside "
                            "or give --output a new folder")
    files = run.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        raise OutputRefused(f"{output} holds files audiolab reports did not write (it has no run.json of the kit "
                            "listing its files): choose a new or empty folder with --output, or move those files out")
    return set(files)


def prepare_staging(output: Path, staging: Path, recorded: set) -> None:
    """A marked staging folder whose ``results/`` holds an interrupted run's results and those the kit wrote
    into ``output`` (``recorded``); nothing else of the output."""
    staging.mkdir(parents=True, exist_ok=True)
    (staging / STAGING_MARK).write_text("made by audiolab reports; removed when the run finishes\n")
    for name in ("notebooks", "html", "figures", "README.md", "run.json"):
        shutil.rmtree(staging / name) if (staging / name).is_dir() else (staging / name).unlink(missing_ok=True)
    for rel in sorted(r for r in recorded if r.startswith("results/") and ".." not in Path(r).parts):
        source, target = output / rel, staging / rel
        if source.is_file() and not source.is_symlink() and not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    for name in ("results", "notebooks", "html", "figures"):
        (staging / name).mkdir(exist_ok=True)


def swap_into_place(staging: Path, output: Path, recorded: set) -> None:
    """Replace ``output`` by ``staging``, carrying over every file of ``output`` not in ``recorded``; one at a
    path the kit now writes is refused (:class:`OutputRefused`) before anything changes."""
    written = set(files_of(staging)) - {STAGING_MARK}
    theirs = [rel for rel in files_of(output) if rel not in recorded] if output.exists() else []
    clash = [r for r in theirs if not r.endswith("/") and (
        r in written or any(r.startswith(w + "/") or w.startswith(r + "/") for w in written))]
    if clash:
        raise OutputRefused(f"{output} holds {', '.join(clash[:3])}, which audiolab reports did not write but now "
                            f"writes: move {'them' if len(clash) > 1 else 'it'} out of {output}, then run again "
                            f"(the finished results wait in {staging})")
    for rel in theirs:
        target = staging / rel.rstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.mkdir(exist_ok=True) if rel.endswith("/") else shutil.copy2(output / rel, target, follow_symlinks=False)
    (staging / STAGING_MARK).unlink()
    output.parent.mkdir(parents=True, exist_ok=True)
    old = Path(tempfile.mkdtemp(prefix=f".{output.name}.old-", dir=output.parent))  # new: only ever the kit's
    if output.exists():
        os.replace(output, old / output.name)
    os.replace(staging, output)
    shutil.rmtree(old)


def _relative(path: Path) -> str:
    """``path`` relative to the repository (where the notebooks run) when inside it: outputs name no machine."""
    path = path.absolute()
    return path.relative_to(repo_root()).as_posix() if path.is_relative_to(repo_root()) else str(path)


def execute(notebook: Path, executed: Path, parameters: dict) -> None:
    """Run ``notebook`` into ``executed`` with papermill (its cell bar on the console), in a kernel of this
    interpreter; then make the copy stable: cell ids by position, no timings, no progress-bar widgets (their
    ids are random), each cell's prints as one stream, paths relative to the repository."""
    import nbformat
    import papermill as pm
    from nbconvert.preprocessors import CoalesceStreamsPreprocessor

    pm.execute_notebook(str(notebook), str(executed), parameters=parameters, kernel_name="python3", cwd=str(repo_root()),
                        progress_bar={"desc": notebook.stem, "unit": "cell", "leave": False, "disable": False},
                        extra_arguments=["--IPKernelApp.log_level=ERROR"])  # the kernel's own log is noise
    nb = nbformat.read(str(executed), as_version=4)
    info = nb.metadata.get("papermill", {})
    for key in ("start_time", "end_time", "duration"):
        info.pop(key, None)
    info.update(input_path=_relative(notebook), output_path=_relative(executed))
    nb.metadata.pop("widgets", None)
    for number, cell in enumerate(nb.cells):
        cell.id = f"cell-{number}"
        cell.metadata.pop("execution", None)
        cell.metadata.pop("papermill", None)
        if "outputs" in cell:  # tqdm's notebook bars ignore TQDM_DISABLE
            cell.outputs = [o for o in cell.outputs if "application/vnd.jupyter.widget-view+json" not in o.get("data", {})]
    CoalesceStreamsPreprocessor().preprocess(nb, {})  # how a cell's prints were chunked depends on timing
    nbformat.write(nb, str(executed))


def export_html(executed: Path, html: Path) -> None:
    from nbconvert import HTMLExporter

    html.write_text(HTMLExporter().from_filename(str(executed))[0], encoding="utf-8")


def readme(folder: Path, run: dict) -> str:
    """The report's README: the headline table notebook 03 stored, the shipped model, links to the notebooks."""
    import pandas as pd

    lines = ["# audiolab reports", "", f"Made by `audiolab reports --profile {run['profile']}` (`make reports`) "
             "from the notebooks; it regenerates every file `run.json` lists (and keeps any other).", ""]
    headline = read_json(folder / "results" / "headline.json")
    headline = {k: v for k, v in headline.items() if isinstance(v, dict)} if isinstance(headline, dict) else {}
    verdict = headline.pop("comparison", None)
    if headline:
        table = pd.DataFrame.from_dict(headline, orient="index").rename_axis("experiment")
        scores = table.select_dtypes("float").columns  # accuracies and their interval's ends: in %
        table[scores] = (100 * table[scores]).map("{:.1f}".format)
        table.columns = [c.replace("_", " ") for c in table.columns]
        lines += ["## Headline (accuracy, %)", "", "Official cross-validation over all folds and development "
                  "cross-validation (folds 1-4), over seeds; the test fold (5) scored once, with its 95 % interval.",
                  "", table.to_markdown(disable_numparse=True), ""]
    if isinstance(verdict, dict):
        lines += [f"{verdict.get('text', '')}. Shipped model (`audiolab predict`): **{verdict.get('shipped')}**.", ""]
    lines += ["## Notebooks", "", "| notebook | executed | HTML |", "|---|---|---|"]
    lines += [f"| {Path(n).stem} | [notebooks/{n}](notebooks/{n}) | [html/{Path(n).stem}.html](html/{Path(n).stem}.html) |"
              for n in run["notebooks"]]
    return "\n".join(lines + ["", f"Figures: [figures/](figures/); results: [results/](results/)", ""])


def run_reports(profile: str = "full", output: Optional[PathLike] = None, root: Optional[PathLike] = None,
                parameters: Optional[Mapping] = None) -> Path:
    """Run :data:`NOTEBOOKS` with papermill into the report folder (default :func:`default_output`), with
    ``parameters`` for every notebook. :class:`ReportError` when a notebook fails (the output is left as it was,
    the staging folder kept for the next run), :class:`OutputRefused` when the output holds files not the kit's."""
    settings = plain(configs.get_profile(profile))  # an unknown profile fails here, before anything runs
    output = Path(output or default_output(profile)).expanduser().absolute()
    staging = output.with_name(output.name + ".partial")
    recorded = check_output(output, staging)
    if staging.is_dir():
        print(f"resuming from {staging}", file=sys.stderr)
    prepare_staging(output, staging, recorded)
    params = {**dict(parameters or {}), "profile": profile,
              "data_root": _relative(Path(root).expanduser()) if root is not None else None,
              "results_dir": _relative(staging / "results"), "figures_dir": _relative(staging / "figures")}
    # the kernels: the kernelspec of this interpreter's prefix ("python" there is this interpreter), no bars
    kernels = {"JUPYTER_PATH": os.pathsep.join(filter(None, [str(Path(sys.prefix, "share", "jupyter")),
                                                             os.environ.get("JUPYTER_PATH")])), "TQDM_DISABLE": "1"}
    for name in NOTEBOOKS:
        notebook = repo_root() / "notebooks" / name
        executed = staging / "notebooks" / notebook.name
        try:
            with mock.patch.dict(os.environ, kernels):
                execute(notebook, executed, params)
        except Exception as error:
            reason = f"{error.ename}: {error.evalue}" if hasattr(error, "ename") else f"{type(error).__name__}: {error}"
            raise ReportError(f"notebook {notebook.name} failed ({reason}); the executed notebook with the error: "
                              f"{executed}; {output} was left untouched, and the next run resumes from {staging}") from error
        export_html(executed, staging / "html" / f"{notebook.stem}.html")
    run = {"profile": profile, "profile_settings": settings,
           "parameters": {k: v for k, v in params.items() if k not in ("results_dir", "figures_dir")},
           "notebooks": [Path(n).name for n in NOTEBOOKS],
           "machine": {"python": platform.python_version(), "torch": version("torch"), "cores": os.cpu_count()}}
    (staging / "README.md").write_text(readme(staging, run), encoding="utf-8")
    run["files"] = sorted({*files_of(staging), "run.json"} - {STAGING_MARK})  # what a later run may replace
    (staging / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    swap_into_place(staging, output, recorded)
    return output


def reports_command(args) -> int:
    """``audiolab reports [--profile full|smoke] [--root PATH] [--output DIR] [--no-check-claims]``: 0 when written,
    1 when a notebook failed or there is no dataset, 2 when the output holds files the kit did not write."""
    try:
        ensure_dataset(args.root)
        path = run_reports(profile=args.profile, output=args.output, root=args.root,
                           parameters={"check_claims": "strict" if args.check_claims else "note"})
    except (OutputRefused, ReportError, FileNotFoundError, ValueError) as error:
        print(f"audiolab reports: error: {error}", file=sys.stderr)
        return 2 if isinstance(error, OutputRefused) else 1
    print(f"reports written to {path} (open {path / 'README.md'})")
    return 0
