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
import binascii
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyarch.atomic import write_atomically
from polyarch.errors import CredentialHelperError, InvalidInputError, PolyarchError
from polyarch.jsonread import AmbiguousJSONError, Fields, loads
from polyarch.reference import DEFAULT_REGISTRY, server_host

__all__ = [
    "CONFIG_FILENAME",
    "DOCKER_HUB",
    "DOCKER_HUB_SERVER",
    "HELPER_PREFIX",
    "HELPER_TIMEOUT",
    "Credentials",
    "docker_config_dir",
    "erase_credentials",
    "load_credentials",
    "store_credentials",
]

logger = logging.getLogger(__name__)

CONFIG_FILENAME = "config.json"
DOCKER_HUB = DEFAULT_REGISTRY
DOCKER_HUB_SERVER = "https://index.docker.io/v1/"
HELPER_PREFIX = "docker-credential-"
# Generous because helpers such as pass or desktop may wait for the user to unlock a keyring.
HELPER_TIMEOUT = 60.0

_TOKEN_USERNAME = "<token>"
_NOT_FOUND_MESSAGE = "credentials not found in native keychain"
_MAX_DETAIL = 200


@dataclass(frozen=True, repr=False)
class Credentials:
    """Credentials for one registry: a username and password, or an identity token.

    ``source`` says where they came from, for diagnostics ("~/.docker/config.json (auths)",
    "credential helper docker-credential-pass"). ``repr``/``str`` mask the secrets.
    """

    username: str = ""
    password: str = ""
    identity_token: str = ""
    source: str = ""

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to authenticate with."""
        return not (self.username or self.password or self.identity_token)

    def __repr__(self) -> str:
        password = "***" if self.password else ""
        token = "***" if self.identity_token else ""
        return (
            f"Credentials(username={self.username!r}, password={password!r}, "
            f"identity_token={token!r}, source={self.source!r})"
        )

    __str__ = __repr__


def docker_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The docker CLI's configuration directory: ``$DOCKER_CONFIG``, else ``~/.docker``.

    :param environ: the environment to read; ``os.environ`` when omitted.
    """
    env = os.environ if environ is None else environ
    configured = env.get("DOCKER_CONFIG", "")
    if configured:
        return Path(configured)
    home = env.get("HOME", "")
    return (Path(home) if home else Path.home()) / ".docker"


def load_credentials(registry: str, *, config_dir: Path | None = None) -> Credentials | None:
    """The credentials stored for ``registry``, or ``None`` when there are none.

    :param registry: a normalized registry host: ``docker.io`` for Docker Hub, else
        ``host[:port]``.
    :param config_dir: the docker configuration directory; :func:`docker_config_dir` when
        omitted.
    :raises InvalidInputError: ``config.json`` is malformed, or ``registry`` is empty.
    :raises CredentialHelperError: the configured helper is missing, fails or hangs.
    """
    host = _registry_host(registry)
    path = _config_path(config_dir)
    config = _read_config(path)
    helper = _helper_for(config, host)
    if helper is not None:
        name, origin = helper
        found = _helper_get(name, _server_url(host), path=path, origin=origin)
        if found is not None:
            logger.debug("credentials for %s from %s%s", host, HELPER_PREFIX, name)
            return found
        # docker would stop here and prompt; a plain entry written by another tool (or
        # before the helper was configured) is still the user's credential for this host.
        logger.debug("%s%s has nothing for %s; trying auths", HELPER_PREFIX, name, host)
    return _from_auths(config, host, path)


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
    host = _registry_host(registry)
    if not username:
        raise InvalidInputError(f"cannot store credentials for {host}: the username is empty")
    if not password:
        raise InvalidInputError(f"cannot store credentials for {host}: the password is empty")
    path = _config_path(config_dir)
    config = _read_config(path)
    auths = _auths_for_update(config)
    key = _server_url(host)
    helper = _helper_for(config, host)
    if helper is not None:
        name, origin = helper
        _helper_store(name, key, username, password, path=path, origin=origin)
        entry: dict[str, Any] = {}
        where = f"credential helper {HELPER_PREFIX}{name}"
    else:
        if ":" in username:
            raise InvalidInputError(
                f"cannot store credentials for {host} in {_display(path)}: "
                "the username contains ':'",
                hint="configure a credential helper (credsStore) to store such a username",
            )
        encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        entry = {"auth": encoded}
        where = f"{_display(path)} (auths)"
    # docker, too, leaves the file alone when nothing changes.
    if auths.get(key) != entry:
        auths[key] = entry
        _write_config(path, config)
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
    host = _registry_host(registry)
    path = _config_path(config_dir)
    config = _read_config(path)
    removed = False

    helper = _helper_for(config, host)
    failure: CredentialHelperError | None = None
    if helper is not None:
        name, origin = helper
        for server in _erase_urls(host):
            try:
                removed |= _helper_erase(name, server, path=path, origin=origin)
            except CredentialHelperError as error:
                failure = failure or error

    auths = config.get("auths")
    if isinstance(auths, dict):
        keys = [key for key in auths if _key_host(key) == host]
        for key in keys:
            removed |= _holds_credentials(auths.pop(key))
        if keys:
            _write_config(path, config)

    if failure is not None:
        if not removed:
            raise failure
        # docker logout, too, only warns when some spelling could be erased.
        logger.warning("%s", failure)
    return removed


