"""YAML files read as Go's yaml reads them where the two could differ: a key given twice
is an error (PyYAML keeps the last), and so is a key the format does not have (a typo
must not be a silently missing setting), each named with the file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polyarch.errors import InvalidInputError

__all__ = ["MAX_NODES", "load_yaml", "mapping_of", "string_of"]

#: The most nodes (scalars, lists, mappings, each alias's expansion counted) a file holds.
MAX_NODES = 100_000


def load_yaml(text: str, *, where: str) -> object:
    """The document in ``text``.

    :raises InvalidInputError: not YAML, or a key given twice; ``where`` names the file.
    """
    import yaml  # only a file that needs it pays for it (~15 ms)

    class _Strict(yaml.SafeLoader):
        """SafeLoader refusing a key twice (PyYAML keeps the last; Go's yaml.v3 refuses),
        a key that is a list or a mapping, and more than :data:`MAX_NODES` nodes however
        they come (aliases make a few lines a billion nodes)."""

        nodes = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self.nodes += 1
            if self.nodes > MAX_NODES:
                raise InvalidInputError(f"{where} holds more than {MAX_NODES} YAML nodes")
            return super().compose_node(parent, index)

    def mapping(loader: _Strict, node: yaml.MappingNode) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:  # its own keys: a merged one (<<) may be overridden
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node)
            if isinstance(key, list | dict):
                raise InvalidInputError(f"{where}: a key is a {type(key).__name__}, not a name")
            if key in seen:
                raise InvalidInputError(f"{where}: the key {str(key)[:60]!r} is given twice")
            seen.add(key)
        loader.flatten_mapping(node)
        return dict(loader.construct_pairs(node))

    _Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    try:
        return yaml.load(text, Loader=_Strict)
    except (TypeError, RecursionError):
        # A key PyYAML could not hash inside a merge, or nesting past Python's stack.
        raise InvalidInputError(f"{where} is YAML no sync or spec file can be") from None
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or "unreadable"
        mark = getattr(err, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise InvalidInputError(f"{where} is not valid YAML: {problem}{at}") from None


def mapping_of(value: object, where: str, what: str, keys: frozenset[str]) -> Mapping[str, Any]:
    """``value`` as a mapping with no key but ``keys``.

    :raises InvalidInputError: not a mapping, or a key it may not have (named).
    """
    if not isinstance(value, dict):
        raise InvalidInputError(f"{where}: {what} must be a mapping")
    unknown = sorted(str(key) for key in value if key not in keys)
    if unknown:
        raise InvalidInputError(
            f"{where}: {what} has the unknown key {unknown[0]!r}",
            hint=f"its keys are {', '.join(sorted(keys))}",
        )
    return value


def string_of(value: object, where: str, what: str) -> str:
    """``value`` as a non-empty string.

    :raises InvalidInputError: anything else.
    """
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{where}: {what} must be a non-empty string")
    return value
