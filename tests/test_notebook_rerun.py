"""A student's rerun: notebooks 01-03 from empty results, full profile, default parameters (claims in "note"
mode), only shortened (``epochs``, ``search_trials``): they finish, and each ends with the list of sentences
its numbers contradict (with one epoch, many). Every model of the full profile is trained, about 200 short
trainings: minutes on two cores, too long for ``make test``, so it runs only with ``AUDIOLAB_RERUN_TEST=1``
(``AUDIOLAB_RERUN_TEST=1 pytest tests/test_notebook_rerun.py``), and in CI where that is set."""
import os
import pytest

from audiolab._util import repo_root

pytestmark = [pytest.mark.slow, pytest.mark.realdata,
              pytest.mark.skipif(os.environ.get("AUDIOLAB_RERUN_TEST") != "1",
                                 reason="trains every model of the full profile: set AUDIOLAB_RERUN_TEST=1")]
NOTEBOOKS = ["01_architecture1", "02_architecture2", "03_comparison"]


def outputs(cell) -> str:
    return "".join("".join(o.get("text", "")) + "".join(o.get("data", {}).get("text/plain", ""))
                   for o in cell.get("outputs", []))


def test_a_rerun_from_empty_results_finishes_and_lists_what_it_contradicts(tmp_path, monkeypatch):
    import nbformat
    import papermill as pm

    if not os.environ.get("AUDIOLAB_DATA") and not (repo_root().parent / "shared" / "data" / "ESC-10").is_dir():
        pytest.fail("the rerun needs the real ESC-10: set AUDIOLAB_DATA")
    for key, value in {"WANDB_MODE": "disabled", "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}.items():
        monkeypatch.setenv(key, value)
    results = tmp_path / "results"
    contradicted = 0
    for name in NOTEBOOKS:
        executed = tmp_path / f"{name}.ipynb"
        pm.execute_notebook(str(repo_root() / "notebooks" / f"{name}.ipynb"), str(executed), kernel_name="python3",
                            cwd=str(repo_root()), progress_bar=False,
                            parameters={"results_dir": str(results), "figures_dir": str(tmp_path / "figures"),
                                        "epochs": int(os.environ.get("AUDIOLAB_RERUN_EPOCHS", "1")), "search_trials": 2})
        cells = nbformat.read(str(executed), as_version=4).cells
        summary = outputs(cells[-1])
        assert cells[-1].source.strip() == "ws.claims_summary()" and "checked sentences" in summary, summary
        boxes = sum(outputs(c).count("Your results contradict this sentence") for c in cells[:-1])
        if boxes:  # the summary lists exactly the sentences boxed above
            assert f"{boxes} of the" in summary and "do not hold for your results" in summary, summary
        else:
            assert "do not hold" not in summary, summary
        contradicted += boxes
    assert contradicted > 0, "one epoch of training contradicted no sentence: are the claims still checked?"
