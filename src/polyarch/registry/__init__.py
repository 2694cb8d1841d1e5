"""Registries over the distribution API v2: the client, its auth and the repository store."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from polyarch.registry.client import RegistryClient, RegistryOptions, is_loopback
from polyarch.registry.store import RegistryStore

if TYPE_CHECKING:
    from polyarch.reference import Reference

__all__ = ["Registries", "RegistryClient", "RegistryOptions", "RegistryStore", "is_loopback"]


class Registries:
    """One client per registry host for a whole run, so connections and tokens are shared
    and blobs can be mounted between repositories of the same registry."""

    def __init__(self, options: RegistryOptions | None = None) -> None:
        self.options = options or RegistryOptions()
        self._clients: dict[str, RegistryClient] = {}
        self._lock = threading.Lock()

    def client(self, registry: str) -> RegistryClient:
        with self._lock:
            client = self._clients.get(registry)
            if client is None:
                client = RegistryClient(registry, options=self.options)
                self._clients[registry] = client
            return client

    def store(self, reference: Reference) -> RegistryStore:
        client = self.client(reference.registry)
        return RegistryStore(client, reference.repository)

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def __enter__(self) -> Registries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
