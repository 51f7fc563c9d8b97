"""The status line from a notebook's kernel to the console (:mod:`audiolab.status`, :mod:`audiolab.reports.progress`)."""
from __future__ import annotations

import datetime
import json
import os
import re
import threading
import time

import nbformat
import pytest
import torch
from nbformat.v4 import new_code_cell, new_notebook

from audiolab import status
from audiolab.augment import AugmentConfig
from audiolab.models import ConvConfig, build_model
from audiolab.reports import progress, run_reports
from audiolab.train import TrainConfig, fit


@pytest.fixture
def status_file(tmp_path, monkeypatch):
    """``$AUDIOLAB_STATUS_FILE`` set to a file in ``tmp_path``, and no write remembered from an earlier test."""
    path = tmp_path / "status"
    monkeypatch.setenv(status.STATUS_ENV, str(path))
    monkeypatch.setattr(status, "_last_write", 0.0)
    return path


def tiny_fit(epochs: int, description: str):
    torch.manual_seed(0)
    x, y = torch.randn(12, 8, 16), torch.arange(12) % 3
    model = build_model(ConvConfig(channels=[4, 4, 4], kernel_size=3, stride=1), 8, 3)
    return fit(model, x, y, config=TrainConfig(epochs=epochs, batch_size=6, device="cpu"),
               augment=AugmentConfig.none(), progress=False, description=description)


# --------------------------------------------------------------------------- the kernel's side


def test_without_the_environment_variable_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv(status.STATUS_ENV, raising=False)
    written = []
    monkeypatch.setattr(status, "_write_atomically", lambda path, text: written.append(text))
    assert status.report("arch1 cv fold 1 · epoch 1/3", force=True) is False
    tiny_fit(2, "arch1 cv fold 1")
    assert written == [] and list(tmp_path.iterdir()) == []


def test_report_writes_a_line_the_reader_reads(status_file):
    before = time.time()
    assert status.report("arch1  cv fold 3\n· epoch 5/100")
    got = status.read_status(status_file)
    assert got.text == "arch1 cv fold 3 · epoch 5/100"  # one line, whatever it was given
    assert before - 1 <= got.time <= time.time() + 1
    assert [p.name for p in status_file.parent.iterdir()] == ["status"]  # no temporary file left


def test_reports_are_throttled_unless_forced(status_file):
    assert status.report("epoch 1")
    assert not status.report("epoch 2")  # within MIN_INTERVAL of the last write
    assert status.read_status(status_file).text == "epoch 1"
    assert status.report("epoch 3", force=True)
    assert status.read_status(status_file).text == "epoch 3"


def test_a_status_that_cannot_be_written_is_dropped(tmp_path, monkeypatch):
    monkeypatch.setenv(status.STATUS_ENV, str(tmp_path / "no such folder" / "status"))
    assert status.report("epoch 1", force=True) is False  # and no exception: training goes on


def test_read_status_of_nothing_or_garbage_is_none(tmp_path):
    assert status.read_status(tmp_path / "missing") is None
    (tmp_path / "junk").write_text("not a status line\n")
    assert status.read_status(tmp_path / "junk") is None
    (tmp_path / "bad").write_text("yesterday\tepoch 1\n")
    assert status.read_status(tmp_path / "bad") is None


def test_fit_reports_its_description_and_epochs(status_file, monkeypatch):
    lines = []
    real = status._write_atomically
    monkeypatch.setattr(status, "_write_atomically", lambda path, text: lines.append(text) or real(path, text))
    monkeypatch.setattr(status, "MIN_INTERVAL", 0.0)  # every epoch
    tiny_fit(3, "arch1 cv fold 3")
    assert [line.split("\t")[1].strip() for line in lines] == [
        f"arch1 cv fold 3 · epoch {e}/3" for e in (1, 2, 3)]
    assert status.read_status(status_file).text == "arch1 cv fold 3 · epoch 3/3"


