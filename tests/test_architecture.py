"""The package's shape (STYLE.md, "Shape of the code"; DESIGN.md, "Layout"): layers point down
only (experiments -> constructions -> theory), the import graph has no cycle, counting imports
made inside functions, no command module imports another, and no module is past 450 lines.

The graph is read from the source (ast), not by importing, so a lazy import counts as much as
one at the top of a file."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from fourier_circuits.experiments.cli import SUBCOMMANDS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "fourier_circuits"
LAYERS = {"theory": 0, "constructions": 1, "experiments": 2}
MAX_LINES = 450


def _modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> file (through fourier_circuits/'s links)."""
    found = {}
    base = ROOT / PACKAGE
    files = [
        Path(folder, name)
        for folder, _, names in os.walk(base, followlinks=True)
        for name in names
        if name.endswith(".py")
    ]
    for path in sorted(files):
        parts = path.relative_to(base).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join((PACKAGE, *parts))] = path
    return found


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The package modules `name` imports anywhere in its file (absolute and relative)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            targets.add(module)
            targets |= {f"{module}.{alias.name}" for alias in node.names}
    # keep the package's own modules, each import resolved to the module it names
    return {t for t in targets if t in MODULES and t != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}
# the command line imports each subcommand's module by name (importlib) when it is parsed
GRAPH[f"{PACKAGE}.experiments.cli"] |= {
    f"{PACKAGE}.experiments.{module}" for module, _ in SUBCOMMANDS.values()
}


def _layer(name: str) -> int | None:
    parts = name.split(".")
    return LAYERS.get(parts[1]) if len(parts) > 1 else None


def test_the_graph_was_read() -> None:
    """Negative control for the tests below: the reader finds the package's real imports."""
    assert "fourier_circuits.theory.network" in GRAPH["fourier_circuits.theory.summary"]
    assert (
        "fourier_circuits.constructions.convex.bracket"
        in GRAPH["fourier_circuits.experiments.verify.convex"]
    )
    assert len(MODULES) > 60


def _upward() -> list[tuple[str, str]]:
    return [
        (src, dst)
        for src, targets in GRAPH.items()
        for dst in targets
        if (a := _layer(src)) is not None and (b := _layer(dst)) is not None and b > a
    ]


def test_layers_point_down_only() -> None:
    assert _upward() == []


def test_an_upward_import_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: theory importing the training code would be an upward arrow."""
    task, trained = f"{PACKAGE}.theory.task", f"{PACKAGE}.constructions.trained"
    monkeypatch.setitem(GRAPH, task, GRAPH[task] | {trained})
    assert _upward() == [(task, trained)]


def _cycle() -> list[str] | None:
    """One import cycle among modules (a package's __init__ importing its own submodules is
    the package's face, not a cycle: edges into an __init__ from its own submodules are kept,
    edges from an __init__ to its submodules are not)."""
    edges = {
        src: {dst for dst in targets if not dst.startswith(src + ".")}
        for src, targets in GRAPH.items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_the_import_graph_has_no_cycle() -> None:
    assert _cycle() is None


def test_the_cycle_finder_finds_a_cycle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: an import of cli from verify's runner would close a cycle (cli ->
    cmd_verify -> verify.* -> runner), as it did before verify called typed functions."""
    runner = "fourier_circuits.experiments.verify.runner"
    monkeypatch.setitem(GRAPH, runner, GRAPH[runner] | {"fourier_circuits.experiments.cli"})
    cycle = _cycle()
    assert cycle is not None and runner in cycle


def test_no_command_module_imports_another() -> None:
    commands = {name for name in MODULES if name.split(".")[-1].startswith("cmd_")}
    assert len(commands) >= 8
    crossing = [(src, dst) for src in commands for dst in GRAPH[src] if dst in commands]
    assert crossing == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines (split it: one concept per module)"
