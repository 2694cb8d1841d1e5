"""Registries over the distribution API v2: the client, its auth and the repository store.

:class:`Registries` and :class:`RegistryOptions` are cheap; the client and the store,
which load the HTTP stack, are imported on first use.
"""

from __future__ import annotations

import importlib
import threading
from typing import TYPE_CHECKING, Any

from polyarch.registry.options import RegistryOptions

if TYPE_CHECKING:
    from polyarch.cache import Cache
    from polyarch.reference import Reference
    from polyarch.registry._foreign import UrlBlobs
    from polyarch.registry._url import is_loopback
    from polyarch.registry.client import RegistryClient
    from polyarch.registry.store import RegistryStore

__all__ = [
    "Registries",
    "RegistryClient",
    "RegistryOptions",
    "RegistryStore",
    "UrlBlobs",
    "is_loopback",
]

_LAZY = {
    "RegistryClient": "polyarch.registry.client",
    "is_loopback": "polyarch.registry._url",
    "RegistryStore": "polyarch.registry.store",
    "UrlBlobs": "polyarch.registry._foreign",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'polyarch.registry' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


class Registries:
    """One client per registry host for a whole run, so connections and tokens are shared
    and blobs can be mounted between repositories of the same registry."""

    def __init__(
        self,
        options: RegistryOptions | None = None,
        *,
        cache: Cache | None = None,
        max_requests: int | None = None,
    ) -> None:
        from polyarch.registry._meter import RequestMeter

        self.options = options or RegistryOptions()
        #: Shared by every client: what one registry's answers taught, by digest.
        self.cache = cache
        #: Every request of the run, to any registry (``max_requests`` bounds them).
        self.meter = RequestMeter(max_requests)
        self._clients: dict[str, RegistryClient] = {}
        self._urls: UrlBlobs | None = None
        self._lock = threading.Lock()

    def client(self, registry: str) -> RegistryClient:
        from polyarch.registry.client import RegistryClient

        with self._lock:
            client = self._clients.get(registry)
            if client is None:
                client = RegistryClient(
                    registry, options=self.options, cache=self.cache, meter=self.meter
                )
                self._clients[registry] = client
            return client

    def store(self, reference: Reference) -> RegistryStore:
        from polyarch.registry.store import RegistryStore

        client = self.client(reference.registry)
        return RegistryStore(client, reference.repository)

    def urls(self) -> UrlBlobs:
        """Where non-distributable layers come from when a registry lacks them: the URLs
        their descriptors name, reached with these options but none of a registry's
        credentials."""
        from polyarch.registry._foreign import UrlBlobs

        with self._lock:
            if self._urls is None:
                self._urls = UrlBlobs(self.options)
            return self._urls

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
            if self._urls is not None:
                self._urls.close()
                self._urls = None

    def __enter__(self) -> Registries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