def test_fit_throttled_still_shows_its_first_and_last_epoch(status_file, monkeypatch):
    lines = []
    monkeypatch.setattr(status, "_write_atomically", lambda path, text: lines.append(text.split("\t")[1].strip()))
    monkeypatch.setattr(status, "MIN_INTERVAL", 3600.0)
    tiny_fit(4, "arch2-heads2 search")
    assert lines == ["arch2-heads2 search · epoch 1/4", "arch2-heads2 search · epoch 4/4"]


# --------------------------------------------------------------------------- the console's side


def test_watch_calls_back_with_each_new_status_and_once_at_the_end(tmp_path):
    path, seen = tmp_path / "status", []
    done = threading.Event()

    def record(s):
        seen.append(s and s.text)
        if s and s.text == "epoch 2":
            done.set()

    with status.watch(path, record, interval=0.01):
        time.sleep(0.05)
        path.write_text(f"{time.time()}\tepoch 2\n")
        assert done.wait(5)
        path.write_text(f"{time.time()}\tepoch 3\n")
    assert seen[0] is None and "epoch 2" in seen and seen[-1] == "epoch 3"


def test_progress_line():
    assert progress.progress_line("01_architecture1", 25, 37) == "01_architecture1 · cell 25/37"
    assert (progress.progress_line("01_architecture1", 25, 37, "arch1 cv fold 3 · epoch 57/100")
            == "01_architecture1 · cell 25/37 · arch1 cv fold 3 · epoch 57/100")
    assert progress.papermill_options(None) == {"progress_bar": False}
    assert progress.papermill_options("00_dataset (1/4)")["engine_name"] == progress.ENGINE_NAME


class FakeBar:
    def __init__(self, total):
        self.n, self.total, self.descriptions = 0, total, []

    def set_description_str(self, text):
        self.descriptions.append(text)


def test_the_line_drops_a_status_from_an_earlier_cell():
    """papermill records when each cell ended: a status written before that belongs to a finished cell,
    one written after it to the running cell, even when the line notices the cell change late."""
    bar = FakeBar(total=5)
    cells = [nbformat.from_dict({"metadata": {"papermill": {}}}) for _ in range(5)]
    line = progress._Line(bar, "nb", cells)
    line.update(None)
    t = time.time()
    line.update(status.Status("arch1 fold 1 · epoch 9/9", t))
    cells[2].metadata.papermill["end_time"] = datetime.datetime.fromtimestamp(t + 1, datetime.timezone.utc).isoformat()
    bar.n = 3  # cells 2 and 3 finished at t + 1
    line.update(status.Status("arch1 fold 1 · epoch 9/9", t))
    line.update(status.Status("arch1 fold 2 · epoch 1/9", t + 1.1))  # written before the line saw the change
    assert bar.descriptions == ["nb · cell 1/5", "nb · cell 1/5 · arch1 fold 1 · epoch 9/9", "nb · cell 4/5",
                                "nb · cell 4/5 · arch1 fold 2 · epoch 1/9"]


@pytest.mark.slow
def test_reports_show_the_kernels_status_but_do_not_save_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("AUDIOLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(status.STATUS_ENV, raising=False)
    nb = new_notebook(cells=[
        new_code_cell("results_dir = None", metadata={"tags": ["parameters"]}),
        new_code_cell("import time\nfrom audiolab import status\n"
                      "status.report('exp fold ' + str(2) + ' · epoch 7/9', force=True)\ntime.sleep(1.5)"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(tmp_path / "tiny.ipynb"))
    output = run_reports("smoke", output=tmp_path / "out", notebooks=[tmp_path / "tiny.ipynb"], progress=True)

    err = capsys.readouterr().err
    assert re.search(r"tiny \(1/1\) · cell 3/3 · exp fold 2 · epoch 7/9 \[\d\d:\d\d\]", err), err[-2000:]
    saved = (output / "notebooks" / "tiny.ipynb").read_text()
    assert "epoch 7/9" not in json.dumps([c.get("outputs") for c in json.loads(saved)["cells"]])
    assert "exp fold 2" not in saved and status.STATUS_ENV not in saved
    assert status.STATUS_ENV not in os.environ  # set for the kernel only while it ran
