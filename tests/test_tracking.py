"""audiolab.tracking: offline runs reach the files, disabled/failed runs are no-ops."""
import json
import struct
import subprocess
import sys
import time
import warnings
import zlib

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from audiolab import tracking  # noqa: E402

EPOCHS = [
    {"train_loss": 1.25, "train_acc": 0.5, "val_loss": 1.5, "val_acc": 0.4},
    {"train_loss": 0.75, "train_acc": 0.7, "val_loss": 1.0, "val_acc": 0.6},
    {"train_loss": 0.5, "train_acc": 0.875, "val_loss": 0.875, "val_acc": 0.65},
]
ENV = ("WANDB_MODE", "WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_BASE_URL", "NETRC")


def read_transaction_log(path):
    """Records of a ``.wandb`` file, parsed with wandb's own protobuf schema.

    The file is a LevelDB-style log (7-byte header ``:W&B`` + magic 0xBEE1 + version,
    then 32 KiB blocks of records: crc32 (uint32), length (uint16), type (uint8:
    1 full, 2 first, 3 middle, 4 last), data). wandb >= 0.2x no longer ships a Python
    reader (``wandb.sdk.internal.datastore`` is gone), so this mirrors its format.
    """
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    ident, magic, version = struct.unpack("<4sHB", data[:7])
    assert (ident, magic, version) == (b":W&B", 0xBEE1, 0)
    block, pos, pending, records = 32768, 7, b"", []
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # block trailer padding
            pos += block - pos % block
            continue
        checksum, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk = data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind == 0:
            continue
        assert zlib.crc32(chunk, zlib.crc32(bytes([kind]))) & 0xFFFFFFFF == checksum
        pending = chunk if kind in (1, 2) else pending + chunk
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def read_finished_log(path, timeout=20.0):
    """The records once the ``exit`` record is on disk: wandb-core writes the file
    asynchronously, so ``finish()`` can return a moment before it is complete."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            records = read_transaction_log(path)
            if any(r.WhichOneof("record_type") == "exit" for r in records):
                return records
        except (AssertionError, struct.error):  # caught mid-write
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} has no exit record after {timeout} s")
        time.sleep(0.05)


def history_rows(records):
    rows = []
    for record in records:
        if record.WhichOneof("record_type") == "history":
            rows.append(
                {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            )
    return rows


def final_summary(records):
    summary = {}
    for record in records:
        if record.WhichOneof("record_type") == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return summary


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for var in ENV:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(tracking, "_online_failed", False)
    return tmp_path


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("wb")
    fig = Figure()
    fig.subplots().plot([0, 1], [1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", tracking.TrackingWarning)  # any W&B failure fails the test
        run = tracking.start_run(
            project="audiolab-test", name="conv1d-fold1", group="cv", job_type="cv",
            config={"lr": 0.001, "epochs": 3}, mode="offline", dir=root, tags=["test"],
        )
        assert run.enabled and run.mode == "offline"
        for epoch, metrics in enumerate(EPOCHS, start=1):
            run.log(metrics, step=epoch)
        run.log_figure("confusion_matrix", fig)
        run.summary({"best_val_acc": 0.65, "test_acc": 0.7})
        run.finish()
    return root, run


def test_offline_run_writes_history_summary_and_media(offline_run):
    root, run = offline_run
    run_dirs = list((root / "wandb").glob("offline-run-*"))
    assert run_dirs == [run.dir]
    (wandb_file,) = run.dir.glob("run-*.wandb")
    records = read_finished_log(wandb_file)
    kinds = {r.WhichOneof("record_type") for r in records}
    assert {"run", "history", "summary", "exit"} <= kinds
    (run_record,) = [r.run for r in records if r.WhichOneof("record_type") == "run"]
    assert (run_record.display_name, run_record.run_group, run_record.job_type) == ("conv1d-fold1", "cv", "cv")
    config = {item.key: json.loads(item.value_json) for item in run_record.config.update}
    assert config["lr"] == 0.001 and config["epochs"] == 3

    rows = history_rows(records)
    assert [row["_step"] for row in rows] == [1, 2, 3]  # the figure joined the last epoch
    for row, expected in zip(rows, EPOCHS):
        for key, value in expected.items():
            assert row[key] == pytest.approx(value)
    assert rows[-1]["confusion_matrix/_type"] == "image-file"  # nested keys joined by "/"
    assert list((run.dir / "files" / "media" / "images").glob("confusion_matrix_*.png"))

    # offline runs keep the summary only in the transaction log (wandb-summary.json is written on sync)
    summary = final_summary(records)
    assert summary["best_val_acc"] == 0.65 and summary["test_acc"] == 0.7
    assert summary["train_loss"] == pytest.approx(0.5)


def test_finished_run_ignores_further_calls(offline_run):
    _, run = offline_run
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run.log({"x": 1}, step=9)
        run.summary({"x": 1})
        run.finish()


def test_disabled_mode_is_a_noop_without_wandb(tmp_path):
    code = (
        "import sys; from audiolab import tracking\n"
        "run = tracking.start_run(mode='disabled', name='x', config={'a': 1})\n"
        "run.log({'loss': 1.0}, step=1); run.log_figure('f', None); run.summary({'a': 1}); run.finish()\n"
        "with tracking.start_run(mode='disabled') as r: r.log({'a': 2})\n"
        "assert not run.enabled and run.dir is None and run.mode == 'disabled'\n"
        "print('wandb' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"  # wandb never imported
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_failing_init_gives_noop_run_with_warning(clean_env, monkeypatch):
    import wandb

    def boom(*args, **kwargs):
        raise RuntimeError("server unreachable")

    monkeypatch.setattr(wandb, "init", boom)
    with pytest.warns(tracking.TrackingWarning, match="server unreachable"):
        run = tracking.start_run(name="x", mode="offline", dir=clean_env)
    assert not run.enabled and run.mode == "disabled"
    fig = Figure()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for epoch in range(3):
            run.log({"loss": 1.0 / (epoch + 1)}, step=epoch)
        run.log_figure("cm", fig)
        run.summary({"acc": 1.0})
        run.finish()


def test_failing_online_init_falls_back_to_offline_once(clean_env, monkeypatch):
    import wandb

    calls = []

    def online_down(*args, mode=None, **kwargs):
        calls.append(mode)
        raise ConnectionError("no route to host")

    monkeypatch.setattr(wandb, "init", online_down)
    with pytest.warns(tracking.TrackingWarning) as caught:
        run = tracking.start_run(name="x", mode="online", dir=clean_env)
    assert calls == ["online", "offline"] and not run.enabled
    assert any("offline" in str(w.message) for w in caught)
    calls.clear()
    with pytest.warns(tracking.TrackingWarning):
        tracking.start_run(name="y", mode="online", dir=clean_env)
    assert calls == ["offline"]  # the session remembers that online failed


class _BrokenRun:
    def log(self, *args, **kwargs):
        raise OSError("disk full")

    def finish(self, *args, **kwargs):
        raise OSError("disk full")


def test_log_converts_values():
    logged = []

    class Recorder:
        def log(self, data, step=None):
            logged.append((data, step))

    import numpy as np
    import torch
    import wandb

    table = wandb.Table(columns=["a"], data=[[1]])
    run = tracking.Run(Recorder(), mode="offline", wandb=wandb)
    run.log({"loss": torch.tensor(0.5), "acc": np.float32(0.25), "val_loss": None, "table": table}, step=np.int64(2))
    assert logged == [({"loss": 0.5, "acc": 0.25, "table": table}, 2)]
    assert type(logged[0][0]["acc"]) is float


def test_run_swallows_wandb_errors_and_warns_once():
    run = tracking.Run(_BrokenRun(), mode="offline")
    with pytest.warns(tracking.TrackingWarning, match="disk full") as caught:
        run.log({"loss": 1.0}, step=1)
        run.log({"loss": 0.5}, step=2)
        run.finish()
    assert len(caught) == 1


def test_context_manager_marks_failure_and_reraises():
    finished = []

    class Recorder:
        def finish(self, exit_code=None):
            finished.append(exit_code)

    with pytest.raises(KeyError):
        with tracking.Run(Recorder(), mode="offline"):
            raise KeyError("boom")
    assert finished == [1]


def test_resolve_mode_precedence(clean_env, monkeypatch):
    home = clean_env
    assert tracking.resolve_mode() == "offline"  # no key anywhere
    monkeypatch.setenv("WANDB_API_KEY", "k" * 40)
    assert tracking.resolve_mode() == "online"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert tracking.resolve_mode() == "disabled"  # env beats the key
    assert tracking.resolve_mode("offline") == "offline"  # explicit beats env
    monkeypatch.setenv("WANDB_MODE", "dryrun")
    assert tracking.resolve_mode() == "offline"
    monkeypatch.setenv("WANDB_MODE", "sometimes")
    with pytest.raises(ValueError, match="WANDB_MODE"):
        tracking.resolve_mode()
    with pytest.raises(ValueError, match="online, offline, disabled"):
        tracking.resolve_mode("cloud")

    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.delenv("WANDB_API_KEY")
    (home / ".netrc").write_text("machine example.com login me password secret\n")
    assert tracking.resolve_mode() == "offline"  # netrc without a W&B entry
    (home / ".netrc").write_text("machine api.wandb.ai\n  login user\n  password " + "k" * 40 + "\n")
    assert tracking.resolve_mode() == "online"  # as written by `wandb login`
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.my-university.edu")
    assert tracking.resolve_mode() == "offline"  # key is for another host
