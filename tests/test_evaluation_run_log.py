"""audiolab.evaluation.run_log: W&B names for what each number measures, the prediction table and its audio."""
import numpy as np
import pytest

from audiolab.data import ESC10_CLASSES
from audiolab.evaluation import run_log
from audiolab.evaluation.run_log import RunLog, predictions_frame, wandb_metrics
from audiolab.features import FeatureConfig
from audiolab.metrics import evaluate
from audiolab.tracking import Run, TrackingWarning

ROW = {"epoch": 3, "lr": 0.001, "train_loss": 0.5, "train_acc": 0.75, "test_loss": 0.9, "test_acc": 0.6, "seconds": 1.5}
FC = FeatureConfig(sample_rate=8000, n_mels=16, hop_length=256, n_fft=512, duration=1.0)


def test_history_rows_get_names_that_say_what_they_measure():
    assert wandb_metrics(ROW, "test") == {"epoch": 3, "train/lr": 0.001, "train/loss": 0.5, "train/accuracy": 0.75,
                                          "test/loss": 0.9, "test/accuracy": 0.6, "train/epoch_seconds": 1.5}
    val = wandb_metrics({"epoch": 1, "train_loss": 1.0, "val_loss": 2.0, "val_acc": 0.1, "other": 7}, "val")
    assert val == {"epoch": 1, "train/loss": 1.0, "val/loss": 2.0, "val/accuracy": 0.1, "other": 7}
    assert ROW["train_loss"] == 0.5 and "train/loss" not in ROW  # the history itself keeps fit's names
    with pytest.raises(ValueError, match="eval_name must be 'test' .* or 'val' .*got 'holdout'"):
        wandb_metrics(ROW, "holdout")


class Recorder:
    """The real wandb run behind a :class:`audiolab.tracking.Run`: records what reaches it."""

    def __init__(self):
        self.logged, self.metrics, self.summary = [], [], {}

    def log(self, data, step=None):
        self.logged.append((step, dict(data)))

    def define_metric(self, name, step_metric=None, **options):
        self.metrics.append((name, step_metric, options))

    def finish(self, exit_code=None):
        self.exit_code = exit_code


@pytest.fixture
def recorded():
    import wandb

    raw = Recorder()
    raw.summary = type("Summary", (dict,), {"update": dict.update})()
    return raw, Run(raw, mode="offline", wandb=wandb)


def test_epochs_are_the_step_and_a_trial_counts_on_across_its_folds(recorded):
    raw, run = recorded
    log = RunLog(run, "val")
    assert raw.metrics == [("epoch", None, {"hidden": True}), ("train/*", "epoch", {}), ("val/*", "epoch", {})]
    for fold in (3, 4):
        log.start_fold(fold)
        for epoch in (1, 2):
            log.epoch({"epoch": epoch, "train_loss": 1.0 / epoch, "val_acc": 0.5})
    assert [step for step, _ in raw.logged] == [1, 2, 3, 4]
    assert [(d["epoch"], d["fold"], d["fold_epoch"]) for _, d in raw.logged] == [(1, 3, 1), (2, 3, 2), (3, 4, 1),
                                                                                  (4, 4, 2)]
    assert raw.logged[2][1]["train/loss"] == 1.0 and raw.logged[3][1]["val/accuracy"] == 0.5


def _clips(meta, n):
    return meta.iloc[:n].reset_index(drop=True)


