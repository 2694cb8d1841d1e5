"""polyarch: container image manifests and multi-architecture manifest lists, no daemon.

Every name is imported on first use (module ``__getattr__``): the pure core (references,
digests, platforms, manifest models, errors), the storage backends, which pull in the HTTP
client, and the operations (:func:`open_store`, :func:`open_target`,
:func:`resolve_platform`, :func:`copy`, :func:`pull`, :func:`build_list`,
:func:`push_list`, :func:`push_spec`, :func:`add_entries`, :func:`remove_entries`,
:func:`annotate_index`, :func:`delete`, :func:`referrers_of`, :func:`lint`,
:func:`verify`, :func:`diff`, :func:`explain`, :func:`plan_copy`). ``import polyarch``
loads nothing else, so ``polyarch --help``, which needs only :data:`__version__`, does
not pay the ~10 ms of the core.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from polyarch._version import __version__

if TYPE_CHECKING:
    from polyarch import platform
    from polyarch.cache import Cache
    from polyarch.digest import Digest
    from polyarch.errors import (
        AuthError,
        ContentError,
        InvalidInputError,
        InvalidPlatformError,
        InvalidReferenceError,
        NotFoundError,
        PolyarchError,
        RegistryError,
    )
    from polyarch.layout import LayoutStore
    from polyarch.models import Descriptor, ImageConfig, ImageIndex, ImageManifest, parse_manifest
    from polyarch.ops.copy import CopyProgress, CopyResult
    from polyarch.ops.delete import Deleted, delete
    from polyarch.ops.edit import Edited, Selector, add_entries, annotate_index, remove_entries
    from polyarch.ops.images import (
        Resolved,
        build_list,
        copy,
        diff,
        explain,
        lint,
        plan_copy,
        pull,
        push_list,
        push_spec,
        referrers_of,
        resolve_platform,
        verify,
    )
    from polyarch.ops.lists import PushResult
    from polyarch.ops.pending import PendingList
    from polyarch.ops.referrers import Referrer, Subject
    from polyarch.ops.resolve import Choice
    from polyarch.ops.spec import ListSpec, from_template, parse_spec
    from polyarch.ops.sync import parse_sync, sync
    from polyarch.platform import Platform
    from polyarch.reference import Reference
    from polyarch.registry import Registries, RegistryOptions, RegistryStore
    from polyarch.schemes import Target, open_store, open_target
    from polyarch.store import Store

__all__ = [
    "AuthError",
    "Cache",
    "Choice",
    "ContentError",
    "CopyProgress",
    "CopyResult",
    "Deleted",
    "Descriptor",
    "Digest",
    "Edited",
    "ImageConfig",
    "ImageIndex",
    "ImageManifest",
    "InvalidInputError",
    "InvalidPlatformError",
    "InvalidReferenceError",
    "LayoutStore",
    "ListSpec",
    "NotFoundError",
    "PendingList",
    "Platform",
    "PolyarchError",
    "PushResult",
    "Reference",
    "Referrer",
    "Registries",
    "RegistryError",
    "RegistryOptions",
    "RegistryStore",
    "Resolved",
    "Selector",
    "Store",
    "Subject",
    "Target",
    "__version__",
    "add_entries",
    "annotate_index",
    "build_list",
    "copy",
    "delete",
    "diff",
    "explain",
    "from_template",
    "lint",
    "open_store",
    "open_target",
    "parse_manifest",
    "parse_spec",
    "parse_sync",
    "plan_copy",
    "platform",
    "pull",
    "push_list",
    "push_spec",
    "referrers_of",
    "remove_entries",
    "resolve_platform",
    "sync",
    "verify",
]

#: Where each name lives. The core modules are attributes too, loaded on first use as
#: well: ``import polyarch`` then ``polyarch.reference.parse_docker_ref(...)`` works.
_LAZY = {
    "AuthError": "polyarch.errors",
    "Cache": "polyarch.cache",
    "Choice": "polyarch.ops.resolve",
    "ContentError": "polyarch.errors",
    "CopyProgress": "polyarch.ops.copy",
    "CopyResult": "polyarch.ops.copy",
    "Deleted": "polyarch.ops.delete",
    "Edited": "polyarch.ops.edit",
    "Descriptor": "polyarch.models",
    "Digest": "polyarch.digest",
    "ImageConfig": "polyarch.models",
    "ImageIndex": "polyarch.models",
    "ImageManifest": "polyarch.models",
    "InvalidInputError": "polyarch.errors",
    "InvalidPlatformError": "polyarch.errors",
    "InvalidReferenceError": "polyarch.errors",
    "LayoutStore": "polyarch.layout",
    "ListSpec": "polyarch.ops.spec",
    "NotFoundError": "polyarch.errors",
    "PendingList": "polyarch.ops.pending",
    "Platform": "polyarch.platform",
    "PolyarchError": "polyarch.errors",
    "PushResult": "polyarch.ops.lists",
    "Reference": "polyarch.reference",
    "Referrer": "polyarch.ops.referrers",
    "Registries": "polyarch.registry",
    "RegistryError": "polyarch.errors",
    "RegistryOptions": "polyarch.registry",
    "RegistryStore": "polyarch.registry",
    "Resolved": "polyarch.ops.images",
    "Selector": "polyarch.ops.edit",
    "Store": "polyarch.store",
    "Subject": "polyarch.ops.referrers",
    "Target": "polyarch.schemes",
    "add_entries": "polyarch.ops.edit",
    "annotate_index": "polyarch.ops.edit",
    "build_list": "polyarch.ops.images",
    "copy": "polyarch.ops.images",
    "delete": "polyarch.ops.delete",
    "diff": "polyarch.ops.images",
    "explain": "polyarch.ops.images",
    "lint": "polyarch.ops.images",
    "plan_copy": "polyarch.ops.images",
    "verify": "polyarch.ops.images",
    "sync": "polyarch.ops.sync",
    "from_template": "polyarch.ops.spec",
    "open_store": "polyarch.schemes",
    "open_target": "polyarch.schemes",
    "parse_manifest": "polyarch.models",
    "parse_spec": "polyarch.ops.spec",
    "parse_sync": "polyarch.ops.sync",
    "pull": "polyarch.ops.images",
    "push_list": "polyarch.ops.images",
    "push_spec": "polyarch.ops.images",
    "referrers_of": "polyarch.ops.images",
    "remove_entries": "polyarch.ops.edit",
    "resolve_platform": "polyarch.ops.images",
}
_CORE_MODULES = frozenset({"digest", "errors", "mediatype", "models", "platform", "reference"})


def __getattr__(name: str) -> Any:
    if name in _CORE_MODULES:
        # Importing a submodule also sets it as an attribute of the package.
        return importlib.import_module(f"{__name__}.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'polyarch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_CORE_MODULES})
