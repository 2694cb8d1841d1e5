"""How a registry is reached: the scheme, and the TLS context that verifies it.

A registry is HTTPS, verified against the system's CAs plus ``--ca-file`` and
``/etc/docker/certs.d/<host>/*.crt``, with docker's client certificates
(``<host>/*.cert`` and ``.key``); the scheme is decided for each registry on its own::

    --insecure                      HTTPS unverified, plain HTTP if HTTPS fails (any host)
    certs.d/<host>/ exists          HTTPS only: TLS is configured for this very host
    loopback (localhost, 127/8,     HTTPS, unverified unless --ca-file is given; plain HTTP
      ::1)                          if the server answers the TLS hello in plain HTTP
    any other host                  HTTPS only, verified

The loopback rule is docker's: a registry on this machine is often a test one with a
self-signed certificate, or none. Its traffic never leaves the machine, so skipping the
check there trusts no more than plain HTTP to it already did. ``--ca-file`` only adds
trust: it never makes a registry HTTPS, and a loopback registry checked with it still falls
back on plain HTTP when that is what it speaks.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from polyarch.errors import InvalidInputError
from polyarch.registry._http import TransportError
from polyarch.registry._url import Url, is_loopback
from polyarch.registry.options import RegistryOptions

__all__ = [
    "Reach",
    "certs_dir_of",
    "lazy_default_context",
    "reach",
    "ssl_context",
    "unverified_context",
]


def certs_dir_of(options: RegistryOptions, api_host: str) -> Path:
    """docker's certs.d directory for a host (IPv6 without brackets, as docker has it)."""
    return options.certs_dir / api_host.replace("[", "").replace("]", "")


class Reach(NamedTuple):
    """How one registry is reached.

    :param schemes: ``("https",)``, or ``("https", "http")``: the client probes HTTPS once
        and sticks to the one that answered.
    :param verify: its HTTPS certificate is verified.
    :param any_failure: every failure of the first scheme falls back on the next
        (``--insecure``: the other scheme may even go another way, through the proxy the
        environment names for it); otherwise only a server that answered the TLS hello
        in plain HTTP does.
    """

    schemes: tuple[str, ...]
    verify: bool = True
    any_failure: bool = False

    def falls_back(self, err: TransportError) -> bool:
        """Whether the probe that failed with ``err`` says: try the next scheme. Otherwise
        nothing is decided (a refused connection says nothing about the scheme) and the
        probe is tried again with the request (the caller retries, or fails)."""
        return self.any_failure or err.plain_http


def reach(options: RegistryOptions, api_host: str, *, url: Url) -> Reach:
    """How the registry ``api_host`` is reached; whether it is this machine is decided on
    ``url``, its API root as the HTTP client connects to it (:func:`~._url.parse_url`)."""
    if options.insecure:
        return Reach(("https", "http"), verify=False, any_failure=True)
    if certs_dir_of(options, api_host).is_dir():
        return Reach(("https",))
    if is_loopback(url.host or ""):
        return Reach(("https", "http"), verify=options.ca_file is not None)
    return Reach(("https",))


def unverified_context() -> ssl.SSLContext:
    """A context that checks nothing: for ``--insecure``, and a loopback registry's origin."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def ssl_context(
    options: RegistryOptions, api_host: str, *, client_certificates: bool = True
) -> ssl.SSLContext:
    """The context that verifies ``api_host`` (or, with ``--insecure``, does not).

    :param client_certificates: present ``certs.d/HOST/*.cert`` when the host asks; a host
        that is no registry (a layer's URL) is shown none: a certificate is a credential.
    :raises InvalidInputError: a CA or client certificate file that cannot be used.
    """
    if options.insecure:
        return unverified_context()
    context = ssl.create_default_context()
    cas = [options.ca_file] if options.ca_file is not None else []
    host_dir = certs_dir_of(options, api_host)
    pairs: list[tuple[Path, Path]] = []
    if host_dir.is_dir():
        cas += sorted(host_dir.glob("*.crt"))
        for client_cert in sorted(host_dir.glob("*.cert")) if client_certificates else ():
            key = client_cert.with_suffix(".key")
            if key.is_file():
                pairs.append((client_cert, key))
    # A file ssl cannot use is the caller's input, not a failure of ours (exit 2, not 70).
    for ca in cas:
        try:
            context.load_verify_locations(cafile=str(ca))
        except OSError as err:  # ssl.SSLError included
            raise InvalidInputError(
                f"cannot use {ca} as a CA certificate: {err}",
                hint="it must hold one or more PEM certificates",
            ) from err
    for client_cert, key in pairs:
        try:
            # Without a password callback OpenSSL would prompt on the terminal.
            context.load_cert_chain(str(client_cert), str(key), password=_encrypted(key))
        except OSError as err:
            raise InvalidInputError(
                f"cannot use {client_cert} with {key.name} as a client certificate: {err}",
                hint="they must be a PEM certificate and its unencrypted private key",
            ) from err
    return context


def lazy_default_context() -> ssl.SSLContext:
    """A context that verifies as the default one does, its CA store (~20 ms) loaded only
    when an HTTPS host is contacted: a plain-HTTP registry may still send us to one (its
    token service, a blob redirect)."""
    return _LazyDefaultContext(ssl.PROTOCOL_TLS_CLIENT)


def _encrypted(key: Path) -> Callable[[], str]:
    """A password callback for ``key`` that refuses: docker reads unencrypted keys only."""

    def refuse() -> str:
        raise InvalidInputError(
            f"{key} is encrypted; polyarch cannot ask for its passphrase",
            hint="decrypt it: openssl pkey -in KEY -out KEY",
        )

    return refuse


class _LazyDefaultContext(ssl.SSLContext):
    """Verifies as ``ssl.create_default_context()`` does, loading the CA store on first use.

    ``PROTOCOL_TLS_CLIENT`` already requires a certificate and checks host names; until the
    CAs are loaded nothing would verify, so it fails closed, never open.
    """

    _ca_lock = threading.Lock()
    _ca_loaded = False

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        with self._ca_lock:
            if not self._ca_loaded:
                self.load_default_certs()
                self._ca_loaded = True
        return super().wrap_socket(*args, **kwargs)
