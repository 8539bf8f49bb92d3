"""The house's rules: layers only import downwards, nothing imports in a circle, the liquid core
stands alone.

Every import counts, including those inside functions (a lazy import is still an arrow).
The order (docs/layout.md):
``envs < navlnn.liquid < navlnn.policies < navlnn.data < navlnn.rollout < navlnn.training,
navlnn.evaluation < navlnn.analysis < navlnn.study < navlnn.commands``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# rank of each room; a module may import rooms of lower rank, its own room, and the base
LAYERS = {
    "envs": 0,
    "navlnn.liquid": 1,
    "navlnn.policies": 2,
    "navlnn.data": 3,
    "navlnn.rollout": 4,
    "navlnn.training": 5,
    "navlnn.evaluation": 5,
    "navlnn.analysis": 6,
    "navlnn.study": 7,
    "navlnn.commands": 8,
    "navlnn.cli": 9,  # the entry point: dispatches to the commands
}
BASE = {"navlnn", "navlnn.constants", "navlnn.runtime", "navlnn.reproducibility", "navlnn.tracking"}
# Names of the previous layout kept for one release: each is the new module under its old name, so it
# points wherever that module now lives. Remove them with the next release.
DEPRECATED_ALIASES = {"navlnn.nn", "navlnn.settings", "navlnn.data.collect", "navlnn.evaluation.evaluate",
                      "navlnn.evaluation.stress"}


def _modules() -> dict[str, Path]:
    found = {}
    for top in ("navlnn", "envs"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The longest known module that ``name`` is or lies in (``pkg.mod.attr`` -> ``pkg.mod``)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str) -> set[str]:
    """Every project module ``module`` imports, at any depth of its code."""
    tree = ast.parse(MODULES[module].read_text())
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] if base else []
        else:
            continue
        targets.update(t for t in map(_resolve, names) if t is not None and t != module)
    return targets


GRAPH = {module: _imports(module) for module in MODULES}


def _room(module: str) -> str:
    if module in BASE:
        return "base"
    if any(module == old or module.startswith(old + ".") for old in DEPRECATED_ALIASES):
        return "deprecated"
    for room in sorted(LAYERS, key=len, reverse=True):
        if module == room or module.startswith(room + "."):
            return room
    raise AssertionError(f"{module} lies in no room of the layout; add it to LAYERS (and docs/layout.md)")


def test_every_module_lies_in_a_room():
    for module in MODULES:
        _room(module)


def test_no_import_points_up():
    upward = []
    for module, targets in GRAPH.items():
        room = _room(module)
        for target in targets:
            other = _room(target)
            if room == "deprecated":
                ok = True
            elif other == "deprecated":
                ok = False   # new code names the new places
            elif room == "base":
                ok = other == "base"
            elif room == "envs":
                ok = other == "envs"
            elif room == "navlnn.liquid":
                ok = other == "navlnn.liquid"
            elif other == "base":
                ok = True
            else:
                ok = other == room or LAYERS[other] < LAYERS[room]
            if not ok:
                upward.append(f"{module} ({room}) imports {target} ({other})")
    assert not upward, "imports that point up or sideways:\n" + "\n".join(sorted(upward))


def test_the_layout_page_names_every_room():
    page = (ROOT / "docs" / "layout.md").read_text()
    missing = [room for room in LAYERS if room != "navlnn.cli" and f"`{room.replace('.', '/')}/`" not in page]
    assert not missing, f"docs/layout.md does not describe the rooms {missing}"


def test_no_import_circle():
    state: dict[str, int] = {}
    stack: list[str] = []
    circles: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                circles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_the_walk_sees_imports_inside_functions(tmp_path):
    # the rule above would be toothless if lazy imports were missed
    assert "navlnn.policies.checkpoint" in GRAPH["navlnn.commands.export"]
    lazy = [m for m, path in MODULES.items() if "    from navlnn." in path.read_text() or "    import navlnn" in path.read_text()]
    assert lazy, "no module with an indented import found; the walk's test lost its subject"
    for module in lazy:
        assert GRAPH[module], f"{module} has indented navlnn imports the walk did not see"


@pytest.mark.timeout(120)
def test_the_liquid_core_imports_with_the_rest_of_navlnn_blocked():
    script = """
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "envs" or name.startswith("envs.") or (
                name.startswith("navlnn.") and not name.startswith("navlnn.liquid")):
            raise ImportError(f"blocked: {name}")
        return None

sys.meta_path.insert(0, Block())
import torch
import navlnn.liquid as liquid
from navlnn.liquid import export, wiring_plot, convert, kernels
wiring = liquid.AutoNCP(12, 3)
model = liquid.CfC(5, wiring)
y, h = model(torch.zeros(2, 4, 5))
cell = liquid.LTCCell(liquid.AutoNCP(10, 2), 5)
loaded = sorted(m for m in sys.modules if m.startswith(("navlnn", "envs")))
assert all(m == "navlnn" or m.startswith("navlnn.liquid") for m in loaded), loaded
print("ok", tuple(y.shape), len(loaded))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("ok (2, 4, 3)")


MAX_FUNCTION_LINES = 80


def test_no_function_is_over_80_lines():
    long = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{module}.{node.name}: {lines} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (split them into their steps):\n" + "\n".join(long)
