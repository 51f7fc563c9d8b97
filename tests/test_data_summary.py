"""Tests of audiolab.data.summary: summarize, format_summary and the ``audiolab data`` command."""
from __future__ import annotations

import os

from audiolab import data
from audiolab.data import ESC10_CLASSES, format_summary, summarize

from conftest import SYNTH_RATE
from test_data_metadata import no_data_env  # noqa: F401 (a fixture)


def test_summarize_and_format(synthetic_esc10_meta):
    summary = summarize(synthetic_esc10_meta)
    assert summary["clips"] == 50 and summary["classes"] == list(ESC10_CLASSES)
    assert set(summary["per_class"].values()) == {5} and summary["per_fold"] == {f: 10 for f in range(1, 6)}
    assert summary["per_class_fold"]["Rain"] == {f: 1 for f in range(1, 6)}
    assert summary["sample_rates"] == [SYNTH_RATE] and summary["channels"] == [1, 2]
    assert summary["durations"] == [1.0, 2.5, 3.0, 4.0, 5.0]
    assert summary["size_bytes"] == sum(os.path.getsize(p) for p in synthetic_esc10_meta["path"])
    text = format_summary(summary)
    for expected in ("Fire crackling", "fold 5", "8000 Hz", "esc10-tree", summary["root"], "root argument", "MB"):
        assert expected in text


def test_data_command(synthetic_esc10, capsys, no_data_env):
    assert data.data_command(synthetic_esc10, strict=False) == 0
    out = capsys.readouterr().out
    assert "Dog bark" in out and "total" in out
    assert data.data_command(synthetic_esc10) == 2
    assert "incomplete" in capsys.readouterr().err
    assert data.data_command() == 2
    assert "audiolab data --download" in capsys.readouterr().err
