"""What `pip install .` brings, and what only the extras bring."""
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOOLS = {"jupyter", "ipykernel", "nbformat", "nbconvert", "papermill", "pytest", "nbval"}


def _names(requirements):
    return {re.split(r"[<>=!\[; ]", r.strip(), maxsplit=1)[0].lower() for r in requirements if r.strip()}


def _core():
    lines = (REPO / "requirements.txt").read_text().splitlines()
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_import_audiolab_needs_no_notebook_or_test_tooling():
    assert not _names(_core()) & TOOLS, "requirements.txt is what `pip install .` installs: keep tools in the extras"


def test_the_extras_bring_the_notebook_and_test_tools():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert {"papermill", "nbconvert", "jupyter"} <= _names(extras["notebooks"])
    assert {"pytest", "nbval", "papermill"} <= _names(extras["test"])
    assert "notebooks,test" in (REPO / "Makefile").read_text()


def test_the_torch_floor_has_the_fused_adamw_on_cpu_that_train_uses():
    torch_req = next(r for r in _core() if _names([r]) == {"torch"})
    floor = tuple(int(x) for x in re.search(r">=\s*([\d.]+)", torch_req).group(1).split("."))
    assert floor >= (2, 4), "audiolab.train uses AdamW(fused=True) on CPU, which needs torch >= 2.4"
    assert "fused=" in (REPO / "audiolab" / "train.py").read_text()
