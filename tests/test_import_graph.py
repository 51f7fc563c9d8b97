"""The package's shape (#21): no import cycles between audiolab modules, no underscore name imported from another
module, W&B in two modules only, no process-wide setting threaded through a signature, and a size limit."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Mapping, Optional

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "audiolab"
MAX_LINES = 4500  # the whole package, as `wc -l` counts
WANDB_MODULES = {"audiolab.tracking", "audiolab.sweeps"}
SETTINGS = {"wandb_mode", "wandb_dir", "progress", "workers"}  # read from the environment, never a parameter


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


def import_source(name: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` in module ``name`` (at ``path``) imports from."""
    if not node.level:
        return node.module or ""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]  # one dot: this package; more: up
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(name: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The audiolab modules that module ``name`` imports, at module level or inside functions."""
    targets: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = import_source(name, path, node)
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


def _trees(package: Path = PACKAGE):
    for name, path in package_modules(package).items():
        yield name, path, ast.parse(path.read_text(), filename=str(path))


def underscore_imports(package: Path = PACKAGE) -> list[str]:
    """``module: name`` for every underscore name (``__version__`` aside) a module imports from another package
    module; a private module itself (``from . import _util``) and its public names are fine."""
    known = package_modules(package)
    found = []
    for name, path, tree in _trees(package):
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                source = import_source(name, path, node)
                found += [f"{name}: {alias.name}" for alias in node.names
                          if source.split(".")[0] == package.name and alias.name.startswith("_")
                          and alias.name != "__version__" and f"{source}.{alias.name}" not in known]
    return sorted(found)


def package_lines(package: Path = PACKAGE) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in package.rglob("*.py"))


def wandb_importers(package: Path = PACKAGE) -> list[str]:
    """The modules that import ``wandb`` (anywhere in the module, functions included)."""
    return sorted(name for name, _, tree in _trees(package) if any(
        (isinstance(node, ast.Import) and any(a.name.split(".")[0] == "wandb" for a in node.names))
        or (isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] == "wandb")
        for node in ast.walk(tree)))


def settings_parameters(package: Path = PACKAGE) -> list[str]:
    """``module.function(parameter)`` for every parameter named like a process-wide setting."""
    found = []
    for name, _, tree in _trees(package):
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                a = node.args
                params = [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, [a.vararg, a.kwarg])]
                found += [f"{name}.{getattr(node, 'name', 'lambda')}({p.arg})" for p in params if p.arg in SETTINGS]
    return sorted(found)


# --------------------------------------------------------------------------- the checks on audiolab


def test_no_import_cycles_in_audiolab():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_module_imports_an_underscore_name_from_another():
    assert underscore_imports() == []


def test_the_package_is_at_most_4500_lines():
    assert package_lines() <= MAX_LINES, f"audiolab/ has {package_lines()} lines, more than {MAX_LINES}: simplify"


def test_wandb_is_imported_by_tracking_and_sweeps_only():
    assert set(wandb_importers()) <= WANDB_MODULES, wandb_importers()


def test_no_signature_takes_a_process_wide_setting():
    assert settings_parameters() == []


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


def _package(tmp_path, files: dict) -> Path:
    root = tmp_path / "audiolab"
    for name, text in {"__init__.py": "", **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_underscore_imports_are_found_and_private_modules_public_names_are_not(tmp_path):
    root = _package(tmp_path, {
        "_util.py": "def plain(): pass\ndef _hidden(): pass\n", "sub/__init__.py": "", "sub/_x.py": "",
        "a.py": "from ._util import plain\nfrom . import _util\nfrom .sub import _x\nfrom . import __version__\n",
        "b.py": "from ._util import _hidden\n", "c.py": "def f():\n    from audiolab.a import _private\n",
        "d.py": "from os import _exit\nfrom .sub._x import _thing\n",
    })
    assert underscore_imports(root) == ["audiolab.b: _hidden", "audiolab.c: _private", "audiolab.d: _thing"]


def test_lines_are_counted_like_wc(tmp_path):
    root = _package(tmp_path, {"a.py": "x = 1\n\ny = 2\n", "sub/b.py": "z = 3\n", "notes.txt": "not python\n"})
    assert package_lines(root) == 4


def test_wandb_importers_are_found_anywhere_in_a_module(tmp_path):
    root = _package(tmp_path, {"tracking.py": "import wandb\n", "a.py": "def f():\n    from wandb import Api\n",
                               "b.py": "import wandb.sdk as s\n", "c.py": "import wandbx\nfrom .wandb_names import x\n",
                               "wandb_names.py": ""})
    assert wandb_importers(root) == ["audiolab.a", "audiolab.b", "audiolab.tracking"]


def test_settings_parameters_are_found_in_every_kind_of_signature(tmp_path):
    root = _package(tmp_path, {"a.py": "def f(x, progress=True): pass\nclass C:\n    def m(self, *, workers=1): pass\n"
                                       "g = lambda wandb_mode: 0\ndef workers(): pass\ndef h(**wandb_dir): pass\n"})
    assert settings_parameters(root) == ["audiolab.a.f(progress)", "audiolab.a.h(wandb_dir)",
                                         "audiolab.a.lambda(wandb_mode)", "audiolab.a.m(workers)"]
