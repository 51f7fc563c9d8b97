"""``audiolab reports`` (:mod:`audiolab.reports.run`): the papermill pipeline, resuming, failing without damage.

The pipeline tests run the four real notebooks in the smoke profile on the real
ESC-10 (one clip per class and fold, one epoch): they are ``slow`` and
``realdata``. The others use tiny notebooks written here and need no data.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from audiolab import cli, reports
from audiolab.evaluation.store import ResultsStore
from audiolab._util import repo_root
from audiolab.reports import run as reports_run

REPO = Path(__file__).resolve().parents[1]


def real_data_root() -> Path:
    """``$AUDIOLAB_DATA``, else ``../shared/data/ESC-10`` beside the repository; skip (fail under CI) if absent."""
    env = os.environ.get("AUDIOLAB_DATA")
    path = Path(env) if env else REPO.parent / "shared" / "data" / "ESC-10"
    if not path.exists():
        message = f"real ESC-10 data not found at {path}; set AUDIOLAB_DATA=/path/to/ESC-10"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path.resolve()


def _kernel_env(mp: pytest.MonkeyPatch, cache: Path) -> None:
    """What the notebook kernels inherit: no W&B, an isolated feature cache, one thread."""
    mp.setenv("WANDB_MODE", "disabled")
    mp.setenv("AUDIOLAB_CACHE", str(cache))
    mp.setenv("OMP_NUM_THREADS", "1")
    mp.delenv("AUDIOLAB_RESULTS", raising=False)
    mp.delenv("AUDIOLAB_PROFILE", raising=False)


def _notebook(path: Path, *sources: str, parameters: str = "results_dir = None\nprofile = 'full'") -> Path:
    cells = [new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(source) for source in sources]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- without data


def test_default_output_is_never_the_committed_reports_for_smoke():
    assert reports.default_output("full") == repo_root() / "reports"
    assert reports.default_output("smoke") == repo_root() / "reports-smoke"


def test_command_without_output_uses_the_profile_folder(monkeypatch, capsys, tmp_path):
    calls, checked = [], []
    monkeypatch.setattr(reports_run, "run_reports", lambda **kw: calls.append(kw) or Path(kw["output"]))
    monkeypatch.setattr(reports_run, "ensure_dataset", checked.append)  # see test_reports_data.py
    assert reports.reports_command(SimpleNamespace(profile="smoke", output=None, root=None)) == 0
    assert reports.reports_command(SimpleNamespace(profile="full", output=None, root="/data")) == 0
    assert reports.reports_command(SimpleNamespace(profile="smoke", output=str(tmp_path / "x"), root=None)) == 0
    assert [Path(c["output"]) for c in calls] == [
        reports.default_output("smoke"), reports.default_output("full"), tmp_path / "x"]
    assert calls[1]["root"] == "/data" and checked == [None, "/data", None]
    assert [c["parameters"] for c in calls] == [{}, {}, {}]  # the notebooks check their claims by default
    assert reports.reports_command(SimpleNamespace(profile="full", output=None, root=None, check_claims=False)) == 0
    assert calls[-1]["parameters"] == {"check_claims": False}
    assert cli.build_parser().parse_args(["reports", "--no-check-claims"]).check_claims is False
    assert cli.build_parser().parse_args(["reports"]).check_claims is True

    def fail(**kw):
        raise reports.ReportError("notebook 01 failed\nthe executed notebook with the error: /somewhere/01.ipynb")

    monkeypatch.setattr(reports_run, "run_reports", fail)
    assert reports.reports_command(SimpleNamespace(profile="smoke", output=None, root=None)) == 1
    assert "/somewhere/01.ipynb" in capsys.readouterr().err



def test_staging_is_seeded_with_finished_results(tmp_path):
    output, staging = tmp_path / "reports", tmp_path / "reports.partial"
    (output / "results" / "a" / "cv").mkdir(parents=True)
    done = output / "results" / "a" / "cv" / "fold1.json"
    done.write_text("{}")
    os.utime(done, ns=(1_000_000_000, 1_000_000_000))
    (staging / "results" / "b").mkdir(parents=True)  # left by an interrupted run
    (staging / "results" / "b" / "fold1.json").write_text("{}")
    (staging / "notebooks").mkdir()
    (staging / "notebooks" / "stale.ipynb").write_text("{}")
    reports_run._prepare_staging(output, staging)
    assert (staging / "results" / "b" / "fold1.json").is_file()
    assert (staging / "results" / "a" / "cv" / "fold1.json").stat().st_mtime_ns == 1_000_000_000
    assert list((staging / "notebooks").iterdir()) == []


def test_swap_replaces_managed_files_and_keeps_the_rest(tmp_path):
    output, staging = tmp_path / "reports", tmp_path / "reports.partial"
    (output / "results").mkdir(parents=True)
    (output / "README.md").write_text("old")
    (output / "results" / "old.json").write_text("{}")
    (output / "2024-report.pdf").write_bytes(b"%PDF")
    (staging / "results").mkdir(parents=True)
    (staging / "README.md").write_text("new")
    reports_run._swap_into_place(staging, output)
    assert (output / "README.md").read_text() == "new"
    assert (output / "2024-report.pdf").read_bytes() == b"%PDF"
    assert not (output / "results" / "old.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports"]


def test_failing_notebook_leaves_the_output_untouched(tmp_path, monkeypatch, capsys):
    _kernel_env(monkeypatch, tmp_path / "cache")
    output = tmp_path / "reports"
    (output / "results" / "arch1" / "cv").mkdir(parents=True)
    (output / "results" / "arch1" / "cv" / "fold1.json").write_text('{"done": true}')
    (output / "README.md").write_text("the last good report\n")
    before = _snapshot(output)

    ok = _notebook(tmp_path / "ok.ipynb",
                   "import sys\nfrom pathlib import Path\nPath(results_dir, 'ok.txt').write_text(profile + ' ' + sys.executable)")
    bad = _notebook(tmp_path / "bad.ipynb", "raise RuntimeError('this notebook is broken')")
    monkeypatch.setattr(reports_run, "NOTEBOOKS", [str(ok), str(bad)])
    monkeypatch.setattr(reports_run, "ensure_dataset", lambda root: None)  # these notebooks read no data
    args = SimpleNamespace(profile="smoke", output=str(output), root=None)
    assert reports.reports_command(args) == 1

    assert _snapshot(output) == before
    partial = tmp_path / "reports.partial"
    err = capsys.readouterr().err
    assert "bad.ipynb" in err and "this notebook is broken" in err and str(partial / "notebooks" / "bad.ipynb") in err
    executed = nbformat.read(str(partial / "notebooks" / "bad.ipynb"), as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in executed.cells for o in c.get("outputs", []))
    # the partial folder keeps the finished results (seeded from the output) for the next run
    assert (partial / "results" / "arch1" / "cv" / "fold1.json").read_text() == '{"done": true}'
    # the parameters reached the notebook, which ran on this very interpreter (the venv's)
    assert (partial / "results" / "ok.txt").read_text() == f"smoke {sys.executable}"


# --------------------------------------------------------------------------- the real pipeline


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory):
    """The four notebooks, smoke profile, one epoch, real ESC-10: ``(output, data root, feature cache)``."""
    root = real_data_root()
    base = tmp_path_factory.mktemp("reports")
    cache = tmp_path_factory.getbasetemp() / "audiolab-cache"
    with pytest.MonkeyPatch.context() as mp:
        _kernel_env(mp, cache)
        output = reports.run_reports("smoke", output=base / "reports", root=root, parameters={"epochs": 1},
                                     progress=False)
    return output, root, cache


def _result_files(results: Path) -> dict:
    """Files that exist only because something was trained (summaries are rewritten on every run), by
    content: a retrained result differs at least in its training seconds. (Modification times change on
    reuse: that is how a run marks the results it used.)"""
    patterns = ("*/cv/fold*.json", "*/cv/fold*.csv", "*/cv/fold*.pt", "*/dev-cv/fold*.json", "*/dev-cv/fold*.csv",
                "*/search/trial-*.json")
    files = sorted(p for pattern in patterns for p in results.glob(pattern))
    return {p.relative_to(results).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.mark.slow
@pytest.mark.realdata
def test_pipeline_writes_notebooks_html_figures_results_readme(smoke_report):
    output, _, _ = smoke_report
    names = [Path(n).stem for n in reports.NOTEBOOKS]
    assert sorted(p.stem for p in (output / "notebooks").glob("*.ipynb")) == names
    assert sorted(p.stem for p in (output / "html").glob("*.html")) == names
    for name in names:
        nb = nbformat.read(str(output / "notebooks" / f"{name}.ipynb"), as_version=4)
        assert nb.metadata["papermill"]["parameters"]["profile"] == "smoke"
        assert not [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", [])), name
    assert len(list((output / "figures").glob("*.png"))) > 0

    results = output / "results"
    summaries = sorted(p.parent.parent.name for p in results.glob("*/cv/summary.json"))
    assert {"arch1", "arch2-heads1", "arch2-heads2", "arch2-heads4"} <= set(summaries)
    assert {"arch1-baseline-2024", "arch2-baseline-2024"} <= set(summaries)
    fold = json.loads(next(results.glob("arch1/cv/fold*.json")).read_text())
    assert len(fold["history"]) == 1  # the epochs parameter reached the notebooks
    best = json.loads((results / "best_model.json").read_text())
    assert best["experiment"] in summaries and (results / "best_model.pt").is_file()

    readme = (output / "README.md").read_text()
    assert "| experiment | architecture | heads | CV accuracy |" in readme
    assert "| arch2-heads4 |" in readme and "html/03_comparison.html" in readme and "figures/" in readme
    assert "## Seed ensembles" in readme and "| arch1 | 2 |" in readme  # smoke: a 2-seed ensemble per architecture
    assert "arch1-seed1" not in readme.split("## Seed ensembles")[0]  # extra seeds are no comparison rows
    spent = ResultsStore(results).training_seconds()
    assert spent["cv"] > 0 and spent["dev_cv"] > 0 and spent["search"] > 0
    assert spent["total"] == pytest.approx(spent["cv"] + spent["dev_cv"] + spent["search"])
    assert "## Training behind these results" in readme
    run = json.loads((output / "run.json").read_text())
    assert [n["notebook"] for n in run["notebooks"]] == [Path(n).name for n in reports.NOTEBOOKS]
    assert run["profile"] == "smoke" and run["hardware"]["cores"] and run["total_seconds"] > 0
    assert not (output.parent / "reports.partial").exists()


@pytest.mark.slow
@pytest.mark.realdata
def test_predict_uses_the_kept_model(smoke_report, capsys):
    from audiolab import predict

    output, root, _ = smoke_report
    clip = next(Path(root).rglob("*.ogg"))
    [result] = predict.predict_files([clip], checkpoint=output / "results" / "best_model.pt")
    assert result["error"] is None and len(result["top"]) == 3


@pytest.mark.slow
@pytest.mark.realdata
def test_second_run_resumes_without_retraining(smoke_report):
    output, root, cache = smoke_report
    before = _result_files(output / "results")
    assert len(before) > 20
    readme_before = (output / "README.md").stat().st_mtime_ns
    stale = output / "results" / "arch2-heads3-ensemble" / "summary.json"  # a configuration no notebook defines
    stale.parent.mkdir()
    stale.write_text("{}")
    os.utime(stale, (time.time() - 3600,) * 2)
    with pytest.MonkeyPatch.context() as mp:
        _kernel_env(mp, cache)
        assert reports.run_reports("smoke", output=output, root=root, parameters={"epochs": 1}, progress=False) == output
    assert _result_files(output / "results") == before  # nothing retrained, nothing in use removed
    assert not stale.parent.exists()  # the stale result is gone, its folder too
    assert json.loads((output / "run.json").read_text())["stale_result_files_removed"] == 1
    assert (output / "README.md").stat().st_mtime_ns != readme_before
    assert len(list((output / "notebooks").glob("*.ipynb"))) == 4