def _scores(n, wrong, classes=ESC10_CLASSES, seed=0):
    """Labels and probabilities where exactly the rows ``wrong`` are misclassified, more confidently the later."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, len(classes), n)
    probs = np.full((n, len(classes)), 0.02)
    for i in range(n):
        guess = (y[i] + 1) % len(classes) if i in wrong else y[i]
        probs[i, guess] = 0.5 + 0.01 * i
    return y, probs / probs.sum(axis=1, keepdims=True)


def test_the_prediction_table_names_classes_and_flags_mistakes(synthetic_esc10_meta):
    clips = _clips(synthetic_esc10_meta, 6)
    y, probs = _scores(6, wrong={1, 4})
    table = predictions_frame(clips, y, probs, ESC10_CLASSES)
    assert table["filename"].tolist() == clips["filename"].tolist() and table["fold"].tolist() == clips["fold"].tolist()
    assert table["true"].tolist() == [ESC10_CLASSES[t] for t in y]
    assert table["correct"].tolist() == [True, False, True, True, False, True]
    assert (table["predicted"] != table["true"]).tolist() == (~table["correct"]).tolist()
    assert table["confidence"].tolist() == pytest.approx(probs.max(axis=1), abs=1e-4)
    assert table["p_true"].tolist() == pytest.approx(probs[np.arange(6), y], abs=1e-4)
    with pytest.raises(ValueError, match="5 clips, 6 labels and 6 rows of probabilities"):
        predictions_frame(clips.iloc[:5], y, probs, ESC10_CLASSES)


def _scored_table(run, raw, clips, y, probs, features):
    RunLog(run, "test").scored(y, probs, evaluate(y, probs, ESC10_CLASSES), ESC10_CLASSES, {"trainable": 10},
                               clips=clips, features=features)
    [(step, logged)] = raw.logged
    assert step is None  # joins the last epoch's row
    return logged


def test_only_the_most_confident_mistakes_get_their_audio(recorded, synthetic_esc10_meta, monkeypatch):
    raw, run = recorded
    monkeypatch.setattr(run_log, "MAX_AUDIO_CLIPS", 2)
    clips = _clips(synthetic_esc10_meta, 8)
    y, probs = _scores(8, wrong={0, 3, 6})
    logged = _scored_table(run, raw, clips, y, probs, FC)
    assert {"test/confusion_matrix", "test/roc", "test/predictions"} <= set(logged)
    table = logged["test/predictions"]
    audio = table.get_column("audio")
    assert [i for i, a in enumerate(audio) if a is not None] == [3, 6]  # mistake 0 is the least confident
    assert raw.summary == {"test/accuracy": 5 / 8, "test/macro_f1": pytest.approx(evaluate(y, probs, ESC10_CLASSES)[
        "macro_f1"]), "test/auc": pytest.approx(evaluate(y, probs, ESC10_CLASSES)["auc_macro_ovr"]),
        "params/trainable": 10}
    assert type(audio[3]).__name__ == "Audio"


def test_clips_whose_audio_cannot_be_found_get_none(recorded, synthetic_esc10_meta, tmp_path):
    raw, run = recorded
    clips = _clips(synthetic_esc10_meta, 4)
    clips["path"] = [str(tmp_path / "gone.ogg"), None, str(tmp_path), clips["path"][3]]
    (tmp_path / "broken.ogg").write_bytes(b"not audio")
    clips.loc[2, "path"] = str(tmp_path / "broken.ogg")
    y, probs = _scores(4, wrong={0, 1, 2, 3})
    audio = _scored_table(run, raw, clips, y, probs, FC)["test/predictions"].get_column("audio")
    assert audio[:3] == [None, None, None] and audio[3] is not None  # missing, no path, undecodable; a real clip
    raw.logged.clear()
    no_paths = clips.drop(columns="path")
    assert _scored_table(run, raw, no_paths, y, probs, FC)["test/predictions"].get_column("audio") == [None] * 4
    raw.logged.clear()
    assert _scored_table(run, raw, clips, y, probs, None)["test/predictions"].get_column("audio") == [None] * 4


def test_a_disabled_run_builds_nothing(synthetic_esc10_meta, monkeypatch):
    monkeypatch.setattr(run_log, "predictions_frame", lambda *a: pytest.fail("table built for a disabled run"))
    log = RunLog(Run(None), "test")
    y, probs = _scores(4, wrong={1})
    log.epoch(ROW)
    log.scored(y, probs, evaluate(y, probs, ESC10_CLASSES), ESC10_CLASSES, clips=_clips(synthetic_esc10_meta, 4))
    log.result_files("x", "cv-fold", ".", [])
    log.finish()
    assert log.epochs == 1


def test_a_failing_run_start_leaves_training_a_disabled_run(monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("W&B is down")

    monkeypatch.setattr(run_log.tracking, "start_run", broken)
    monkeypatch.setenv("WANDB_PROJECT", "elsewhere")
    log = run_log.open_run_log({"name": "x"}, "val")
    assert not log.run.enabled and log.eval_name == "val"
    started = []
    monkeypatch.setattr(run_log.tracking, "start_run", lambda **kwargs: started.append(kwargs) or Run(None))
    run_log.open_run_log({"name": "x"}, "val")
    run_log.open_run_log({"name": "x", "project": "mine"}, "test")
    assert [s["project"] for s in started] == ["elsewhere", "mine"]


def test_a_failing_chart_loses_the_charts_only(recorded, synthetic_esc10_meta, monkeypatch):
    import wandb

    raw, run = recorded
    monkeypatch.setattr(wandb.plot, "confusion_matrix", lambda **kwargs: 1 / 0)
    y, probs = _scores(4, wrong={1})
    with pytest.warns(TrackingWarning, match="plots and prediction table failed .*ZeroDivisionError"):
        RunLog(run, "val").scored(y, probs, evaluate(y, probs, ESC10_CLASSES), ESC10_CLASSES,
                                  clips=_clips(synthetic_esc10_meta, 4))
    assert raw.logged == [(None, {})]  # still commits the last epoch's row, before the summary
    assert raw.summary["val/accuracy"] == 0.75
