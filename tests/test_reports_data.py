"""``audiolab reports`` on a machine with no dataset: it downloads ESC-10 first (:func:`audiolab.reports.ensure_dataset`).

The download runs against the local HTTP server of test_data_download.py (never the internet),
serving the synthetic clips with a manifest that matches them; the notebooks themselves are
replaced by a recorder (their run is tested in test_reports.py).
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import test_data_download
from audiolab import data, reports
from audiolab.data import download_esc10, load_metadata

# the local server and the synthetic clips of test_data_download.py, as fixtures of this module too
server = test_data_download.server
clips = test_data_download.clips
manifest = test_data_download.manifest


@pytest.fixture
def no_dataset(tmp_path, monkeypatch):
    """A machine with no dataset: no ``$AUDIOLAB_DATA``, an empty cache folder; returns that cache folder."""
    monkeypatch.delenv(data.DATA_ENV, raising=False)
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def notebook_runs(monkeypatch):
    """The calls of ``run_reports`` (recorded instead of running the notebooks)."""
    calls = []
    monkeypatch.setattr(reports, "run_reports", lambda **kw: calls.append(kw) or Path(kw["output"]))
    return calls


def serve_from(monkeypatch, url: str, manifest: dict) -> None:
    """The download of ``audiolab data --download`` (progress bar included), from ``url`` against ``manifest``."""
    home = sys.modules[data.resolve_root.__module__]  # the module whose resolve_root downloads
    monkeypatch.setattr(home, "download_esc10", functools.partial(download_esc10, url=url, manifest=manifest))


def command(tmp_path, root=None) -> int:
    return reports.reports_command(SimpleNamespace(profile="smoke", output=str(tmp_path / "out"), root=root, check_claims=True))


def test_reports_download_a_missing_dataset_then_run(server, clips, manifest, no_dataset, notebook_runs, tmp_path,
                                                     monkeypatch, capsys):
    server.routes["/esc10.zip"] = test_data_download.make_zip(clips)
    serve_from(monkeypatch, server.url("/esc10.zip"), manifest)
    assert command(tmp_path) == 0
    err = capsys.readouterr().err
    assert "downloading it" in err and "Downloading ESC-10" in err  # the download's progress bar
    assert len(load_metadata(no_dataset / "ESC-10", strict=False)) == 50
    assert len(notebook_runs) == 1 and notebook_runs[0]["root"] is None  # the notebooks find it in the cache

    assert command(tmp_path) == 0  # the next run finds it: no second download
    assert server.requests == ["/esc10.zip"] and len(notebook_runs) == 2
    assert "Downloading" not in capsys.readouterr().err


def test_reports_without_network_fail_with_the_message_to_get_the_data(server, manifest, no_dataset, notebook_runs,
                                                                       tmp_path, monkeypatch, capsys):
    url = server.url("/esc10.zip")
    server.close()  # nothing listens there any more: no network
    server.close = lambda: None
    serve_from(monkeypatch, url, manifest)
    assert command(tmp_path) == 1
    err = capsys.readouterr().err
    assert "audiolab reports: error: no ESC-10 dataset found" in err
    assert "run `audiolab data --download`" in err and "set AUDIOLAB_DATA=/path/to/ESC-10" in err  # as before
    assert "The automatic download failed" in err and "internet connection" in err  # and why it did not work
    assert notebook_runs == []
    assert not (no_dataset / "ESC-10").exists() and test_data_download.leftovers(no_dataset) == []


def test_a_root_that_does_not_exist_is_an_error_not_a_download(server, no_dataset, notebook_runs, tmp_path, capsys):
    assert command(tmp_path, root=str(tmp_path / "typo")) == 1
    assert "typo (root argument) does not exist" in capsys.readouterr().err
    assert server.requests == [] and notebook_runs == [] and not (tmp_path / "typo").exists()


def test_audiolab_data_pointing_nowhere_is_an_error_not_a_download(server, no_dataset, notebook_runs, tmp_path,
                                                                   monkeypatch, capsys):
    monkeypatch.setenv(data.DATA_ENV, str(tmp_path / "moved"))
    assert command(tmp_path) == 1
    assert "$AUDIOLAB_DATA points to" in capsys.readouterr().err
    assert server.requests == [] and notebook_runs == []


def test_a_dataset_already_there_is_used_as_it_is(server, synthetic_esc10, no_dataset, notebook_runs, tmp_path,
                                                  monkeypatch):
    monkeypatch.setenv(data.DATA_ENV, str(synthetic_esc10))
    assert command(tmp_path) == 0
    assert server.requests == [] and len(notebook_runs) == 1 and not no_dataset.exists()
