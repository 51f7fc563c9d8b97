"""The committed ``reports/`` name no folder of the machine that made them, and show no warnings."""
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REPORTS = REPO / "reports"
#: an absolute path of a typical machine: the repository, data, temp or home folders
ABSOLUTE = re.compile(r"(?<![\w.:/])/(?:work|tmp|home|root|Users|var/folders|private)/[\w.-]")


def _committed_outputs():
    return sorted([*REPORTS.glob("notebooks/*.ipynb"), *REPORTS.glob("html/*.html"), REPORTS / "README.md",
                   REPORTS / "run.json"])


def test_the_pattern_finds_what_it_should():
    assert ABSOLUTE.search('results_dir = "/work/main/reports.partial/results"')
    assert ABSOLUTE.search("saved to /tmp/audiolab-smoke/results") and ABSOLUTE.search("'/home/ana/ESC-10'")
    assert not ABSOLUTE.search("reports.partial/results") and not ABSOLUTE.search("https://example.org/home/x")


@pytest.mark.parametrize("path", _committed_outputs(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_no_absolute_path_in_committed_outputs(path):
    if not path.exists():
        pytest.skip(f"{path.name} is not generated yet")
    text = path.read_text(encoding="utf-8")
    found = sorted(set(m.group(0) for m in ABSOLUTE.finditer(text)))
    assert not found, f"{path.relative_to(REPO)} names folders of the machine that made it: {found[:5]}"
    assert str(REPO) not in text and str(Path.home()) + "/" not in text


@pytest.mark.parametrize("path", sorted(REPORTS.glob("notebooks/*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_print_no_warnings(path):
    """A warning in a report is noise to a student, and usually a bug waiting (it also names the kernel's
    temporary file): fix its cause rather than commit it."""
    import json

    warnings = [(i, "".join(out.get("text", ""))[:200]) for i, cell in enumerate(json.loads(path.read_text())["cells"])
                for out in cell.get("outputs", []) if out.get("name") == "stderr" and "Warning" in "".join(out.get("text", ""))]
    assert not warnings, f"{path.name} shows warnings: {warnings}"
