"""``audiolab reports --output DIR`` deletes only what it wrote (issue #20, item 1).

The notebooks are stood in for by a function that writes what a notebook run writes (an executed
notebook and a result file), so these tests need no kernel and no data.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbformat.v4 import new_notebook

from audiolab import reports


@pytest.fixture
def notebooks(monkeypatch, tmp_path):
    """Two stand-in notebooks; each run writes ``results/<stem>/done.json`` and its executed copy."""
    names = ["a.ipynb", "03_comparison.ipynb"]  # a trainer and the comparison: pruning runs between
    for name in names:
        nbformat.write(new_notebook(), str(tmp_path / name))

    def execute(notebook, executed, parameters):
        results = Path(parameters["results_dir"])
        (results / notebook.stem).mkdir(parents=True, exist_ok=True)
        (results / notebook.stem / "done.json").write_text('{"done": true}')
        nbformat.write(new_notebook(), str(executed))

    monkeypatch.setattr(reports, "NOTEBOOKS", [str(tmp_path / n) for n in names])
    monkeypatch.setattr(reports, "execute", execute)
    monkeypatch.setattr(reports, "export_html", lambda executed, html: html.write_text("<html></html>"))
    monkeypatch.setattr(reports, "ensure_dataset", lambda root: None)
    return names


def run(output: Path) -> int:
    return reports.reports_command(SimpleNamespace(profile="smoke", output=str(output), root=None, check_claims=True))


def snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def users_files(folder: Path) -> dict:
    files = {"README.md": b"my course notes\n", "notebooks/my-lesson.ipynb": b"{}", "results/mine/notes.txt": b"mine"}
    for rel, body in files.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_bytes(body)
    return files


def test_a_folder_of_the_users_is_refused_and_left_as_it_was(tmp_path, notebooks, capsys):
    output = tmp_path / "mine"
    users_files(output)
    before = snapshot(output)
    assert run(output) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(output) in err and "choose a new or empty folder" in err
    assert snapshot(output) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["03_comparison.ipynb", "a.ipynb", "mine"]  # no staging folder either


def test_an_empty_or_new_folder_gets_the_report_and_its_record(tmp_path, notebooks):
    (tmp_path / "empty").mkdir()
    for output in (tmp_path / "empty", tmp_path / "new" / "reports"):
        assert run(output) == 0
        record = json.loads((output / "run.json").read_text())["files"]
        assert {"README.md", "run.json", "notebooks/a.ipynb", "html/03_comparison.html", "results/a/done.json"} <= set(record)
        assert {r for r in record if not r.endswith("/")} == set(snapshot(output))


def test_a_rerun_replaces_only_the_kits_files_and_keeps_the_users(tmp_path, notebooks):
    output = tmp_path / "reports"
    assert run(output) == 0
    (output / "results" / "mine").mkdir()
    (output / "results" / "mine" / "notes.txt").write_text("mine")
    (output / "my-lesson.ipynb").write_text("{}")
    (output / "empty-folder-of-mine").mkdir()
    (output / "README.md").write_text("edited by hand")  # the kit's file: regenerated
    assert run(output) == 0
    assert (output / "results" / "mine" / "notes.txt").read_text() == "mine"
    assert (output / "my-lesson.ipynb").read_text() == "{}" and (output / "empty-folder-of-mine").is_dir()
    assert (output / "README.md").read_text() != "edited by hand"
    record = json.loads((output / "run.json").read_text())["files"]
    assert "results/mine/notes.txt" not in record and "my-lesson.ipynb" not in record
    assert sorted(p.name for p in tmp_path.iterdir()) == ["03_comparison.ipynb", "a.ipynb", "reports"]  # no staging/old left
    assert run(output) == 0 and (output / "results" / "mine" / "notes.txt").read_text() == "mine"  # and again


def test_a_rerun_deletes_no_result_and_keeps_a_users_file_among_them(tmp_path, notebooks):
    output = tmp_path / "reports"
    assert run(output) == 0
    run_json = json.loads((output / "run.json").read_text())
    (output / "results" / "old").mkdir()
    (output / "results" / "old" / "stale.json").write_text("{}")  # a result the kit wrote once
    run_json["files"].append("results/old/stale.json")
    (output / "run.json").write_text(json.dumps(run_json))
    (output / "results" / "old" / "notes.txt").write_text("mine")
    assert run(output) == 0  # nothing is pruned: tables are made from the experiments the notebooks name
    assert (output / "results" / "old" / "stale.json").read_text() == "{}"
    assert (output / "results" / "old" / "notes.txt").read_text() == "mine"


def test_a_users_file_where_the_kit_now_writes_is_refused(tmp_path, notebooks, capsys):
    output = tmp_path / "reports"
    assert run(output) == 0
    run_json = json.loads((output / "run.json").read_text())
    run_json["files"].remove("results/03_comparison/done.json")  # as if the user had put it there
    (output / "run.json").write_text(json.dumps(run_json))
    (output / "results" / "03_comparison" / "done.json").write_text("my own")
    before = snapshot(output)
    assert run(output) == 2
    err = capsys.readouterr().err
    assert "results/03_comparison/done.json" in err and "move it out" in err
    assert snapshot(output) == before


def test_folders_named_like_the_kits_own_are_never_deleted(tmp_path, notebooks, capsys):
    output = tmp_path / "reports"
    partial = tmp_path / "reports.partial"
    (partial / "results").mkdir(parents=True)
    (partial / "results" / "thesis.tex").write_text("mine")
    assert run(output) == 2
    assert "reports.partial exists and was not made by audiolab reports" in capsys.readouterr().err
    assert (partial / "results" / "thesis.tex").read_text() == "mine" and not output.exists()
    partial.rename(tmp_path / "thesis")
    assert run(output) == 0
    for name in (f"reports.old-{os.getpid()}", "reports.old"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "keep.txt").write_text("mine")
    assert run(output) == 0
    assert all((tmp_path / name / "keep.txt").is_file() for name in ("reports.old", f"reports.old-{os.getpid()}"))
    assert (tmp_path / "thesis" / "results" / "thesis.tex").is_file()


def test_a_report_of_an_older_kit_is_refused_and_left_as_it_was(tmp_path, notebooks, capsys):
    """A report made before run.json listed its files: which of them are the kit's is unknown."""
    output = tmp_path / "reports"
    (output / "results" / "old").mkdir(parents=True)
    (output / "run.json").write_text(json.dumps({"profile": "full", "notebooks": []}))
    (output / "results" / "old" / "stale.json").write_text("{}")
    before = snapshot(output)
    assert run(output) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "older audiolab" in err and "move it aside" in err
    assert snapshot(output) == before and not (tmp_path / "reports.partial").exists()


def test_a_run_json_not_the_kits_makes_no_report_folder(tmp_path, notebooks):
    output = tmp_path / "out"
    output.mkdir()
    (output / "run.json").write_text('{"my": "training run"}')
    assert run(output) == 2 and (output / "run.json").read_text() == '{"my": "training run"}'
