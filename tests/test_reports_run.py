"""``audiolab reports`` (:mod:`audiolab.reports`) on small stand-in notebooks run by papermill.

The course notebooks themselves run once in ``make test``, under nbval (``notebooks/conftest.py``);
here stand-ins check the pipeline: parameters, the kernel's interpreter, the README, stable outputs,
failing without damage and resuming. What the report may delete: test_reports_output.py.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from audiolab import cli, reports
from audiolab._util import repo_root

HEADLINE = {"arch1": {"seeds": 3, "official_cv_mean": 0.9, "dev_cv_mean": 0.884375, "test_accuracy": 0.875},
            "arch2-heads4": {"seeds": 3, "official_cv_mean": 0.8975, "dev_cv_mean": 0.88125, "test_accuracy": 0.9},
            "comparison": {"text": "no evidence of a difference between arch2-heads4 and arch1", "shipped": "arch1"}}


def stand_in(path: Path, *sources: str) -> str:
    cells = [new_code_cell("profile = 'full'\ndata_root = None\nresults_dir = None\nfigures_dir = None", metadata={"tags": ["parameters"]})]
    nb = new_notebook(cells=cells + [new_code_cell(source) for source in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.nbformat_minor = 4  # as the course notebooks are stored: no cell ids (papermill gives random ones)
    for cell in nb.cells:
        del cell["id"]
    nbformat.write(nb, str(path))
    return str(path)


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setattr(reports, "ensure_dataset", lambda root: None)  # the stand-ins read no data
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("TQDM_DISABLE", raising=False)


def command(output: Path, profile: str = "smoke") -> int:
    return reports.reports_command(SimpleNamespace(profile=profile, output=str(output), root=None, check_claims=True))


def test_the_smoke_profile_never_writes_over_reports(monkeypatch, capsys):
    assert reports.default_output("full") == repo_root() / "reports"
    assert reports.default_output("smoke") == repo_root() / "reports-smoke"
    calls = []
    monkeypatch.setattr(reports, "ensure_dataset", lambda root: None)
    monkeypatch.setattr(reports, "run_reports", lambda **kw: calls.append(kw) or Path("out"))
    assert cli.main(["reports", "--profile", "smoke"]) == 0 and cli.main(["reports", "--no-check-claims"]) == 0
    assert calls[0] == {"profile": "smoke", "output": None, "root": None, "parameters": {"check_claims": "strict"}}
    assert calls[1]["profile"] == "full" and calls[1]["parameters"] == {"check_claims": "note"}


def test_a_report_from_stand_in_notebooks(tmp_path, env, monkeypatch):
    figure = ("%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()\n"
              "from tqdm.notebook import tqdm\nlist(tqdm(range(3)))\n"  # a widget with a random id
              "import sys, time\nfor i in range(3):\n    print(i); sys.stdout.flush(); time.sleep(0.2)")  # chunks
    write = ("import json, sys\nfrom pathlib import Path\n"
             f"Path(results_dir, 'headline.json').write_text(json.dumps({HEADLINE!r}))\n"
             "import os\nPath(results_dir, 'ran.txt').write_text(profile + ' ' + os.environ['TQDM_DISABLE'] + ' ' + sys.executable)")
    monkeypatch.setattr(reports, "NOTEBOOKS", [stand_in(tmp_path / "00_x.ipynb", figure),
                                               stand_in(tmp_path / "03_comparison.ipynb", write)])
    output = tmp_path / "reports"
    assert command(output) == 0
    # the parameters reached the notebooks, which ran on this very interpreter (the venv's), with no progress bars
    assert (output / "results" / "ran.txt").read_text() == f"smoke 1 {sys.executable}"
    assert "TQDM_DISABLE" not in os.environ  # only the kernels' setting
    text = (output / "README.md").read_text()
    assert "| arch1        | 3       | 90.0               | 88.4          | 87.5            |" in text and "| official cv mean " in text and "Shipped model (`audiolab predict`): **arch1**" in text
    assert "[notebooks/03_comparison.ipynb](notebooks/03_comparison.ipynb)" in text and "html/00_x.html" in text
    assert "<img" in (output / "html" / "00_x.html").read_text()
    run = json.loads((output / "run.json").read_text())
    assert run["profile"] == "smoke" and run["notebooks"] == ["00_x.ipynb", "03_comparison.ipynb"]
    for path in (output / "notebooks").glob("*.ipynb"):  # stable: no ids at random, no timings, no machine paths
        nb = json.loads(path.read_text())
        assert [c["id"] for c in nb["cells"]] == [f"cell-{i}" for i in range(len(nb["cells"]))]
        assert not {"start_time", "end_time", "duration"} & set(nb["metadata"]["papermill"])
        assert not [c for c in nb["cells"] if {"execution", "papermill"} & set(c["metadata"])]
        assert "widget-view" not in path.read_text()  # tqdm's notebook bars: their ids are random
        streams = [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "stream"]
        assert len(streams) == len({id(c) for c in nb["cells"] if any(o["output_type"] == "stream" for o in c.get("outputs", []))})
    assert reports._relative(repo_root() / "notebooks" / "00_dataset.ipynb") == "notebooks/00_dataset.ipynb"


def test_a_failing_notebook_leaves_the_output_untouched_and_the_next_run_resumes(tmp_path, env, monkeypatch, capsys):
    once = ("from pathlib import Path\nmark = Path(results_dir, 'trained.txt')\n"
            "mark.write_text('trained' if not mark.exists() else 'reused')")
    broken = tmp_path / "bad.ipynb"
    monkeypatch.setattr(reports, "NOTEBOOKS", [stand_in(tmp_path / "ok.ipynb", once),
                                               stand_in(broken, "raise RuntimeError('this notebook is broken')")])
    output = tmp_path / "reports"
    output.mkdir()
    (output / "README.md").write_text("the last good report\n")
    (output / "run.json").write_text(json.dumps({"notebooks": [], "files": ["README.md", "run.json"]}))
    before = {p.name: p.read_bytes() for p in output.iterdir()}
    assert command(output) == 1
    assert {p.name: p.read_bytes() for p in output.iterdir()} == before
    partial = tmp_path / "reports.partial"
    err = capsys.readouterr().err
    assert "bad.ipynb failed (RuntimeError: this notebook is broken)" in err and str(partial / "notebooks" / "bad.ipynb") in err
    executed = nbformat.read(str(partial / "notebooks" / "bad.ipynb"), as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in executed.cells for o in c.get("outputs", []))

    stand_in(broken, "pass")  # fixed: the next run resumes from the partial folder
    assert command(output) == 0
    assert "resuming from" in capsys.readouterr().err
    assert (output / "results" / "trained.txt").read_text() == "reused" and not partial.exists()