# -- config.json ------------------------------------------------------------------------


def _config_path(config_dir: Path | None) -> Path:
    return (docker_config_dir() if config_dir is None else config_dir) / CONFIG_FILENAME


def _display(path: Path) -> str:
    """``path`` with the home directory shown as ``~``, for messages and ``source``."""
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except (ValueError, RuntimeError):
        return str(path)


def _read_config(path: Path) -> dict[str, Any]:
    """The parsed file, ``{}`` when absent; the shape of the credential keys is checked."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise InvalidInputError(f"cannot read {_display(path)}: {error.strerror}") from None
    # docker accepts an empty file as an empty configuration.
    if not raw.strip():
        return {}
    try:
        data = loads(raw)
    except UnicodeDecodeError:
        raise InvalidInputError(f"{_display(path)} is not valid UTF-8") from None
    except AmbiguousJSONError as error:
        raise InvalidInputError(
            f"{_display(path)} {error}: docker would read it otherwise"
        ) from None
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            f"{_display(path)} is not valid JSON: {error.msg} "
            f"at line {error.lineno} column {error.colno}"
        ) from None
    except ValueError as error:
        raise InvalidInputError(f"{_display(path)} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{_display(path)} must hold a JSON object, not {_json_type(data)}")
    _check_spelling(data, _CONFIG_FIELDS, _display(path))
    auths = data.get("auths")
    if auths is not None and not isinstance(auths, dict):
        raise InvalidInputError(
            f'{_display(path)}: "auths" must be an object, not {_json_type(auths)}'
        )
    store = data.get("credsStore")
    if store is not None:
        _check_helper_name(store, '"credsStore"', path)
    helpers = data.get("credHelpers")
    if helpers is not None:
        if not isinstance(helpers, dict):
            raise InvalidInputError(
                f'{_display(path)}: "credHelpers" must be an object, not {_json_type(helpers)}'
            )
        for key, name in helpers.items():
            _check_helper_name(name, f'"credHelpers" entry "{key}"', path)
    return data


#: The fields of docker's ``ConfigFile`` and ``AuthConfig`` that polyarch reads: docker
#: matches keys to them without regard to case (Go's decoder), polyarch exactly.
_CONFIG_FIELDS = Fields(("auths", "credsStore", "credHelpers"))
_AUTH_FIELDS = Fields(("auth", "username", "password", "identitytoken", "registrytoken"))


def _check_spelling(document: Mapping[str, Any], fields: Fields, where: str) -> None:
    """Refuse a key docker reads as one of ``fields`` although spelled otherwise
    (``"credsstore"``): polyarch would use other credentials than docker."""
    found = fields.misspelled(document)
    if found is not None:
        key, field = found
        raise InvalidInputError(
            f'{where}: "{key}" is read by docker as "{field}" and by polyarch not at all',
            hint=f'spell it "{field}"',
        )


def _check_helper_name(name: object, what: str, path: Path) -> None:
    if not isinstance(name, str):
        raise InvalidInputError(
            f"{_display(path)}: {what} must be a string, not {_json_type(name)}"
        )
    # The name becomes part of a program name looked up on PATH, never a path to run.
    if "/" in name or "\\" in name:
        raise InvalidInputError(
            f"{_display(path)}: {what} must be a helper name, not a path: {name!r}"
        )


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _auths_for_update(config: dict[str, Any]) -> dict[str, Any]:
    auths = config.get("auths")
    if isinstance(auths, dict):
        return auths
    fresh: dict[str, Any] = {}
    if "auths" in config:  # null: keep its place in the file
        config["auths"] = fresh
    else:
        # docker writes "auths" first; doing the same keeps diffs against its files small.
        rest = dict(config)
        config.clear()
        config["auths"] = fresh
        config.update(rest)
    return fresh


def _write_config(path: Path, config: Mapping[str, Any]) -> None:
    """Replace ``path`` atomically with ``config``, mode 0600, creating the directory 0700."""
    # Follow a symlinked config.json (dotfile managers) and replace its target, as docker
    # does; the temporary file must sit beside the target for the rename to be atomic.
    target = Path(os.path.realpath(path))
    data = json.dumps(config, indent="\t", ensure_ascii=False).encode() + b"\n"
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomically(target, data, mode=0o600)  # it holds secrets
    except OSError as error:
        raise PolyarchError(f"cannot write {_display(path)}: {error.strerror}") from None


# -- keys and hosts -----------------------------------------------------------------------


def _registry_host(registry: str) -> str:
    host = _key_host(registry.strip())
    if not host:
        raise InvalidInputError(f"invalid registry {registry!r}: the host is empty")
    return host


def _key_host(key: str) -> str:
    """The registry host an ``auths``/``credHelpers`` key names (docker's ConvertToHostname),
    lower-case (DNS names are case-insensitive)."""
    return server_host(key).lower()


def _server_url(host: str) -> str:
    """The ``auths`` key and helper server URL docker uses for ``host``."""
    return DOCKER_HUB_SERVER if host == DOCKER_HUB else host


def _matching_keys(mapping: Mapping[str, Any], host: str) -> list[str]:
    """Keys of ``mapping`` naming ``host``: docker's own spelling first, then file order."""
    exact = _server_url(host)
    return sorted((key for key in mapping if _key_host(key) == host), key=lambda k: k != exact)


def _erase_urls(host: str) -> tuple[str, ...]:
    # docker logout also tries the URL spellings that older docker versions stored.
    if host == DOCKER_HUB:
        return (DOCKER_HUB_SERVER,)
    return (host, f"https://{host}", f"http://{host}")


def _helper_for(config: Mapping[str, Any], host: str) -> tuple[str, str] | None:
    """The helper for ``host`` and the config key that chose it, or ``None`` for none."""
    helpers = config.get("credHelpers") or {}
    keys = _matching_keys(helpers, host)
    if keys:
        name: str = helpers[keys[0]]
        return (name, f'"credHelpers" entry "{keys[0]}"') if name else None
    store: str = config.get("credsStore") or ""
    return (store, '"credsStore"') if store else None


# -- auths ------------------------------------------------------------------------------


def _from_auths(config: Mapping[str, Any], host: str, path: Path) -> Credentials | None:
    auths = config.get("auths") or {}
    for key in _matching_keys(auths, host):
        username, password, token = _parse_entry(auths[key], key, path)
        found = Credentials(
            username=username,
            password=password,
            identity_token=token,
            source=f"{_display(path)} (auths)",
        )
        # An empty entry is the placeholder docker leaves next to a helper: keep looking.
        if not found.is_empty:
            logger.debug("credentials for %s from auths[%r]", host, key)
            return found
    return None


def _parse_entry(entry: object, key: str, path: Path) -> tuple[str, str, str]:
    """``(username, password, identity token)`` of one ``auths`` entry."""
    where = f'{_display(path)}: "auths" entry "{key}"'
    if not isinstance(entry, dict):
        raise InvalidInputError(f"{where} must be an object, not {_json_type(entry)}")
    _check_spelling(entry, _AUTH_FIELDS, where)
    fields: dict[str, str] = {}
    for name in ("auth", "username", "password", "identitytoken"):
        value = entry.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(f'{where}: "{name}" must be a string, not {_json_type(value)}')
        fields[name] = value or ""
    username, password = fields["username"], fields["password"]
    if fields["auth"]:
        username, password = _decode_auth(fields["auth"], where)
    return username, password, fields["identitytoken"]


def _decode_auth(value: str, where: str) -> tuple[str, str]:
    # Some tools drop the base64 padding; restoring it costs nothing and docker's own
    # output always has it.
    padded = value.strip() + "=" * (-len(value.strip()) % 4)
    try:
        decoded = base64.b64decode(padded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidInputError(f'{where}: "auth" is not valid base64') from None
    username, colon, password = decoded.partition(":")
    if not colon or not username:
        raise InvalidInputError(f'{where}: "auth" does not decode to "username:password"')
    # docker trims NUL padding that some old writers left after the password.
    return username, password.strip("\x00")


def _holds_credentials(entry: object) -> bool:
    if not isinstance(entry, dict):
        return True
    return any(entry.get(name) for name in ("auth", "username", "password", "identitytoken"))


# -- credential helpers -----------------------------------------------------------------


def _helper_get(name: str, server: str, *, path: Path, origin: str) -> Credentials | None:
    program = HELPER_PREFIX + name
    done = _run_helper(name, "get", server, path=path, origin=origin)
    if done.returncode != 0:
        if _is_not_found(done):
            return None
        raise _helper_failed(program, "get", done)
    try:
        answer = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise CredentialHelperError(
            f"credential helper {program} get returned output that is not JSON"
        ) from None
    if not isinstance(answer, dict):
        raise CredentialHelperError(
            f"credential helper {program} get returned {_json_type(answer)}, not an object"
        )
    username = answer.get("Username") or ""
    secret = answer.get("Secret") or ""
    if not isinstance(username, str) or not isinstance(secret, str):
        raise CredentialHelperError(
            f'credential helper {program} get returned a non-string "Username" or "Secret"'
        )
    source = f"credential helper {program}"
    if username == _TOKEN_USERNAME:
        found = Credentials(identity_token=secret, source=source)
    else:
        found = Credentials(username=username, password=secret, source=source)
    return None if found.is_empty else found


def _helper_store(
    name: str, server: str, username: str, secret: str, *, path: Path, origin: str
) -> None:
    request = json.dumps({"ServerURL": server, "Username": username, "Secret": secret})
    done = _run_helper(name, "store", request, path=path, origin=origin)
    if done.returncode != 0:
        raise _helper_failed(HELPER_PREFIX + name, "store", done, secret=secret)


def _helper_erase(name: str, server: str, *, path: Path, origin: str) -> bool:
    done = _run_helper(name, "erase", server, path=path, origin=origin)
    if done.returncode == 0:
        return True
    if _is_not_found(done):
        return False
    raise _helper_failed(HELPER_PREFIX + name, "erase", done)


def _run_helper(
    name: str, action: str, stdin: str, *, path: Path, origin: str
) -> subprocess.CompletedProcess[str]:
    program = HELPER_PREFIX + name
    # Resolve first so that a missing helper gets its own message, not an OSError.
    executable = shutil.which(program)
    if executable is None:
        raise CredentialHelperError(
            f"credential helper {program} (set by {origin} in {_display(path)}) "
            "was not found on PATH",
            hint=f"install {program}, or remove {origin} from {_display(path)}",
        )
    try:
        return subprocess.run(
            [executable, action],
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=HELPER_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CredentialHelperError(
            f"credential helper {program} {action} did not answer within {HELPER_TIMEOUT:g}s",
            hint="check that the helper's keyring or password store is unlocked",
        ) from None
    except OSError as error:
        raise CredentialHelperError(
            f"credential helper {program} could not be run: {error.strerror}"
        ) from None


def _is_not_found(done: subprocess.CompletedProcess[str]) -> bool:
    # Helpers print the message on stdout; some wrappers use stderr.
    return _NOT_FOUND_MESSAGE in done.stdout or _NOT_FOUND_MESSAGE in done.stderr


def _helper_failed(
    program: str, action: str, done: subprocess.CompletedProcess[str], *, secret: str = ""
) -> CredentialHelperError:
    detail = _first_line(done.stdout) or _first_line(done.stderr)
    # A helper could echo its input; never let a secret reach a message or a log.
    if detail.startswith("{") or (secret and secret in detail):
        detail = ""
    message = f"credential helper {program} {action} failed (exit status {done.returncode})"
    return CredentialHelperError(f"{message}: {detail}" if detail else message)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= _MAX_DETAIL else line[: _MAX_DETAIL - 3] + "..."
    return ""
