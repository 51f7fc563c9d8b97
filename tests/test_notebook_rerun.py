"""Notebooks 01-03 in the full profile, run by papermill: the two ways the text's claims are checked.

* **Strict, on the committed results** (what ``make reports`` does): every sentence holds, nothing retrains
  and no result file changes. About a minute and a half on two cores: it runs in CI (``CI=true``) or with
  ``AUDIOLAB_RERUN_TEST=1``.
* **A student's rerun**: from empty results, default parameters (claims in "note" mode), only shortened
  (``epochs`` 2 unless ``AUDIOLAB_RERUN_EPOCHS``; ``search_trials`` 2): the notebooks finish, and each ends
  with the list of sentences its numbers contradict. Every model of the full profile is trained (about 200
  short trainings, nearly 4 minutes on two cores): in CI (``CI=true``) or with ``AUDIOLAB_RERUN_TEST=1``.
"""
import hashlib
import os
import shutil

import pytest

from audiolab._util import repo_root

NOTEBOOKS = ["01_architecture1", "02_architecture2", "03_comparison"]
OPTED_IN = os.environ.get("AUDIOLAB_RERUN_TEST") == "1"
pytestmark = [pytest.mark.slow, pytest.mark.realdata]


@pytest.fixture
def run(tmp_path, monkeypatch):
    """``run(parameters)``: notebooks 01-03 executed with papermill in this environment; their cells."""
    import nbformat
    import papermill as pm

    if not os.environ.get("AUDIOLAB_DATA") and not (repo_root().parent / "shared" / "data" / "ESC-10").is_dir():
        pytest.fail("these runs need the real ESC-10: set AUDIOLAB_DATA")
    for key, value in {"WANDB_MODE": "disabled", "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}.items():
        monkeypatch.setenv(key, value)

    def execute(parameters: dict) -> dict:
        cells = {}
        for name in NOTEBOOKS:
            executed = tmp_path / f"{name}.ipynb"
            pm.execute_notebook(str(repo_root() / "notebooks" / f"{name}.ipynb"), str(executed), kernel_name="python3",
                                cwd=str(repo_root()), progress_bar=False,
                                parameters={"figures_dir": str(tmp_path / "figures"), **parameters})
            cells[name] = nbformat.read(str(executed), as_version=4).cells
        return cells
    return execute


def outputs(cell) -> str:
    return "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                   for o in cell.get("outputs", []))


def digests(folder) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.skipif(not (OPTED_IN or os.environ.get("CI") == "true"),
                    reason="about 90 s: runs in CI (CI=true) or with AUDIOLAB_RERUN_TEST=1")
def test_every_claim_holds_on_the_committed_results_and_nothing_retrains(run, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(repo_root() / "reports" / "results", results)
    before = digests(results)
    cells = run({"results_dir": str(results), "check_claims": "strict"})  # a contradicted sentence raises
    for name, notebook in cells.items():
        assert "all" in outputs(notebook[-1]) and "hold for these results" in outputs(notebook[-1]), name
    assert digests(results) == before


@pytest.mark.skipif(not (OPTED_IN or os.environ.get("CI") == "true"),
                    reason="trains every model of the full profile (about 4 min): runs in CI or with AUDIOLAB_RERUN_TEST=1")
def test_a_rerun_from_empty_results_finishes_and_lists_what_it_contradicts(run, tmp_path):
    epochs = int(os.environ.get("AUDIOLAB_RERUN_EPOCHS", "2"))
    cells = run({"results_dir": str(tmp_path / "results"), "epochs": epochs, "search_trials": 2})
    contradicted = 0
    for name, notebook in cells.items():
        summary = outputs(notebook[-1])
        assert notebook[-1].source.strip() == "ws.claims_summary()" and "checked sentences" in summary, summary
        boxes = sum(outputs(c).count("Your results contradict this sentence") for c in notebook[:-1])
        if boxes:  # the summary lists exactly the sentences boxed above
            assert f"{boxes} of the" in summary and "do not hold for your results" in summary, summary
        else:
            assert "do not hold" not in summary, summary
        contradicted += boxes
    assert contradicted > 0, f"{epochs} epoch(s) of training contradicted no sentence: are the claims still checked?"
