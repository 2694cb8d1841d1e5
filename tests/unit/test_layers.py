"""The house of STYLE.md, enforced on every module: imports point downward only, the
third-party packages stay in the layers made for them, and no import makes a cycle.

Imports under ``if TYPE_CHECKING:`` are annotations, not imports, and are left out; an
import inside a function (on first use, for start-up) is one like any other.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "polyarch"

#: Layer of each module (a package name covers its submodules).
LAYERS: dict[str, int] = {
    # L0: the pure model, stdlib only, no I/O
    "polyarch": 0,
    "polyarch._version": 0,
    "polyarch.errors": 0,
    "polyarch.digest": 0,
    "polyarch.mediatype": 0,
    "polyarch.reference": 0,
    "polyarch.platform": 0,
    "polyarch.jsonread": 0,
    "polyarch.documents": 0,
    "polyarch.models": 0,
    "polyarch.location": 0,
    "polyarch.gojson": 0,
    "polyarch.index": 0,
    "polyarch.referrers": 0,
    "polyarch.selection": 0,
    # L1: the only code that reads the host
    "polyarch.host": 1,
    "polyarch.home": 1,
    "polyarch.auth": 1,
    "polyarch.atomic": 1,
    "polyarch.cache": 1,
    # L2: storage: the protocol, its backends, the table of them
    "polyarch.store": 2,
    "polyarch.registry": 2,
    "polyarch.layout": 2,
    "polyarch.archive": 2,
    "polyarch.schemes": 2,
    # L3: operations
    "polyarch.ops": 3,
    # L4: presentation
    "polyarch.cli": 4,
}

#: Third-party packages and the only modules or layers that may import them.
THIRD_PARTY: dict[str, set[str | int]] = {
    "urllib3": {"polyarch.registry._http", "polyarch.registry._pools", "polyarch.registry._url"},
    "click": {4},
    "rich": {4},
    "yaml": {3, 4},
    "re2": {"polyarch.ops._patterns"},
}

# The package face re-exports lazily (module __getattr__ over a table of names): only its
# eager imports are imports.
LAZY_REEXPORTS = {"polyarch"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    best = None
    for prefix, layer in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best[0])
        ):
            best = (prefix, layer)
    return None if best is None else best[1]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST, *, eager_only: bool) -> Iterator[ast.AST]:
    """The statements that run: ``if TYPE_CHECKING`` bodies left out, and with
    ``eager_only`` function bodies too."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (
                n
                for part in node.orelse
                for n in [part, *_runtime_nodes(part, eager_only=eager_only)]
            )
            continue
        if eager_only and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        yield node
        yield from _runtime_nodes(node, eager_only=eager_only)


def imports(path: Path, *, eager_only: bool = False) -> list[str]:
    """Every module ``path`` imports when it runs (a ``from`` import of a submodule names
    the submodule)."""
    found: list[str] = []
    for node in _runtime_nodes(ast.parse(path.read_text()), eager_only=eager_only):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = [
                f"{node.module}.{a.name}"
                for a in node.names
                if f"{node.module}.{a.name}" in MODULES
            ]
            found.extend(subs or [node.module])
    return found


def graph() -> dict[str, set[str]]:
    return {
        name: {i for i in imports(path, eager_only=name in LAZY_REEXPORTS) if i in MODULES}
        for name, path in MODULES.items()
    }


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_downward(name: str) -> None:
    own = layer_of(name)
    assert own is not None, f"{name} has no layer in LAYERS"
    for imported in imports(MODULES[name], eager_only=name in LAZY_REEXPORTS):
        if imported.startswith("polyarch"):
            target = layer_of(imported)
            assert target is not None, f"{imported} has no layer"
            assert target <= own, f"{name} (L{own}) imports {imported} (L{target})"
        top = imported.split(".")[0]
        if top in THIRD_PARTY:
            allowed = THIRD_PARTY[top]
            assert own in allowed or name in allowed, f"{name} (L{own}) imports {top}"


def test_no_import_makes_a_cycle() -> None:
    edges = graph()
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> None:
        if module in path:
            cycle = [*path[path.index(module) :], module]
            pytest.fail("an import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        path.append(module)
        for imported in sorted(edges[module]):
            visit(imported)
        path.pop()
        done.add(module)

    for module in sorted(edges):
        visit(module)


def test_the_checks_see_what_they_check() -> None:
    """The graph is not empty by accident: known edges are there, annotations are not."""
    edges = graph()
    assert "polyarch.registry._http" in edges["polyarch.registry.client"]
    assert "polyarch.layout" in edges["polyarch.schemes"]  # inside a function: counted
    assert "polyarch.registry._tokens" not in edges["polyarch.registry._http"]  # annotation


TESTS = SRC.parents[1] / "tests"


@pytest.mark.parametrize(
    "path", sorted(TESTS.rglob("test_*.py")), ids=lambda p: str(p.relative_to(TESTS))
)
def test_no_test_module_imports_another(path: Path) -> None:
    """Shared helpers live in helper modules (``tests/clirun.py``, ``tests/content.py``,
    ...), never in a test module another one imports: that would run its tests twice and
    tie the two together."""
    for imported in imports(path):
        last = imported.rsplit(".", 1)[-1]
        assert not (imported.startswith("tests.") and last.startswith("test_")), (
            f"{path.name} imports {imported}"
        )
