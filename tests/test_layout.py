"""The package's folders are the steps of the data flow, and imports only ever point down them.

Read from the source, not from a running interpreter: every ``import`` and ``from ... import``
in every module of ``sim/``, at module level or inside a function, is an edge.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "sim"

STEPS = ["errors", "scenario", "model", "study", "analysis", "calibration", "figures", "cli"]
"""The steps, lowest first: a module may import from its own step and the steps before it.
``sim/errors.py`` holds the exceptions every step may raise; the top-level modules
(``sim/__init__.py``, ``compare.py``, ``plots.py``, ``__main__.py``) are the public API above all."""

API = {"sim", "sim.compare", "sim.plots", "sim.__main__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The sim modules ``path`` imports (``from sim.x import y`` counts ``sim.x.y`` when that is
    a module of its own, else ``sim.x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "sim"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "sim":
                continue
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in MODULES else node.module)
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def step_of(module: str) -> int:
    if module in API:
        return len(STEPS)
    return STEPS.index(module.split(".")[1])


def test_every_module_belongs_to_a_step_or_the_public_api():
    assert all(m in API or m.split(".")[1] in STEPS for m in MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_from_a_higher_step(module):
    higher = sorted(i for i in GRAPH[module] if step_of(i) > step_of(module))
    assert not higher, f"{module} ({STEPS[step_of(module)]}) imports {higher} from a higher step"


def test_no_import_circles():
    """Depth-first search for a path that returns to where it began."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            raise AssertionError(
                "import circle: " + " -> ".join([*path[path.index(module) :], module])
            )
        if module in done:
            return
        for target in sorted(GRAPH.get(module, ())):
            visit(target, [*path, module])
        done.add(module)

    for module in sorted(GRAPH):
        visit(module, [])


def test_every_import_names_a_module_that_exists():
    """A renamed module whose old name lingers in an import is caught here, not at run time."""
    missing = {(m, i) for m, targets in GRAPH.items() for i in targets if i not in MODULES}
    assert not missing


@pytest.mark.parametrize("path", sorted(MODULES.values()), ids=str)
def test_no_module_is_over_about_four_hundred_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 420


def test_each_step_says_what_it_takes_in_and_hands_on():
    for step in STEPS[1:]:
        doc = ast.get_docstring(ast.parse((PACKAGE / step / "__init__.py").read_text()))
        assert doc and len(doc.split()) >= 30, step
