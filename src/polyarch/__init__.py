"""polyarch: container image manifests and multi-architecture manifest lists, no daemon.

The pure core (references, digests, platforms, manifest models, errors) is imported with
the package; the storage backends, which pull in the HTTP client, load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

import importlib
from typing import TYPE_CHECKING, Any

from polyarch import platform
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
from polyarch.models import Descriptor, ImageConfig, ImageIndex, ImageManifest, parse_manifest
from polyarch.platform import Platform
from polyarch.reference import Reference

if TYPE_CHECKING:
    from polyarch.layout import LayoutStore
    from polyarch.registry import Registries, RegistryOptions, RegistryStore
    from polyarch.store import Store
    from polyarch.stores import Target, open_target

__all__ = [
    "AuthError",
    "ContentError",
    "Descriptor",
    "Digest",
    "ImageConfig",
    "ImageIndex",
    "ImageManifest",
    "InvalidInputError",
    "InvalidPlatformError",
    "InvalidReferenceError",
    "LayoutStore",
    "NotFoundError",
    "Platform",
    "PolyarchError",
    "Reference",
    "Registries",
    "RegistryError",
    "RegistryOptions",
    "RegistryStore",
    "Store",
    "Target",
    "__version__",
    "open_target",
    "parse_manifest",
    "platform",
]

_LAZY = {
    "LayoutStore": "polyarch.layout",
    "Registries": "polyarch.registry",
    "RegistryOptions": "polyarch.registry",
    "RegistryStore": "polyarch.registry",
    "Store": "polyarch.store",
    "Target": "polyarch.stores",
    "open_target": "polyarch.stores",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'polyarch' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
