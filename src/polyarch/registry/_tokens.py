"""What a registry's challenge and its token service say: the ``WWW-Authenticate``
header, token lifetimes, and the scopes a JWT grants (pure: no I/O)."""

from __future__ import annotations

import base64
import datetime
import math
import re
from dataclasses import dataclass

from polyarch.jsonread import loads

__all__ = [
    "Challenge",
    "Token",
    "covers",
    "granted_scopes",
    "repository_scope",
    "token_lifetime",
]

_PARAM_RE = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')

#: Tokens are renewed this long before they expire (at most a tenth of what is left of
#: their life), so none dies in flight.
_EXPIRY_MARGIN = 10.0
#: The longest a token is kept, whatever its service says: a day.
_MAX_TOKEN_LIFETIME = 86400.0
#: The token spec's default lifetime when the service does not say.
_DEFAULT_TOKEN_LIFETIME = 60.0


@dataclass(frozen=True, slots=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` header: scheme (lowercase) and its parameters."""

    scheme: str
    params: dict[str, str]

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @classmethod
    def parse(cls, header: str) -> Challenge | None:
        scheme, _, rest = header.strip().partition(" ")
        if not scheme:
            return None
        params = {
            m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
            for m in _PARAM_RE.finditer(rest)
        }
        return cls(scheme.lower(), params)


def repository_scope(repository: str, *actions: str) -> str:
    return f"repository:{repository}:{','.join(actions)}"


def token_lifetime(expires_in: object, issued_at: object, *, now: float) -> float:
    """How many seconds from ``now`` a token just received may be sent (token.md).

    The token lives ``expires_in`` seconds (60 when missing or not a positive number)
    from ``issued_at`` (RFC 3339), or from now without one; a margin of a tenth of what is
    left, at most :data:`_EXPIRY_MARGIN`, is kept. An ``issued_at`` in the future or older
    than the whole lifetime says the two clocks disagree, not that the token is dead on
    arrival: the lifetime then counts from now.

    :param now: this machine's wall clock (``time.time()``).
    """
    lifetime = _DEFAULT_TOKEN_LIFETIME
    if isinstance(expires_in, int | float | str) and not isinstance(expires_in, bool):
        try:
            given = float(expires_in)
        except ValueError:
            given = math.nan
        if math.isfinite(given) and given > 0:
            lifetime = min(given, _MAX_TOKEN_LIFETIME)
    age = 0.0
    issued = _timestamp(issued_at)
    if issued is not None and 0.0 <= now - issued < lifetime:
        age = now - issued
    remaining = lifetime - age
    return remaining - min(_EXPIRY_MARGIN, remaining / 10)


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        # 3.11 reads RFC 3339: "Z", offsets, fractions of any length.
        moment = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def granted_scopes(token: str) -> frozenset[str] | None:
    """The scopes a JWT token grants, read from its ``access`` claim; None if opaque.

    Token services leave refused scopes out instead of failing, so caching a token as if it
    held everything asked for would send it again for an operation it cannot do. The
    signature is not checked: the registry checks it, we only avoid a useless retry.
    """
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        access = payload["access"]
        if not isinstance(access, list):
            return None
        scopes = set()
        for entry in access:
            kind, name, actions = entry["type"], entry["name"], entry.get("actions")
            if not (
                isinstance(kind, str)
                and isinstance(name, str)
                and isinstance(actions, list | None)
                and all(isinstance(action, str) for action in actions or ())
            ):
                return None  # Go's decoder refuses the claim: the token is opaque to us
            if actions:
                scopes.add(f"{kind}:{name}:{','.join(sorted(actions))}")
        return frozenset(scopes)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def covers(granted: frozenset[str], wanted: frozenset[str]) -> bool:
    """Whether a token granted for ``granted`` scopes serves a request needing ``wanted``."""
    have: dict[str, set[str]] = {}
    for scope in granted:
        resource, _, actions = scope.rpartition(":")
        have.setdefault(resource, set()).update(actions.split(","))
    for scope in wanted:
        resource, _, actions = scope.rpartition(":")
        if not set(actions.split(",")) <= have.get(resource, set()):
            return False
    return True


@dataclass(slots=True)
class Token:
    value: str
    scopes: frozenset[str]
    expires_at: float
    """``time.monotonic()`` after which the token is no longer sent."""
    opaque: bool = False
    """Not a JWT: ``scopes`` are those asked for, not what it grants."""
