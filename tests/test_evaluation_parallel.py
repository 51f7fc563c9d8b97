"""audiolab.evaluation.parallel: folds trained in worker processes give what one process gives."""
import importlib
import math

import numpy as np
import pandas as pd
import pytest
import torch

from audiolab.evaluation import ResultsStore, cross_validate_many, run_cv, run_dev_cv, search
from audiolab.evaluation.parallel import WORKERS_ENV, resolve_workers, run_jobs

from _tiny import ARCH1, features, meta  # noqa: F401 (fixtures)


def test_workers_come_from_the_argument_then_the_environment(monkeypatch):
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert resolve_workers() == 1
    monkeypatch.setenv(WORKERS_ENV, "2")
    assert resolve_workers() == 2 and resolve_workers(3) == 3
    monkeypatch.setenv(WORKERS_ENV, "auto")
    assert resolve_workers() >= 1
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(WORKERS_ENV, bad)
        with pytest.raises(ValueError, match=f"\\${WORKERS_ENV}={bad!r}"):
            resolve_workers()
    with pytest.raises(ValueError, match="workers=0"):
        resolve_workers(0)


def test_jobs_return_in_order_and_the_first_error_is_raised():
    assert run_jobs(math.sqrt, [4.0, 9.0, 16.0], workers=2) == [2.0, 3.0, 4.0]
    with pytest.raises(ValueError, match="invalid literal"):
        run_jobs(int, ["1", "not a number", "3"], workers=2)


def _stored(root, name, kind, folds):
    store = ResultsStore(root)
    out = {}
    for k in folds:
        json_path, csv_path = store.fold_paths(name, k, kind)
        out[k] = (store.read(json_path)["metrics"]["accuracy"], pd.read_csv(csv_path))
    return out


def _one_thread(fn):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what each worker does: the numbers then match to the last digit
    try:
        return fn()
    finally:
        torch.set_num_threads(threads)


def test_folds_trained_by_two_workers_equal_one_thread_in_one_process(meta, features, tmp_path, monkeypatch):
    _one_thread(lambda: run_dev_cv(ARCH1, meta, features, tmp_path / "one", wandb_mode="disabled", progress=False,
                                   workers=1))
    summary = run_dev_cv(ARCH1, meta, features, tmp_path / "two", wandb_mode="disabled", progress=False, workers=2)
    folds = [r["fold"] for r in summary["folds"]]
    assert folds == [1, 2, 3, 4]
    one, two = _stored(tmp_path / "one", ARCH1.name, "dev-cv", folds), _stored(tmp_path / "two", ARCH1.name, "dev-cv", folds)
    for k in folds:
        assert one[k][0] == two[k][0]
        pd.testing.assert_frame_equal(one[k][1], two[k][1])
    # a rerun finds every fold stored and trains nothing, whatever the number of workers
    monkeypatch.setattr("audiolab.evaluation.cv.run_jobs", lambda *a, **k: pytest.fail("retrained"))
    again = run_dev_cv(ARCH1, meta, features, tmp_path / "two", wandb_mode="disabled", progress=False, workers=2)
    assert again["accuracy_mean"] == summary["accuracy_mean"]


def test_many_cross_validations_train_their_folds_in_one_batch(meta, features, tmp_path, monkeypatch):
    seeds = {"a": [ARCH1], "b": [ARCH1.replace({"train.seed": 1}, name="tiny-seed1")]}
    alone = _one_thread(lambda: {label: [run_dev_cv(e, meta, features, tmp_path / "one", wandb_mode="disabled",
                                                    progress=False) for e in group] for label, group in seeds.items()})
    batches = []
    real = cross_validate_many.__globals__["run_jobs"]
    monkeypatch.setattr("audiolab.evaluation.cv.run_jobs", lambda fn, jobs, workers: batches.append(len(jobs)) or
                        real(fn, jobs, workers))
    together = cross_validate_many(seeds, meta, features, tmp_path / "two", "dev-cv", wandb_mode="disabled",
                                   progress=False, workers=2)
    assert batches == [8]  # both seeds' four folds, in one submission to the pool
    assert list(together) == ["a", "b"] and [len(g) for g in together.values()] == [1, 1]
    for label in seeds:
        assert together[label][0]["name"] == alone[label][0]["name"]
        assert together[label][0]["accuracy_mean"] == alone[label][0]["accuracy_mean"]
    with pytest.raises(ValueError, match="protocol"):
        cross_validate_many([ARCH1], meta, features, tmp_path, "holdout")


def test_search_trials_trained_by_two_workers_equal_one_process(meta, features, tmp_path, monkeypatch):
    space = {"train.lr": [1e-3, 3e-3]}
    options = dict(n_trials=2, val_fold=(3, 4), test_fold=5, wandb_mode="disabled", progress=False)
    one = _one_thread(lambda: search(ARCH1, space, meta, features, tmp_path / "one", workers=1, **options))
    two = search(ARCH1, space, meta, features, tmp_path / "two", workers=2, **options)
    pd.testing.assert_frame_equal(one.drop(columns="seconds"), two.drop(columns="seconds"))
    search_module = importlib.import_module("audiolab.evaluation.search")  # the package's `search` is the function
    monkeypatch.setattr(search_module, "run_jobs", lambda *a, **k: pytest.fail("retrained"))
    again = search(ARCH1, space, meta, features, tmp_path / "two", workers=2, **options)
    assert again["val_accuracy"].tolist() == two["val_accuracy"].tolist()


def test_the_kept_test_model_is_written_by_its_worker(meta, features, tmp_path):
    summary = run_cv(ARCH1, meta, features, tmp_path, folds=(4, 5), keep_test_model=True, wandb_mode="disabled",
                     progress=False, workers=2)
    assert [r["fold"] for r in summary["folds"]] == [4, 5]
    assert ResultsStore(tmp_path).test_model(ARCH1.name, 5).is_file()
    assert np.isfinite(summary["accuracy_mean"])


def test_a_script_without_a_main_guard_gets_told_how_to_fix_it(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "unguarded.py"
    script.write_text("import math\nfrom audiolab.evaluation.parallel import run_jobs\n"
                      "print(run_jobs(math.sqrt, [4.0, 9.0], workers=2))\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert 'if __name__ == "__main__":' in done.stderr and "AUDIOLAB_WORKERS=1" in done.stderr


def test_workers_exit_when_their_parent_is_killed(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "parent.py"
    script.write_text(
        "import os, time\n"
        "from audiolab.evaluation.parallel import run_jobs\n"
        "if __name__ == '__main__':\n"
        "    print(*run_jobs(abs, [-1, -2], workers=2), flush=True)\n"
        "    import multiprocessing\n"
        "    print(' '.join(str(p.pid) for p in multiprocessing.active_children()), flush=True)\n"
        "    time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().split() == ["1", "2"]
        children = [int(p) for p in parent.stdout.readline().split()]
        assert children, "the pool started no worker processes"
    finally:
        parent.send_signal(signal.SIGKILL)  # no atexit, no pool shutdown: as when a kernel is killed
        parent.wait()
    deadline = time.monotonic() + 15
    alive = children
    while alive and time.monotonic() < deadline:
        time.sleep(0.5)
        alive = [pid for pid in alive if _running(pid)]
    assert not alive, f"worker processes {alive} outlived their killed parent"


def _running(pid):
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its (init) parent to reap it is gone for our purpose
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except OSError:
        return False
