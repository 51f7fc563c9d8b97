"""The status line from a notebook's kernel to the console (:mod:`audiolab.status`)."""
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
