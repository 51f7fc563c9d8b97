"""Notebook 01's W&B cell reads a run back with W&B's own reader (`wandb leet inspect --json`), on a real offline run.

nbval runs the notebooks with W&B switched off, so the reading part of that cell is tested here: the
functions of the cell are taken from the notebook itself and given a run written by ``tracking``."""
import ast
import json
from pathlib import Path

import pandas as pd

import _wandb
from audiolab import tracking

offline_wandb = _wandb.offline_wandb  # the fixture
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "01_architecture1.ipynb"


def cell_functions(namespace: dict) -> dict:
    """The imports and function definitions of notebook 01's W&B cell (not its top-level code, which trains)."""
    [source] = [c["source"] for c in json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
                if c["cell_type"] == "code" and "def records(" in c["source"]]
    tree = ast.parse(source)
    tree.body = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef))]
    exec(compile(tree, str(NOTEBOOK), "exec"), namespace)
    return namespace


class Demo:
    name = "arch1-wandb-demo"

    @staticmethod
    def key():
        return "0123abcd"


def test_the_w_and_b_cell_reads_back_the_epochs_summary_and_key_of_a_run(offline_wandb):
    rows = [{"epoch": e, "lr": 0.001, "train_loss": 2.0 / e, "train_acc": 0.1 * e, "test_loss": 2.5 / e,
             "test_acc": 0.05 * e, "seconds": 0.5} for e in range(1, 41)]   # enough records for several blocks
    with tracking.start_run(name="demo-cv-fold5", config={"key": Demo.key(), "padding": "x" * 40000}) as run:
        for row in rows:
            tracking.log_epoch(run, row, "test")
        run.summary["test/accuracy"] = 0.75
        folder = Path(run.dir).parent
    with tracking.start_run(name="other", config={"key": "another"}) as run:
        tracking.log_epoch(run, rows[0], "test")
    (offline_wandb / "wandb" / "offline-run-20000101_000000-never").mkdir()   # a run that never wrote a record
    latest = offline_wandb / "wandb" / "latest-run"
    latest.unlink(missing_ok=True)
    latest.symlink_to(folder)                        # W&B's own link to a run: not a second run
    ns = cell_functions({"demo": Demo, "runs_folder": offline_wandb / "wandb", "pd": pd})
    [found] = ns["demo_runs"]()                      # only the run whose config holds the demo's key, once
    assert found == folder
    recorded = ns["records"](found)
    history = pd.DataFrame([r["history"]["item"] for r in recorded if r["type"] == "history"])
    assert history["epoch"].tolist() == list(range(1, 41))
    assert history["train/accuracy"].tolist() == [r["train_acc"] for r in rows]
    assert history["test/loss"].tolist() == [r["test_loss"] for r in rows]
    summary = {k: v for r in recorded if r["type"] == "summary" for k, v in r["summary"]["update"].items()}
    assert summary["test/accuracy"] == 0.75
    assert ns["records"](offline_wandb / "wandb" / "offline-run-20000101_000000-never") == []
