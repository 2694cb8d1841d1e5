"""URLs as the HTTP client connects to them, and the decisions taken on them.

Every decision about where a request goes (same origin, this machine, plain HTTP, which
proxy) is taken on the URL as urllib3 parses it (:func:`parse_url`), the object the
connection is made from: the standard library's parser reads some URLs otherwise
(``http://evil:80\\@127.0.0.1/`` is 127.0.0.1 to ``urlsplit`` and ``evil`` to urllib3).
``urlsplit`` only cuts queries off messages here (:func:`without_query`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Final, NamedTuple
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

from urllib3.exceptions import LocationParseError
from urllib3.util import Url
from urllib3.util import parse_url as _urllib3_parse_url

__all__ = [
    "BadURLError",
    "Origin",
    "Url",
    "is_loopback",
    "join_url",
    "parse_url",
    "with_params",
    "without_query",
]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


class BadURLError(ValueError):
    """A URL polyarch will not connect to: not ``http(s)://HOST...``, or not parseable.
    Its text ends a sentence: "... to 'ftp://x', which is not an http:// or https:// URL"."""


def parse_url(text: str) -> Url:
    """``text`` as urllib3 reads it to connect: scheme and host lowercased, the authority
    ending at the first ``/``, ``\\``, ``?`` or ``#``.

    :raises BadURLError: not an absolute ``http://`` or ``https://`` URL with a host.
    """
    try:
        url = _urllib3_parse_url(text)
    except LocationParseError as err:
        raise BadURLError(f"{without_query(text)[:200]!r}, which is not a valid URL") from err
    if url.scheme not in _DEFAULT_PORTS or not url.host:
        raise BadURLError(f"{without_query(text)[:200]!r}, which is not an http:// or https:// URL")
    if "%" in _host_as_written(text):
        # urllib3 before 2.8 looks such a name up as written, 2.8 decodes it first: where
        # a percent-encoded host goes depends on the version, so it goes nowhere.
        raise BadURLError(f"{without_query(text)[:200]!r}, whose host is percent-encoded")
    return url


def _host_as_written(text: str) -> str:
    """The host (and port) of ``text`` before any decoding, delimited as urllib3 delimits
    the authority; an IPv6 literal (whose zone may hold ``%25``) gives ``""``."""
    rest = text.partition("://")[2]
    ends = [i for i in (rest.find(c) for c in "/\\?#") if i >= 0]
    host = rest[: min(ends, default=len(rest))].rpartition("@")[2]
    return "" if host.startswith("[") else host


def join_url(base: str, reference: str) -> Url:
    """``reference`` (a ``Location`` or ``Link`` a server sent) resolved against the URL
    it answered, as RFC 3986 resolves a relative reference.

    :raises BadURLError: the result is not a URL polyarch connects to.
    """
    try:
        joined = urljoin(base, reference.strip())
    except ValueError:  # the standard library's own complaint ("Invalid IPv6 URL")
        raise BadURLError(f"{without_query(reference)[:200]!r}, which is not a valid URL") from None
    # What it joined is only text: the decisions are taken on urllib3's reading of it.
    return parse_url(joined)


class Origin(NamedTuple):
    """Scheme, host and port (the default one when the URL names none): who may be sent
    what a server was sent."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: Url) -> Origin:
        scheme = url.scheme or ""
        return cls(scheme, url.host or "", url.port or _DEFAULT_PORTS.get(scheme, 0))

    def __str__(self) -> str:
        default = _DEFAULT_PORTS.get(self.scheme) == self.port
        return f"{self.scheme}://{self.host}" + ("" if default else f":{self.port}")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (``name``, ``name:port``, ``[v6]`` or ``[v6]:port``, as urllib3 or
    a registry name has it) is this machine: ``localhost``, 127.0.0.0/8 or ``::1``.

    Spelled exactly: ``localhost.`` or ``127.1`` are left to a resolver, and so are not
    trusted."""
    name = host
    if name.startswith("["):
        name = name[1 : name.find("]")]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def without_query(url: str) -> str:
    """``url`` without its query and user information: what messages show (an upload
    location's query is the registry's state, a token service's may hold a scope list,
    user information is a credential)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.partition("?")[0].partition("#")[0]
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


def with_params(url: str, params: Mapping[str, str] | Sequence[tuple[str, str]]) -> str:
    """``url`` with ``params`` appended to its query, which is kept byte for byte: an upload
    location carries the registry's state there, and re-encoding it could change it."""
    if not params:
        return url
    base, _, fragment = url.partition("#")
    joined = base + ("&" if "?" in base else "?") + urlencode(params)
    return f"{joined}#{fragment}" if fragment else joined
