"""The package's shape: no import cycles between audiolab modules, and no file too long to read."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Mapping, Optional

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "audiolab"
MAX_LINES = 400


def module_name(path: Path, root: Path = REPO) -> str:
    """``audiolab/evaluation/cv.py`` -> ``audiolab.evaluation.cv``; a package's ``__init__.py`` is the package."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {module_name(p, package.parent): p for p in sorted(package.rglob("*.py"))}


def _resolve(name: str, known: Mapping[str, Path]) -> Optional[str]:
    """The module ``name`` is, or lives in: ``audiolab.data.load_features`` -> ``audiolab.data``."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The audiolab modules that module ``name`` imports, at module level or inside functions."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: one dot is this package, each further dot one package up
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:  # `from x import y`: y is the submodule x.y when there is one, else a name in x
                submodule = f"{source}.{alias.name}"
                targets.append(submodule if submodule in known else source)
    found = {m for m in (_resolve(t, known) for t in targets if t.split(".")[0] == "audiolab") if m}
    # Importing a.b.c first runs the packages a and a.b, except those this module is itself inside of
    # (they are already being imported when it runs); a name imported from such a package still counts.
    inside = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
    parents = {".".join(m.split(".")[:i]) for m in found for i in range(1, m.count(".") + 1)}
    return (found | (parents & set(known) - inside)) - {name}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    known = package_modules(package)
    return {name: imports_of(name, path, known) for name, path in known.items()}


def find_cycle(graph: Mapping[str, set[str]]) -> Optional[list[str]]:
    """One import cycle as ``[a, b, ..., a]``, or ``None`` (depth-first search, nodes in sorted order)."""
    state: dict[str, str] = {}  # "active" while on the current path, "done" once fully explored
    path: list[str] = []

    def visit(node: str) -> Optional[list[str]]:
        state[node] = "active"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "active":
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        path.pop()
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


# --------------------------------------------------------------------------- the checks on audiolab


def test_no_import_cycles_in_audiolab():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_is_longer_than_400_lines():
    long = {str(p.relative_to(REPO)): n for p in sorted(PACKAGE.rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these files (more than {MAX_LINES} lines): {long}"


def test_the_graph_sees_the_package_it_checks():
    graph = import_graph()
    assert {"audiolab", "audiolab.cli", "audiolab.data", "audiolab.evaluation.cv", "audiolab.models.conv1d"} <= set(
        graph)
    assert "audiolab.evaluation.store" in graph["audiolab.evaluation.cv"]  # from .store import ...
    assert "audiolab.data" in graph["audiolab.evaluation.cv"]  # from ..data import cv_folds: the package
    assert "audiolab.configs" in graph["audiolab.cli"]  # from . import configs, inside a function
    assert "audiolab.data.esc10" in graph["audiolab.data.audio"]  # absolute imports


# --------------------------------------------------------------------------- the checker itself


def test_find_cycle_reports_the_cycle_it_finds():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"x": {"a"}, **graph}) == ["a", "b", "c", "a"]  # reached from outside the cycle
    assert find_cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]


def test_find_cycle_accepts_an_acyclic_graph():
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set(), "d": {"a"}}) is None
    assert find_cycle({}) is None


def test_relative_imports_resolve_like_python(tmp_path):
    root = tmp_path / "audiolab"
    (root / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "configs.py": "",
        "sub/__init__.py": "from .x import f\n",
        "sub/x.py": "from . import y\nfrom .. import configs\nfrom ..sub import g\n",
        "sub/y.py": "def f():\n    from . import configs\n    import audiolab.sub.x\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    known = package_modules(root)
    graph = {n: imports_of(n, p, known) for n, p in known.items()}
    assert graph["audiolab.sub"] == {"audiolab.sub.x"}
    assert graph["audiolab.sub.x"] == {"audiolab.sub.y", "audiolab.configs", "audiolab.sub"}
    # `from . import configs` in sub/ is sub.configs if it existed; here a name of sub's __init__
    assert graph["audiolab.sub.y"] == {"audiolab.sub", "audiolab.sub.x"}
    assert find_cycle(graph) == ["audiolab.sub", "audiolab.sub.x", "audiolab.sub"]


def test_importing_a_submodule_from_outside_runs_its_package(tmp_path):
    root = tmp_path / "audiolab"
    (root / "sub").mkdir(parents=True)
    files = {"__init__.py": "", "a.py": "def f():\n    from .sub import x\n", "sub/__init__.py": "from . import y\n",
             "sub/x.py": "from . import y\n", "sub/y.py": "from .. import a\n"}
    for name, text in files.items():
        (root / name).write_text(text)
    known = package_modules(root)
    graph = {n: imports_of(n, p, known) for n, p in known.items()}
    assert graph["audiolab.a"] == {"audiolab.sub", "audiolab.sub.x"}  # sub's __init__ runs before sub.x
    assert graph["audiolab.sub.x"] == {"audiolab.sub.y"}  # sub is already running: no edge back to it
    assert find_cycle(graph) == ["audiolab.a", "audiolab.sub", "audiolab.sub.y", "audiolab.a"]


def test_a_submodule_of_the_same_name_wins(tmp_path):
    root = tmp_path / "audiolab"
    (root / "sub").mkdir(parents=True)
    for name, text in {"__init__.py": "", "configs.py": "", "sub/__init__.py": "", "sub/configs.py": "",
                       "sub/x.py": "from . import configs\n"}.items():
        (root / name).write_text(text)
    known = package_modules(root)
    assert imports_of("audiolab.sub.x", root / "sub" / "x.py", known) == {"audiolab.sub.configs"}
