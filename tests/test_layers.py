"""The package's layout keeps its promises (docs/ARCHITECTURE.md).

Layers only point down: cli → export, evaluate → merge → run → extract → wire → settings/model/text,
with the version and the vocabularies at the bottom. No module imports the package root, no two
modules import each other in a circle, no module passes 600 lines, and the edges of the outside
world (the SDK's semi-private parts, aiohttp, the environment, the terminal) are touched only
where the map says.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = SRC / "sitrep"
MAX_LINES = 600

# Lowest first. A module may import modules of its own rank or lower, never higher.
RANKS: tuple[tuple[str, ...], ...] = (
    ("sitrep._version",),
    ("sitrep.model.vocab", "sitrep.model.usage"),
    ("sitrep.text",),
    ("sitrep.errors",),
    ("sitrep.settings", "sitrep.model"),
    ("sitrep.wire",),
    ("sitrep.extract",),
    ("sitrep.run",),
    ("sitrep.merge",),
    ("sitrep.export", "sitrep.evaluate", "sitrep.report"),
    ("sitrep.cli", "sitrep.__main__"),
    ("sitrep.testing",),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def rank(module: str) -> int:
    """The rank of the longest prefix that names `module` or a package holding it."""
    best, best_length = -1, -1
    for level, prefixes in enumerate(RANKS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_length:
                best, best_length = level, len(prefix)
    if best < 0:
        raise AssertionError(f"{module} has no rank in RANKS: place it in the map")
    return best


def imports_of(path: Path) -> Iterator[tuple[str, int]]:
    """Every module `path` imports, anywhere in it (functions and TYPE_CHECKING included)."""
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, node.lineno
            for alias in node.names:  # `from sitrep.testing import completions` is a module
                if f"{node.module}.{alias.name}" in MODULES:
                    yield f"{node.module}.{alias.name}", node.lineno


def sitrep_imports(module: str) -> set[str]:
    return {name for name, _ in imports_of(MODULES[module]) if name.split(".")[0] == "sitrep"} - {
        module
    }


INSIDE = sorted(m for m in MODULES if m != "sitrep")


@pytest.mark.parametrize("module", INSIDE)
def test_module_imports_only_its_own_layer_or_below(module: str) -> None:
    upward = {imported for imported in sitrep_imports(module) if rank(imported) > rank(module)}
    assert upward == set(), f"{module} (rank {rank(module)}) imports higher layers"


@pytest.mark.parametrize("module", INSIDE)
def test_no_module_imports_the_package_root(module: str) -> None:
    assert "sitrep" not in sitrep_imports(module)


def test_nothing_in_the_package_imports_its_test_tooling() -> None:
    users = {m for m in INSIDE if not m.startswith("sitrep.testing")}
    assert {
        m for m in users if any(i.startswith("sitrep.testing") for i in sitrep_imports(m))
    } == set()


def test_modules_import_each_other_in_no_cycle() -> None:
    graph = {m: {i for i in sitrep_imports(m) if i in MODULES} for m in MODULES}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                cycle = [*path[path.index(imported) :], imported] if imported in path else path
                raise AssertionError(" -> ".join(cycle))
            if imported not in state:
                visit(imported, [*path, imported])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_stays_under_600_lines(module: str) -> None:
    lines = MODULES[module].read_text("utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines"


def test_no_symlink_in_the_source_tree() -> None:
    assert [p for p in SRC.rglob("*") if p.is_symlink()] == []


def _importers_of(top_level: str) -> set[str]:
    return {
        module
        for module, path in MODULES.items()
        if any(name.split(".")[0] == top_level for name, _ in imports_of(path))
    }


def test_instructor_is_imported_by_its_adapter_alone() -> None:
    assert _importers_of("instructor") == {"sitrep.extract.instructor_api"}


def test_aiohttp_is_imported_by_the_test_tooling_alone() -> None:
    assert _importers_of("aiohttp") == {"sitrep.testing.fakeserver", "sitrep.testing.batches"}


_CALLS = {"print", "input", "exit", "quit"}
_ATTRIBUTES = {
    ("os", "environ"),
    ("os", "getenv"),
    ("sys", "exit"),
    ("sys", "stdout"),
    ("sys", "stderr"),
}


def _outside_world_calls(path: Path) -> Iterator[str]:
    """Printing, exiting, and reading the environment, as written in `path`."""
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        match node:
            case ast.Call(func=ast.Name(id=name)) if name in _CALLS:
                yield f"{name}() at line {node.lineno}"
            case ast.Attribute(value=ast.Name(id=owner), attr=attr) if (owner, attr) in _ATTRIBUTES:
                yield f"{owner}.{attr} at line {node.lineno}"
    for name, line in imports_of(path):
        if name.split(".")[0] in {"click", "rich"}:
            yield f"import {name} at line {line}"


LIBRARY = sorted(
    m for m in MODULES if not m.startswith(("sitrep.cli", "sitrep.testing", "sitrep.__main__"))
)


@pytest.mark.parametrize("module", LIBRARY)
def test_library_module_never_prints_exits_or_reads_the_environment(module: str) -> None:
    assert list(_outside_world_calls(MODULES[module])) == []
