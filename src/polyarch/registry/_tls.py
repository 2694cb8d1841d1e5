"""How a registry is reached: the scheme, and the TLS context that verifies it.

Plain HTTP is used only for ``--insecure`` registries and loopback hosts (``localhost``,
127.0.0.0/8, ``::1``), as docker does; everything else is HTTPS verified against the
system's CAs plus ``/etc/docker/certs.d/<host>/*.crt`` and ``--ca-file``, with docker's
client certificates (``<host>/*.cert`` and ``.key``).
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from polyarch.errors import InvalidInputError
from polyarch.registry._url import is_loopback
from polyarch.registry.options import RegistryOptions

__all__ = ["certs_dir_of", "lazy_default_context", "schemes", "ssl_context"]


def certs_dir_of(options: RegistryOptions, api_host: str) -> Path:
    """docker's certs.d directory for a host (IPv6 without brackets, as docker has it)."""
    return options.certs_dir / api_host.replace("[", "").replace("]", "")


def schemes(options: RegistryOptions, api_host: str) -> tuple[str, ...]:
    """The schemes to try, in order. More than one means: probe once, then stick."""
    tls_configured = options.ca_file is not None or certs_dir_of(options, api_host).is_dir()
    if options.insecure:
        return ("https", "http")
    if is_loopback(api_host) and not tls_configured:
        return ("http",)
    return ("https",)


def ssl_context(options: RegistryOptions, api_host: str) -> ssl.SSLContext:
    """The context that verifies ``api_host`` (or, with ``--insecure``, does not).

    :raises InvalidInputError: a CA or client certificate file that cannot be used.
    """
    if options.insecure:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    context = ssl.create_default_context()
    cas = [options.ca_file] if options.ca_file is not None else []
    host_dir = certs_dir_of(options, api_host)
    pairs: list[tuple[Path, Path]] = []
    if host_dir.is_dir():
        cas += sorted(host_dir.glob("*.crt"))
        for client_cert in sorted(host_dir.glob("*.cert")):
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
