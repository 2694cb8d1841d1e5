"""Requests counted and rate limits read: every request a run sends (token exchanges,
redirect hops and scheme probes included), a bound on them (``--max-requests``), and
what each host's rate-limit headers last said.

The headers read are Docker Hub's (``ratelimit-limit: 100;w=21600``,
``ratelimit-remaining: 76;w=21600``), the IETF draft's older fields (``RateLimit-Limit``,
``RateLimit-Remaining``, ``RateLimit-Reset``) and its newer single field
(``RateLimit: limit=100, remaining=50, reset=30``). A value that is not a number is
ignored: the headers only inform.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from polyarch.errors import RequestLimitError

__all__ = ["RateLimit", "RequestMeter", "rate_limit_of"]

_NUMBER: Final = re.compile(r"\s*(\d{1,12})\s*(?:;\s*w\s*=\s*(\d{1,12}))?\s*(?:;[^,]*)?")
_FIELD: Final = re.compile(r"\s*(limit|remaining|reset|r|t)\s*=\s*(\d{1,12})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """What a host said of its limit: requests left of ``limit`` in a window of
    ``window`` seconds, or the seconds until it resets (each ``None`` when not said)."""

    remaining: int
    limit: int | None = None
    window: int | None = None
    reset: int | None = None

    def __str__(self) -> str:
        text = f"{self.remaining}" + (f" of {self.limit}" if self.limit is not None else "")
        text += " left"
        if self.window:  # "w=0" says no window
            text += f" per {_duration(self.window)}"
        if self.reset is not None:
            text += f", reset in {_duration(self.reset)}"
        return text


def _duration(seconds: int) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def rate_limit_of(headers: Mapping[str, str]) -> RateLimit | None:
    """The rate limit ``headers`` state, ``None`` when they state none."""
    lowered = {name.lower(): value for name, value in headers.items()}
    remaining = _number(lowered.get("ratelimit-remaining"))
    if remaining is not None:
        limit = _number(lowered.get("ratelimit-limit"))
        reset = _number(lowered.get("ratelimit-reset"))
        return RateLimit(
            remaining[0],
            None if limit is None else limit[0],
            remaining[1] if remaining[1] is not None else None if limit is None else limit[1],
            None if reset is None else reset[0],
        )
    combined = lowered.get("ratelimit")
    if combined is None:
        return None
    fields: dict[str, int] = {}
    for part in combined[:1000].split(","):
        match = _FIELD.fullmatch(part.split(";")[0]) if "=" in part else None
        if match is not None:
            fields.setdefault(match.group(1).lower(), int(match.group(2)))
    left = fields.get("remaining", fields.get("r"))
    if left is None:
        return None
    return RateLimit(left, fields.get("limit"), None, fields.get("reset", fields.get("t")))


def _number(value: str | None) -> tuple[int, int | None] | None:
    if value is None:
        return None
    match = _NUMBER.fullmatch(value[:200])
    if match is None:
        return None
    window = match.group(2)
    return int(match.group(1)), None if window is None else int(window)


class RequestMeter:
    """Shared by every client of a run. Thread-safe.

    :param max_requests: the most requests sent; the next one raises
        :class:`RequestLimitError` instead of going out. ``None``: no bound.
    """

    def __init__(self, max_requests: int | None = None) -> None:
        self.max_requests = max_requests
        #: Requests that got an answer (a connection that failed, a TLS handshake a
        #: plain-HTTP registry refused, is no request it served).
        self.sent = 0
        self._in_flight = 0
        self.limits: dict[str, RateLimit] = {}
        self._lock = threading.Lock()

    def before(self, host: str) -> None:
        """One request to ``host`` is about to go, or is refused.

        :raises RequestLimitError: ``max_requests`` were sent (or are on their way).
        """
        with self._lock:
            if self.max_requests is not None and self.sent + self._in_flight >= self.max_requests:
                raise RequestLimitError(
                    f"stopped before request {self.sent + self._in_flight + 1} to {host}: "
                    f"--max-requests {self.max_requests} are spent",
                    hint="no tag was moved by what stopped; run it again with a larger "
                    "--max-requests: what is written already is not sent again",
                )
            self._in_flight += 1

    def failed(self) -> None:
        """The request :meth:`before` let go got no answer."""
        with self._lock:
            self._in_flight -= 1

    def after(self, host: str, headers: Mapping[str, str]) -> None:
        """The request got an answer: counted, and the rate limit it states noted."""
        limit = rate_limit_of(headers)
        with self._lock:
            self._in_flight -= 1
            self.sent += 1
            if limit is not None:
                # Answers to concurrent requests arrive in any order: the least left is
                # the latest count of one window.
                known = self.limits.get(host)
                if (
                    known is None
                    or (known.limit, known.window) != (limit.limit, limit.window)
                    or limit.remaining < known.remaining
                ):
                    self.limits[host] = limit

    def summary(self) -> str:
        """``12 requests`` and what each host said is left."""
        with self._lock:
            text = f"{self.sent} request{'s' * (self.sent != 1)}"
            for host, limit in sorted(self.limits.items()):
                text += f"; {host} rate limit: {limit}"
        return text
