"""``colab.setup()`` (:mod:`audiolab.colab.session`), with a stand-in ``google.colab`` module.

The stand-in's ``drive.mount`` makes ``MyDrive`` in a temporary folder (or refuses, like a user who does
not allow access), pip is a recorder, and the download copies the synthetic ESC-10 of conftest.py.
"""
from __future__ import annotations

import functools
import shutil
import sys
import types
from pathlib import Path

import pytest

from audiolab import configs, data, notebook
from audiolab.colab import ColabSetupError, session
from audiolab.evaluation.store import RESULTS_ENV, ResultsStore

KIT_ENV = (RESULTS_ENV, data.CACHE_ENV, data.DATA_ENV)


@pytest.fixture
def clean_env(monkeypatch):
    """None of the kit's variables set; whatever setup() sets is undone after the test."""
    for name in KIT_ENV:
        monkeypatch.setenv(name, "unset")  # so that the deletion below is recorded, and undone, even when absent
        monkeypatch.delenv(name)


class FakeColab:
    """A stand-in for ``google.colab`` in ``sys.modules``: ``drive.mount`` makes ``<mount>/MyDrive``, or refuses."""

    def __init__(self, monkeypatch, refuse: bool = False):
        self.mounted, self.refuse = [], refuse
        module = types.ModuleType("google.colab")
        module.drive = types.SimpleNamespace(mount=self.mount)
        monkeypatch.setitem(sys.modules, "google.colab", module)

    def mount(self, mount_point: str) -> None:
        self.mounted.append(mount_point)
        if self.refuse:
            raise ValueError("mount failed")  # what Colab raises when access is not allowed
        (Path(mount_point) / "MyDrive").mkdir(parents=True, exist_ok=True)


class Recorder:
    """The pip runner and the download: records what they were asked, the download copies the synthetic clips."""

    def __init__(self, dataset: Path):
        self.commands, self.downloads, self.dataset = [], [], dataset

    def run(self, command: list) -> None:
        self.commands.append(list(command))

    def download(self) -> None:
        cache = data.default_cache_dir()  # where `audiolab data --download` puts it, as set up by then
        self.downloads.append(cache)
        shutil.copytree(self.dataset, cache / "ESC-10")


REQUIREMENTS = ["torch>=2.4", "numpy>=1.0", "numpy>=999", "audiolab-no-such-package>=1.0",
                'papermill>=2.5; extra == "notebooks"']


def test_setup_installs_only_what_is_missing_and_keeps_results_and_data_on_drive(
        clean_env, monkeypatch, tmp_path, synthetic_esc10, capsys):
    colab = FakeColab(monkeypatch)
    fake = Recorder(synthetic_esc10)
    drive = tmp_path / "drive"
    got = session.setup(mount_point=drive, local_folder=tmp_path / "content" / "audiolab", requirements=REQUIREMENTS,
                        run=fake.run, downloader=fake.download)

    # torch and numpy are there and new enough: only the missing package and the too-old numpy are installed
    assert fake.commands == [[sys.executable, "-m", "pip", "install", "-q", "numpy>=999", "audiolab-no-such-package>=1.0"]]
    assert got.installed == ("numpy>=999", "audiolab-no-such-package>=1.0")
    folder = drive / "MyDrive" / "audiolab"
    assert colab.mounted == [str(drive)] and got.on_drive and got.folder == folder
    assert fake.downloads == [folder / "cache"]
    out = capsys.readouterr().out
    assert "installing what Colab lacks: numpy>=999, audiolab-no-such-package>=1.0" in out
    assert "upgraded numpy>=999" in out and "Restart session" in out
    assert f"kept on your Google Drive in {folder}" in out

    # the kit reads the results and the data from Drive: the store of every notebook points there
    assert ResultsStore.for_profile("full").root == folder / "results"
    assert data.resolve_root()[0] == folder / "cache" / "ESC-10"
    monkeypatch.setattr(configs, "load_dataset", functools.partial(configs.load_dataset, strict=False))
    ws = notebook.setup(profile="smoke")
    assert ws.store.root == folder / "results" and ws.figures == folder / "figures"
    assert not ws.check_claims  # claims are about the full run's numbers; a smoke run never checks them
    assert Path(ws.meta.attrs["root"]).resolve() == (folder / "cache" / "ESC-10").resolve() and len(ws.meta) == 50
    assert list((folder / "cache").glob("features*")), "the feature cache is on Drive too"


def test_without_drive_results_stay_on_the_machine_and_it_says_what_that_means(
        clean_env, monkeypatch, tmp_path, synthetic_esc10, capsys):
    colab = FakeColab(monkeypatch, refuse=True)
    fake = Recorder(synthetic_esc10)
    local = tmp_path / "content" / "audiolab"
    got = session.setup(mount_point=tmp_path / "drive", local_folder=local, requirements=["numpy>=1.0"],
                        run=fake.run, downloader=fake.download)
    assert colab.mounted and not got.on_drive and got.folder == local
    assert fake.commands == [] and got.installed == ()
    assert ResultsStore.for_profile("smoke").root == local / "results"
    assert fake.downloads == [local / "cache"] and not (tmp_path / "drive" / "MyDrive").exists()
    out = " ".join(capsys.readouterr().out.split())
    assert "Google Drive is not mounted (ValueError: mount failed)" in out
    assert f"results stay on this Colab machine in {local}" in out
    assert "Notebook 03 compares the results of 01 and 02: it finds them only if 01 and 02 ran in this same session" in out


def test_drive_false_and_download_false(clean_env, monkeypatch, tmp_path, synthetic_esc10):
    colab = FakeColab(monkeypatch)
    fake = Recorder(synthetic_esc10)
    got = session.setup(drive=False, download=False, local_folder=tmp_path / "local", requirements=[],
                        run=fake.run, downloader=fake.download)
    assert colab.mounted == [] and fake.downloads == [] and got.folder == tmp_path / "local"


def test_the_kits_own_requirements_are_all_there_here_so_nothing_is_installed(clean_env, monkeypatch, tmp_path,
                                                                              capsys):
    FakeColab(monkeypatch)
    commands = []
    got = session.setup(drive=False, download=False, local_folder=tmp_path / "local", run=commands.append)
    assert commands == [] and got.installed == ()
    assert "already has every package the kit needs" in capsys.readouterr().out
    assert "torch>=2.4" in session.kit_requirements()  # read from the installed package's metadata


def test_missing_requirements():
    assert session.missing_requirements(REQUIREMENTS) == ["numpy>=999", "audiolab-no-such-package>=1.0"]
    assert session.missing_requirements(["NumPy>=1.0", "scikit-learn>=1.0", "torch"]) == []  # names as pip sees them


def test_outside_colab_setup_refuses_and_says_what_to_do_instead(clean_env, monkeypatch, tmp_path):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    with pytest.raises(ColabSetupError, match="make install"):
        session.setup(local_folder=tmp_path / "local", run=lambda c: None, downloader=lambda: None)
    assert not (tmp_path / "local").exists()


def test_a_failed_download_says_what_to_do(clean_env, monkeypatch, tmp_path):
    FakeColab(monkeypatch)
    monkeypatch.setattr(data, "data_command", lambda **kw: 2)  # `audiolab data --download` failed
    with pytest.raises(ColabSetupError, match="connected to the internet, then run this cell again"):
        session.setup(drive=False, local_folder=tmp_path / "local", requirements=[], run=lambda c: None)
