"""What a failed request means, said once: an answer that was not the one expected, or
no answer at all, turned into the error of the tree (``polyarch.errors``) that says who
refused what, with the registry's own words where it sent any."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

from polyarch.errors import (
    AuthenticationError,
    NetworkError,
    PermissionDeniedError,
    PolyarchError,
    RegistryError,
)
from polyarch.jsonread import loads
from polyarch.registry._http import Response, TransportError
from polyarch.registry._redirect import ERROR_BODY_LIMIT
from polyarch.registry._url import Origin

if TYPE_CHECKING:
    from polyarch.registry._auth import AuthSession
    from polyarch.registry._tokens import Challenge
    from polyarch.registry.options import RegistryOptions

__all__ = ["error_codes", "response_error", "transport_failure"]


def response_error(
    response: Response, what: str, *, session: AuthSession, origin: Origin
) -> PolyarchError:
    """The error an unexpected answer means (its body read up to ERROR_BODY_LIMIT).

    401 and 403 name the credentials and the scope refused; an answer from another origin
    than the registry's says that it was given no credentials.
    """
    registry = session.registry
    try:
        # Enough for the message, whatever the registry keeps sending.
        body, _ = response.read_at_most(ERROR_BODY_LIMIT)
    except TransportError:
        body = b""
    codes, summary = error_codes(body)
    status = response.status_code
    detail = f": {summary}" if summary else ""
    elsewhere = response.request.origin
    if status in (401, 403) and elsewhere != origin:
        # A signed storage URL that expired, or a registry sending clients elsewhere:
        # either way, that origin is never given the registry's credentials.
        return AuthenticationError(
            f"{what}: {elsewhere}, where {registry} sent the request, answered HTTP "
            f"{status}{detail}; polyarch sends the credentials for {registry} to {origin} only"
        )
    if status == 401:
        creds = session.credentials
        if creds is None:
            return AuthenticationError(
                f"{what}: {registry} requires authentication{detail}",
                hint=f"log in first: polyarch login {registry}",
            )
        challenge = response.challenge  # parsed once, by the auth flow
        if challenge is not None and challenge.params.get("error") == "insufficient_scope":
            # The token service accepted who we are but left out what this request
            # needs (token.md: a refused scope is not an error there): a refusal of
            # the operation, not of the credentials.
            return PermissionDeniedError(
                f"{what}: access denied by {registry}: the credentials from "
                f"{session.credential_source} do not grant {_needed_scope(challenge)}"
            )
        return AuthenticationError(
            f"{what}: {registry} rejected the credentials from {creds.source}{detail}",
            hint=f"check them with: polyarch login {registry}",
        )
    if status == 403 or "DENIED" in codes:
        return PermissionDeniedError(
            f"{what}: access denied by {registry} "
            f"(credentials from {session.credential_source}){detail}"
        )
    reason = f"({response.reason_phrase})" if response.reason_phrase else ""
    return RegistryError(
        f"{what}: {registry} answered HTTP {status}{detail or ' ' + reason}",
        status=status,
        codes=codes,
    )


def transport_failure(
    err: TransportError,
    what: str,
    *,
    api_host: str,
    options: RegistryOptions,
    plain_http: bool,
) -> NetworkError:
    """The error of a request that got no answer (``what`` names it)."""
    if err.kind == "tls" and (
        isinstance(_innermost(err.cause), ssl.SSLCertVerificationError)
        or "CERTIFICATE_VERIFY_FAILED" in str(err)
    ):
        return NetworkError(
            f"the TLS certificate of {api_host} is not trusted: {err}",
            hint=(
                f"trust its CA with --ca-file or {options.certs_dir}/{api_host}/ca.crt, or "
                "skip verification with --insecure"
            ),
        )
    if err.timeout:
        return NetworkError(f"{what}: {err} (timeout {options.timeout:g}s)")
    if err.kind == "sent":
        return NetworkError(f"{what}: the connection to {api_host} broke: {err}")
    return NetworkError(
        f"cannot reach {api_host}: {err}",
        hint="is the registry running?" if plain_http else None,
    )


def error_codes(body: bytes) -> tuple[tuple[str, ...], str]:
    """The distribution error codes of a response body and a readable summary of them."""
    try:
        doc = loads(body)
        errors = doc.get("errors") if isinstance(doc, dict) else None
    except ValueError:
        errors = None
    if not isinstance(errors, list):
        return (), ""
    codes: list[str] = []
    parts: list[str] = []
    for error in errors[:8]:
        if not isinstance(error, dict):
            continue
        code = _text(error.get("code"))
        message = _text(error.get("message"))
        detail = error.get("detail")
        codes.append(code)
        text = f"{code}: {message}" if code and message else code or message
        if isinstance(detail, str | int | float) and not isinstance(detail, bool) and detail:
            text += f" ({_text(detail)})"
        elif isinstance(detail, list) and detail and isinstance(detail[0], dict):
            # e.g. DENIED details list the scopes that were refused.
            names = [_text(d.get("Name")) for d in detail[:3] if isinstance(d, dict)]
            text += f" ({', '.join(n for n in names if n)})"
        parts.append(text)
    return tuple(codes), "; ".join(p for p in parts if p)


def _text(value: object, limit: int = 300) -> str:
    """A scalar of an error answer as message text, cut short; anything else is nothing
    (a nested structure could be deeper than ``str`` goes)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _needed_scope(challenge: Challenge) -> str:
    """The challenge's ``scope``, actions sorted (the registry lists them in any order)."""
    scopes = []
    for scope in challenge.params.get("scope", "").split():
        resource, _, actions = scope.rpartition(":")
        scopes.append(f"{resource}:{','.join(sorted(actions.split(',')))}")
    return " ".join(scopes) or "the access it needs"


def _innermost(err: BaseException) -> BaseException:
    """The first cause of ``err`` (urllib3 wraps ssl's errors once or twice)."""
    seen = 0
    while seen < 8:
        inner = err.__cause__ or err.__context__
        if inner is None and err.args and isinstance(err.args[0], BaseException):
            inner = err.args[0]
        if inner is None:
            return err
        err, seen = inner, seen + 1
    return err
