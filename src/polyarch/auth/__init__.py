"""Registry credentials from the docker CLI's configuration file and credential helpers.

polyarch reads and writes the same ``config.json`` as ``docker login`` / ``docker logout``,
so a login made with either tool works for both. Nothing here touches the network.

::

    $DOCKER_CONFIG/config.json                      (default: ~/.docker/config.json)
    {
      "auths": {
        "https://index.docker.io/v1/": {"auth": "<base64 of user:password>"},
        "registry.example:5000":       {"username": "u", "password": "p"},
        "ghcr.io":                     {"identitytoken": "<oauth refresh token>"},
        "quay.io":                     {}      placeholder; the secret lives in a helper
      },
      "credsStore": "desktop",                 docker-credential-desktop, every registry
      "credHelpers": {"gcr.io": "gcloud"}      docker-credential-gcloud, gcr.io only
    }

Lookup for one registry host:

1. the helper named by ``credHelpers[host]``, else the one named by ``credsStore``
   (an empty ``credHelpers[host]`` means "no helper for this host", as in docker);
2. when no helper is configured, or it has nothing for the host, the ``auths`` entry.

Keys are compared by host, as docker's ``ConvertToHostname`` does: ``https://host``,
``http://host/v2/`` and ``host`` all name ``host``. Docker Hub (``docker.io``) is keyed
``https://index.docker.io/v1/`` and that is also the server URL its helpers are asked about.

A helper is ``docker-credential-<name>`` on ``PATH``, spoken to as docker-credential-helpers
defines: the action (``get``, ``store``, ``erase``) as the only argument, the server URL
(or a ``{"ServerURL", "Username", "Secret"}`` JSON object for ``store``) on stdin, JSON or
an error message on stdout. A ``Username`` of ``<token>`` marks ``Secret`` as an identity
token.

Errors: a malformed ``config.json`` raises :class:`~polyarch.errors.InvalidInputError`; a
missing, failing or hanging helper raises :class:`~polyarch.errors.CredentialHelperError`.
No message ever contains a password, token or helper output that could hold one.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from polyarch.auth._config import (
    CONFIG_FILENAME,
    DOCKER_HUB,
    DOCKER_HUB_SERVER,
    auths_for_update,
    config_path,
    display,
    docker_config_dir,
    erase_urls,
    from_auths,
    helper_for,
    holds_credentials,
    key_host,
    read_config,
    registry_host,
    server_url,
    write_config,
)
from polyarch.auth._credentials import Credentials
from polyarch.auth._helpers import (
    HELPER_PREFIX,
    HELPER_TIMEOUT,
    helper_erase,
    helper_get,
    helper_store,
)
from polyarch.errors import CredentialHelperError, InvalidInputError

__all__ = [
    "CONFIG_FILENAME",
    "DOCKER_HUB",
    "DOCKER_HUB_SERVER",
    "HELPER_PREFIX",
    "HELPER_TIMEOUT",
    "Credentials",
    "Keychain",
    "MultiKeychain",
    "docker_config_dir",
    "docker_keychain",
    "erase_credentials",
    "load_credentials",
    "store_credentials",
]

logger = logging.getLogger(__name__)


class Keychain(Protocol):
    """A source of credentials: the ones it holds for a registry host, or ``None``."""

    def resolve(self, host: str) -> Credentials | None: ...


class MultiKeychain:
    """Keychains asked in order; the first that has credentials for the host answers
    (go-containerregistry's ``authn.NewMultiKeychain``)."""

    def __init__(self, keychains: Sequence[Keychain]) -> None:
        self.keychains = tuple(keychains)

    def resolve(self, host: str) -> Credentials | None:
        for keychain in self.keychains:
            found = keychain.resolve(host)
            if found is not None:
                return found
        return None


class _HelperKeychain:
    """The credential helper ``config.json`` names for a host (``credHelpers``, else
    ``credsStore``)."""

    def __init__(self, config: Mapping[str, Any], path: Path) -> None:
        self._config = config
        self._path = path

    def resolve(self, host: str) -> Credentials | None:
        helper = helper_for(self._config, host)
        if helper is None:
            return None
        name, origin = helper
        found = helper_get(name, server_url(host), path=self._path, origin=origin)
        if found is not None:
            logger.debug("credentials for %s from %s%s", host, HELPER_PREFIX, name)
            return found
        # docker would stop here and prompt; a plain entry written by another tool (or
        # before the helper was configured) is still the user's credential for this host.
        logger.debug("%s%s has nothing for %s; trying auths", HELPER_PREFIX, name, host)
        return None


class _AuthsKeychain:
    """The ``auths`` entries of ``config.json``."""

    def __init__(self, config: Mapping[str, Any], path: Path) -> None:
        self._config = config
        self._path = path

    def resolve(self, host: str) -> Credentials | None:
        return from_auths(self._config, host, self._path)


def docker_keychain(config_dir: Path | None = None) -> MultiKeychain:
    """docker's lookup: the helper ``config.json`` configures for the host, then its
    ``auths`` entry (where podman's ``auth.json`` or ``DOCKER_AUTH_CONFIG`` would join).

    :raises InvalidInputError: ``config.json`` is malformed.
    """
    path = config_path(config_dir)
    config = read_config(path)
    return MultiKeychain([_HelperKeychain(config, path), _AuthsKeychain(config, path)])


def load_credentials(registry: str, *, config_dir: Path | None = None) -> Credentials | None:
    """The credentials stored for ``registry``, or ``None`` when there are none.

    :param registry: a normalized registry host: ``docker.io`` for Docker Hub, else
        ``host[:port]``.
    :param config_dir: the docker configuration directory; :func:`docker_config_dir` when
        omitted.
    :raises InvalidInputError: ``config.json`` is malformed, or ``registry`` is empty.
    :raises CredentialHelperError: the configured helper is missing, fails or hangs.
    """
    host = registry_host(registry)
    return docker_keychain(config_dir).resolve(host)


def store_credentials(
    registry: str, username: str, password: str, *, config_dir: Path | None = None
) -> str:
    """Store credentials for ``registry`` where ``docker login`` would, and say where.

    With a helper configured for the host (``credHelpers`` / ``credsStore``) the secret
    goes to the helper and ``auths`` keeps an empty ``{}`` entry, as docker writes; without
    one it is written base64-encoded (not encrypted) into ``auths``. Every other key of
    ``config.json`` is kept, in order.

    :returns: a description of where the credentials went, e.g.
        ``"credential helper docker-credential-pass"`` or ``"~/.docker/config.json (auths)"``.
    :raises InvalidInputError: empty username or password, a username with ``:`` (it could
        not be read back from ``auths``), or a malformed ``config.json``.
    :raises CredentialHelperError: the helper is missing or refuses to store.
    """
    host = registry_host(registry)
    if not username:
        raise InvalidInputError(f"cannot store credentials for {host}: the username is empty")
    if not password:
        raise InvalidInputError(f"cannot store credentials for {host}: the password is empty")
    path = config_path(config_dir)
    config = read_config(path)
    auths = auths_for_update(config)
    key = server_url(host)
    helper = helper_for(config, host)
    if helper is not None:
        name, origin = helper
        helper_store(name, key, username, password, path=path, origin=origin)
        entry: dict[str, Any] = {}
        where = f"credential helper {HELPER_PREFIX}{name}"
    else:
        if ":" in username:
            raise InvalidInputError(
                f"cannot store credentials for {host} in {display(path)}: "
                "the username contains ':'",
                hint="configure a credential helper (credsStore) to store such a username",
            )
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        entry = {"auth": encoded}
        where = f"{display(path)} (auths)"
    # docker, too, leaves the file alone when nothing changes.
    if auths.get(key) != entry:
        auths[key] = entry
        write_config(path, config)
    logger.debug("stored credentials for %s in %s", host, where)
    return where


def erase_credentials(registry: str, *, config_dir: Path | None = None) -> bool:
    """Forget the credentials for ``registry``, as ``docker logout`` does.

    Every ``auths`` key that names the host is removed, and the helper configured for the
    host (if any) is asked to erase each server URL docker may have used for it.

    :returns: whether any credential was removed (an empty ``{}`` placeholder entry is
        dropped but does not count).
    :raises InvalidInputError: ``config.json`` is malformed.
    :raises CredentialHelperError: the helper failed and nothing was removed anywhere.
    """
    host = registry_host(registry)
    path = config_path(config_dir)
    config = read_config(path)
    removed = False

    helper = helper_for(config, host)
    failure: CredentialHelperError | None = None
    if helper is not None:
        name, origin = helper
        for server in erase_urls(host):
            try:
                removed |= helper_erase(name, server, path=path, origin=origin)
            except CredentialHelperError as error:
                failure = failure or error

    auths = config.get("auths")
    if isinstance(auths, dict):
        keys = [key for key in auths if key_host(key) == host]
        for key in keys:
            removed |= holds_credentials(auths.pop(key))
        if keys:
            write_config(path, config)

    if failure is not None:
        if not removed:
            raise failure
        # docker logout, too, only warns when some spelling could be erased.
        logger.warning("%s", failure)
    return removed
