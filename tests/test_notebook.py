"""audiolab.notebook: how the notebooks check their text's claims (note, strict, off) and set up a workspace."""
import pandas as pd
import pytest
import torch

from audiolab import configs, notebook
from audiolab.evaluation.store import ResultsStore


def workspace(tmp_path, mode):
    return notebook.Workspace(configs.get_profile("full"), ResultsStore(tmp_path), tmp_path, pd.DataFrame(),
                              torch.zeros(0), check_claims=mode)


def test_note_mode_shows_each_contradicted_sentence_goes_on_and_sums_up(tmp_path, capsys):
    ws = workspace(tmp_path, "note")
    assert ws.claim(True, "it holds") and ws.claim(lambda: 1 < 2, "so does this")
    assert ws.claim(0.91 < 0.9, "Arch 1 beats 90 %") is False
    assert "Arch 1 beats 90 %" in capsys.readouterr().out  # shown at once, where the sentence is
    assert ws.claim(lambda: {}["heads4"], "4 heads were chosen") is False  # a claim that cannot even be evaluated
    assert "KeyError" in capsys.readouterr().out
    ws.claim(False, "Arch 1 beats 90 %")  # the same cell run again: counted once
    capsys.readouterr()
    ws.claims_summary()
    out = capsys.readouterr().out
    assert "2 of the 4 checked sentences" in out and "Arch 1 beats 90 %" in out and "4 heads were chosen" in out
    assert "it holds" not in out


def test_note_mode_draws_a_box_in_a_notebook(tmp_path, monkeypatch):
    import IPython
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    workspace(tmp_path, "note").claim(False, "the <cls> token attends to one moment")
    [bundle] = shown
    assert "&lt;cls&gt; token attends to one moment" in bundle["text/html"] and "border" in bundle["text/html"]
    assert "<cls> token" in bundle["text/plain"]


def test_strict_mode_raises_naming_the_sentence(tmp_path):
    ws = workspace(tmp_path, "strict")
    assert ws.claim(True, "it holds")
    with pytest.raises(notebook.ClaimError, match="Arch 1 beats 90 %"):
        ws.claim(False, "Arch 1 beats 90 %")
    with pytest.raises(notebook.ClaimError, match="4 heads were chosen") as raised:
        ws.claim(lambda: {}["heads4"], "4 heads were chosen")
    assert isinstance(raised.value.__cause__, KeyError) and isinstance(raised.value, AssertionError)


def test_off_never_evaluates(tmp_path, capsys):
    ws = workspace(tmp_path, "off")
    assert ws.claim(False, "anything") and ws.claim(lambda: 1 / 0, "never computed")
    ws.claims_summary()
    assert "not checked" in capsys.readouterr().out and ws.claims == {}


@pytest.mark.parametrize("profile, given, mode", [("full", "note", "note"), ("full", "strict", "strict"),
                                                  ("smoke", "strict", "off"), ("smoke", "note", "off")])
def test_setup_resolves_the_mode_and_smoke_never_checks(monkeypatch, tmp_path, profile, given, mode):
    meta = pd.DataFrame({"fold": [1]})
    meta.attrs["classes"] = ["a"]
    monkeypatch.setattr(configs, "load_dataset", lambda P, root=None: (meta, torch.zeros(1, 2, 3)))
    ws = notebook.setup(profile, results_dir=tmp_path, check_claims=given)
    assert ws.check_claims == mode


def test_setup_refuses_an_unknown_mode(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="'note', 'strict', 'off'"):
        notebook.setup("full", results_dir=tmp_path, check_claims="loud")
