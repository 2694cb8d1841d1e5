"""Imports point downward only: the layering of STYLE.md, enforced on every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "polyarch"

#: Layer of each module (a package name covers its submodules).
LAYERS: dict[str, int] = {
    # L0: the pure model, stdlib only, no I/O
    "polyarch": 0,
    "polyarch.errors": 0,
    "polyarch.digest": 0,
    "polyarch.mediatype": 0,
    "polyarch.reference": 0,
    "polyarch.platform": 0,
    "polyarch.models": 0,
    "polyarch.location": 0,
    "polyarch.gojson": 0,
    "polyarch.index": 0,
    # L1: the only code that reads the host
    "polyarch.host": 1,
    "polyarch.home": 1,
    "polyarch.auth": 1,
    "polyarch.atomic": 1,
    # L2: storage
    "polyarch.store": 2,
    "polyarch.registry": 2,
    "polyarch.layout": 2,
    "polyarch.archive": 2,
    # L3: operations
    "polyarch.stores": 3,
    "polyarch.resolve": 3,
    "polyarch.copy": 3,
    "polyarch.lists": 3,
    "polyarch.describe": 3,
    # L4: presentation
    "polyarch.cli": 4,
}

#: Deliberate exceptions, each with its reason.
ALLOWED = {
    # Platform.parse fills in host values only when the caller passed no host (as
    # packaging's tags do); the import is inside that branch.
    ("polyarch.platform", "polyarch.host"),
}

#: Third-party packages and the only layers that may import them.
THIRD_PARTY = {
    "urllib3": {"polyarch.registry._http", "polyarch.registry._pools", "polyarch.registry._url"},
    "click": {4},
    "rich": {4},
    "yaml": {3, 4},
}

# The package __init__ re-exports lazily (module __getattr__), so it is checked for its
# eager imports only.
LAZY_REEXPORTS = {"polyarch"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int | None:
    best = None
    for prefix, layer in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and (
            best is None or len(prefix) > len(best[0])
        ):
            best = (prefix, layer)
    return None if best is None else best[1]


def imports(path: Path, *, eager_only: bool) -> list[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if eager_only else list(ast.walk(tree))
    found: list[str] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            found.extend(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if (SRC.parent / node.module.replace(".", "/") / alias.name).exists()
                or (SRC.parent / node.module.replace(".", "/") / f"{alias.name}.py").exists()
            )
        elif isinstance(node, ast.If) and eager_only:
            continue  # TYPE_CHECKING blocks: annotations only
    return found


MODULES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_downward(path: Path) -> None:
    name = module_name(path)
    own = layer_of(name)
    assert own is not None, f"{name} has no layer in LAYERS"
    for imported in imports(path, eager_only=name in LAZY_REEXPORTS):
        if imported.startswith("polyarch"):
            target = layer_of(imported)
            assert target is not None, f"{imported} has no layer"
            assert target <= own or (name, imported) in ALLOWED, (
                f"{name} (L{own}) imports {imported} (L{target})"
            )
        top = imported.split(".")[0]
        if top in THIRD_PARTY:
            allowed = THIRD_PARTY[top]
            assert own in allowed or name in allowed, f"{name} (L{own}) imports {top}"
