"""audiolab.plots: every function returns a Figure with the expected content."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from audiolab import metrics, plots  # noqa: E402

NAMES = ["dog", "rain", "siren"]


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 10)
    logits = rng.normal(size=(30, 3)) + 2.0 * np.eye(3)[y]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return metrics.evaluate(y, probs, NAMES)


def texts(ax):
    return [t.get_text() for t in ax.texts]


@pytest.mark.parametrize("normalize", [False, True])
def test_confusion_matrix(result, normalize):
    fig = plots.confusion_matrix(result["confusion_matrix"], NAMES, normalize=normalize, title="cm")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2  # heatmap + colorbar
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == NAMES
    assert [t.get_text() for t in ax.get_yticklabels()] == NAMES
    annotations = texts(ax)
    assert len(annotations) == 9
    cm = np.array(result["confusion_matrix"])
    if normalize:
        assert annotations[0] == f"{cm[0, 0] / cm[0].sum():.2f}"
    else:
        assert annotations[0] == str(cm[0, 0])
    assert ax.get_title() == "cm"


def test_confusion_matrix_shape_mismatch():
    with pytest.raises(ValueError, match="square"):
        plots.confusion_matrix([[1, 2], [3, 4]], NAMES)


def test_roc_curves_legend(result):
    fig = plots.roc_curves(result["roc"])
    assert isinstance(fig, Figure) and len(fig.axes) == 2  # all thresholds, and the zoomed top-left corner
    assert fig.axes[1].get_xlim() == (0.0, 0.2) and fig.axes[1].get_legend() is None
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len(legend) == 3
    for name, entry in zip(NAMES, legend):
        assert entry == f"{name} (AUC {result['roc'][name]['auc']:.2f})"
    assert len(fig.axes[0].lines) == 4  # 3 classes + chance diagonal


def test_attention_map_per_head():
    w = torch.softmax(torch.randn(3, 5, 5), dim=-1)
    tokens = ["<cls>", "t1", "t2", "t3", "t4"]
    fig = plots.attention_map(w, tokens=tokens, title="attn")
    assert isinstance(fig, Figure)
    heads = [ax for ax in fig.axes if ax.get_title().startswith("head")]
    assert [ax.get_title() for ax in heads] == ["head 0", "head 1", "head 2"]
    assert len(fig.axes) == 4  # 3 heads + shared colorbar
    assert [t.get_text() for t in heads[0].get_xticklabels()] == tokens
    single = plots.attention_map(np.eye(4))
    assert len([ax for ax in single.axes if ax.get_title() == "head 0"]) == 1
    with pytest.raises(ValueError, match="tokens"):
        plots.attention_map(w, tokens=tokens[:2])


def test_fold_metrics_one_dot_per_fold_in_the_experiments_colour():
    per_fold = {
        "arch1": [{"fold": k, "accuracy": 0.7 + 0.02 * k} for k in range(1, 6)],
        "arch2-heads2": [{"fold": k, "accuracy": 0.75 + 0.01 * k} for k in range(1, 6)],
    }
    fig = plots.fold_metrics(per_fold)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    lines = [line for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert [len(line.get_xdata()) for line in lines] == [5, 5]
    assert lines[0].get_color() == plots.experiment_color("arch1") != plots.experiment_color("arch2-heads2")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0].startswith("arch1 (0.760 ± ") and legend[1].startswith("arch2-heads2 (0.780")
    assert [t.get_text() for t in ax.get_xticklabels()] == [f"fold {k}" for k in range(1, 6)]
    low, high = ax.get_ylim()
    assert 0.6 < low and high < 0.9  # the axis spans the data, so small gaps stay visible


def test_experiment_colors_are_stable_across_seeds_and_figures():
    assert plots.experiment_color("arch1-seed2") == plots.experiment_color("arch1")
    assert plots.experiment_color("arch2-heads2-ensemble") == plots.experiment_color("arch2-heads2")
    assert len({plots.experiment_color(n) for n in ("arch1", "arch2-heads1", "arch2-heads2", "arch2-heads4",
                                                    "arch1-baseline-2024", "arch2-baseline-2024")}) == 6
    assert plots.experiment_color("my-own") == plots.experiment_color("my-own-seed1")


def test_save_writes_png(tmp_path, result):
    fig = plots.roc_curves(result["roc"])
    path = plots.save(fig, tmp_path / "nested" / "dir" / "roc")
    assert path == tmp_path / "nested" / "dir" / "roc.png"
    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


def test_fold_curves_one_panel_per_fold_titled_with_its_score():
    history = [{"epoch": e, "train_acc": 0.1 * e, "test_acc": 0.2 * e} for e in (1, 2, 3)]
    records = [{"fold": k, "history": history, "metrics": {"accuracy": 0.5 + k / 10}} for k in (1, 2)]
    fig = plots.fold_curves(records, title="t")
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "fold 2: 0.700"
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["train", "test fold"]
    with pytest.raises(ValueError, match="no fold records"):
        plots.fold_curves([])


def test_differences_one_row_per_comparison_with_its_interval():
    import pandas as pd

    def result(diffs, low, high):
        return {"per_fold": pd.DataFrame({"difference": diffs}),
                "test": {"mean": sum(diffs) / len(diffs), "ci_low": low, "ci_high": high}}

    fig = plots.differences({"official CV": result([0.01, -0.02, 0.03], -0.03, 0.04),
                             "development CV": result([0.0, 0.01], -0.05, 0.06)})
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["development CV", "official CV"]  # first row on top
    dots = [c for c in ax.collections if c.get_offsets().shape[0] in (2, 3)]
    assert sorted(c.get_offsets().shape[0] for c in dots) == [2, 3]  # every fold's difference is drawn
    low, high = ax.get_xlim()
    assert low <= -5 and high >= 6  # the intervals, in points, fit on the axis
    with pytest.raises(ValueError, match="empty"):
        plots.differences({})


@pytest.mark.parametrize("arch", ["conv1d", "transformer"])
def test_architecture_shows_the_shapes_of_the_real_forward(arch):
    """Every box's shape is the one the model's own layers produce, stage by stage, and the last is its output."""
    from audiolab import configs
    from audiolab.models import build_model

    exp = configs.arch1() if arch == "conv1d" else configs.arch2(heads=2)
    n_mels, frames = exp.features.n_mels, 50
    model = build_model(exp.model, n_mels, 10).train()
    fig = plots.architecture(model, n_mels, frames)
    assert model.training  # the caller's mode is given back
    shown = [shape for _, shape in fig.shapes]
    x = torch.randn(1, n_mels, frames)
    with torch.no_grad():
        model.eval()
        h, expected = x, [tuple(x.shape)]
        for block in model.features.blocks:
            h = block(h)
            expected.append(tuple(h.shape))
        out = tuple(model(x).shape)
    assert shown[:len(expected)] == expected and shown[-1] == out == (1, 10)
    labels = [t for t in texts(fig.axes[0]) if t]  # the arrows are empty annotations
    assert len(labels) == len(fig.shapes) and labels[-1].endswith("B × 10")
    if arch == "conv1d":  # conv blocks, the pooling in forward(), the classifier
        assert shown[-2] == (1, 2 * exp.model.channels[-1])
    else:  # the tokens, with the <cls> token in front of the transformer blocks
        steps = expected[-1][-1]
        assert (1, steps + 1, exp.model.d_model) in shown and sum("TransformerBlock" in t for t in labels) == exp.model.depth
