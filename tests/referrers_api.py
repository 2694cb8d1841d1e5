"""The OCI 1.1 referrers API in front of a registry that lacks it, for tests.

CNCF distribution 2.8 (the Debian package the suite runs) has no referrers API: it
answers ``GET /v2/NAME/referrers/DIGEST`` with 404, the answer the spec keeps for "use the
referrers tag". Registries that have it (Harbor, zot, ACR, ECR...) are not on this
machine, so the API is played here, as the spec describes it, on a
:class:`~tests.fault_proxy.FaultProxy` in front of the real registry::

    with FaultProxy(registry.url) as proxy:
        api = ReferrersAPI(proxy, page_size=2)   # answers are pages of 2, Link to the next
        ...                                       # a client talks to proxy.host

- A manifest put with a ``subject`` is stored by the registry as usual; the answer gets
  ``OCI-Subject: <subject digest>`` and the manifest is listed under its subject.
- ``GET /v2/NAME/referrers/DIGEST[?artifactType=T]`` answers an OCI index of what is
  listed (each entry: mediaType, digest, size, artifactType, annotations), filtered with
  ``OCI-Filters-Applied``, paged when ``page_size`` is set.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import urllib.parse
from typing import Any

from tests.fault_proxy import Fault, FaultProxy, Reply, _Exchange

__all__ = ["ReferrersAPI"]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
_LIST = re.compile(r"^/v2/(?P<name>.+)/referrers/(?P<digest>[a-z0-9]+:[a-f0-9]+)$")
_PUT = re.compile(r"^/v2/(?P<name>.+)/manifests/[^/]+$")


class ReferrersAPI:
    """The API's state: each repository's referrers, by subject, in the order put."""

    def __init__(self, proxy: FaultProxy, *, page_size: int | None = None) -> None:
        self.page_size = page_size
        #: Every page links back to the first: a listing without end.
        self.loop = False
        #: What ``OCI-Subject`` says instead of the subject's digest (a registry's bug).
        self.claimed_subject: str | None = None
        self.listed: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self.extra_entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        proxy.add(_Listing(self), method="GET", path=r"^/v2/.+/referrers/")
        proxy.add(_SubjectIndexing(self), method="PUT", path=r"^/v2/.+/manifests/")

    def entries(self, name: str, subject: str) -> list[dict[str, Any]]:
        with self._lock:
            return [*self.listed.get((name, subject), {}).values(), *self.extra_entries]

    def record(self, name: str, body: bytes, content_type: str | None) -> str | None:
        """List the manifest ``body`` under its subject; the subject's digest, if any."""
        try:
            document = json.loads(body)
        except ValueError:
            return None
        subject = document.get("subject") if isinstance(document, dict) else None
        if not isinstance(subject, dict) or not isinstance(subject.get("digest"), str):
            return None
        config = document.get("config") or {}
        entry: dict[str, Any] = {
            "mediaType": document.get("mediaType") or content_type,
            "digest": "sha256:" + hashlib.sha256(body).hexdigest(),
            "size": len(body),
        }
        if document.get("annotations"):
            entry["annotations"] = document["annotations"]
        artifact_type = document.get("artifactType") or config.get("mediaType")
        if artifact_type:
            entry["artifactType"] = artifact_type
        with self._lock:
            self.listed.setdefault((name, subject["digest"]), {})[entry["digest"]] = entry
        return str(subject["digest"])


class _SubjectIndexing(Fault):
    """A manifest the registry took: listed under its subject, said with OCI-Subject."""

    phase = "after"
    name = "referrers-api-put"

    def __init__(self, api: ReferrersAPI) -> None:
        self.api = api

    def serve(self, exchange: _Exchange) -> None:
        upstream = exchange.upstream
        assert upstream is not None
        match = _PUT.match(upstream.target.partition("?")[0])
        headers = list(upstream.headers)
        if match is not None:
            content_type = exchange.handler.headers.get("Content-Type")
            subject = self.api.record(match["name"], exchange.body, content_type)
            if subject is not None:
                headers.append(("OCI-Subject", self.api.claimed_subject or subject))
        exchange.send(Reply(upstream.status, headers, upstream.body))


class _Listing(Fault):
    """``GET /v2/NAME/referrers/DIGEST``, answered here (the registry would say 404)."""

    name = "referrers-api-list"

    def __init__(self, api: ReferrersAPI) -> None:
        self.api = api

    def serve(self, exchange: _Exchange) -> None:
        path, _, query = exchange.handler.path.partition("?")
        match = _LIST.match(path)
        if match is None:
            exchange.send(Reply(400, [("Content-Type", "application/json")], b"{}"))
            return
        params = urllib.parse.parse_qs(query)
        entries = self.api.entries(match["name"], match["digest"])
        headers = [("Content-Type", OCI_INDEX)]
        wanted = params.get("artifactType")
        if wanted:
            entries = [e for e in entries if e.get("artifactType") == wanted[0]]
            headers.append(("OCI-Filters-Applied", "artifactType"))
        start = int(params.get("page", ["0"])[0])
        if self.api.page_size is not None:
            end = start + self.api.page_size
            if self.api.loop:
                headers.append(("Link", f'<{path}?page=0>; rel="next"'))
            elif end < len(entries):
                headers.append(("Link", f'<{path}?page={end}>; rel="next"'))
            entries = entries[start:end]
        body = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        ).encode()
        exchange.send(Reply(200, headers, body))
