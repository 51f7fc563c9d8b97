"""notebooks/solutions/: one solutions notebook per chapter, a worked answer for every exercise (nbval runs them)."""
import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CHAPTERS = sorted(NOTEBOOKS.glob("0*.ipynb"))


def sources(path: Path) -> list:
    return ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]]


def exercises(chapter: Path) -> list:
    """The numbers of the chapter's exercises: the numbered list under its "## Exercises" heading."""
    [text] = [s for s in sources(chapter) if "## Exercises" in s]
    listed = text.split("## Exercises", 1)[1].split("\n## ", 1)[0]
    return [int(n) for n in re.findall(r"^(\d+)\. ", listed, flags=re.M)]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_of_a_chapter_has_a_solution(chapter):
    solutions = NOTEBOOKS / "solutions" / f"{chapter.stem[:2]}_solutions.ipynb"
    numbers = exercises(chapter)
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 4
    cells = json.loads(solutions.read_text(encoding="utf-8"))["cells"]
    headings = [int(m) for c in cells if c["cell_type"] == "markdown"
                for m in re.findall(r"^## Exercise (\d+)\b", "".join(c["source"]), flags=re.M)]
    assert headings == numbers, f"{solutions.name} answers exercises {headings}; {chapter.name} has {numbers}"
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), "commit the solutions without outputs"
    assert code[1]["metadata"].get("tags") == ["parameters"]   # papermill and the tests set the profile
    assert "".join(code[0]["source"]) == sources(chapter)[2]  # the chapters' Colab cell, the same in every notebook
