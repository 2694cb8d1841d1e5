"""docker's ``config.json``: read as docker reads it (Go's decoder), written as it writes
it (atomically, mode 0600, a symlinked file's target replaced), and the lookups of a
registry host in it (``auths`` entries, ``credHelpers``/``credsStore``)."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from polyarch.atomic import write_atomically
from polyarch.auth._credentials import Credentials
from polyarch.errors import InvalidInputError, PolyarchError
from polyarch.jsonread import AmbiguousJSONError, Fields, loads
from polyarch.reference import DEFAULT_REGISTRY, server_host

logger = logging.getLogger("polyarch.auth")

CONFIG_FILENAME = "config.json"
DOCKER_HUB = DEFAULT_REGISTRY
DOCKER_HUB_SERVER = "https://index.docker.io/v1/"


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


def config_path(config_dir: Path | None) -> Path:
    return (docker_config_dir() if config_dir is None else config_dir) / CONFIG_FILENAME


def display(path: Path) -> str:
    """``path`` with the home directory shown as ``~``, for messages and ``source``."""
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except (ValueError, RuntimeError):
        return str(path)


def read_config(path: Path) -> dict[str, Any]:
    """The parsed file, ``{}`` when absent; the shape of the credential keys is checked."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as error:
        raise InvalidInputError(f"cannot read {display(path)}: {error.strerror}") from None
    # docker accepts an empty file as an empty configuration.
    if not raw.strip():
        return {}
    try:
        data = loads(raw)
    except UnicodeDecodeError:
        raise InvalidInputError(f"{display(path)} is not valid UTF-8") from None
    except AmbiguousJSONError as error:
        raise InvalidInputError(
            f"{display(path)} {error}: docker would read it otherwise"
        ) from None
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            f"{display(path)} is not valid JSON: {error.msg} "
            f"at line {error.lineno} column {error.colno}"
        ) from None
    except ValueError as error:
        raise InvalidInputError(f"{display(path)} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise InvalidInputError(f"{display(path)} must hold a JSON object, not {json_type(data)}")
    _check_spelling(data, _CONFIG_FIELDS, display(path))
    auths = data.get("auths")
    if auths is not None and not isinstance(auths, dict):
        raise InvalidInputError(
            f'{display(path)}: "auths" must be an object, not {json_type(auths)}'
        )
    store = data.get("credsStore")
    if store is not None:
        _check_helper_name(store, '"credsStore"', path)
    helpers = data.get("credHelpers")
    if helpers is not None:
        if not isinstance(helpers, dict):
            raise InvalidInputError(
                f'{display(path)}: "credHelpers" must be an object, not {json_type(helpers)}'
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
        raise InvalidInputError(f"{display(path)}: {what} must be a string, not {json_type(name)}")
    # The name becomes part of a program name looked up on PATH, never a path to run.
    if "/" in name or "\\" in name:
        raise InvalidInputError(
            f"{display(path)}: {what} must be a helper name, not a path: {name!r}"
        )


def json_type(value: object) -> str:
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


def auths_for_update(config: dict[str, Any]) -> dict[str, Any]:
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


def write_config(path: Path, config: Mapping[str, Any]) -> None:
    """Replace ``path`` atomically with ``config``, mode 0600, creating the directory 0700."""
    # Follow a symlinked config.json (dotfile managers) and replace its target, as docker
    # does; the temporary file must sit beside the target for the rename to be atomic.
    target = Path(os.path.realpath(path))
    data = json.dumps(config, indent="\t", ensure_ascii=False).encode() + b"\n"
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomically(target, data, mode=0o600)  # it holds secrets
    except OSError as error:
        raise PolyarchError(f"cannot write {display(path)}: {error.strerror}") from None


# -- keys and hosts -----------------------------------------------------------------------


def registry_host(registry: str) -> str:
    host = key_host(registry.strip())
    if not host:
        raise InvalidInputError(f"invalid registry {registry!r}: the host is empty")
    return host


def key_host(key: str) -> str:
    """The registry host an ``auths``/``credHelpers`` key names (docker's ConvertToHostname),
    lower-case (DNS names are case-insensitive)."""
    return server_host(key).lower()


def server_url(host: str) -> str:
    """The ``auths`` key and helper server URL docker uses for ``host``."""
    return DOCKER_HUB_SERVER if host == DOCKER_HUB else host


def _matching_keys(mapping: Mapping[str, Any], host: str) -> list[str]:
    """Keys of ``mapping`` naming ``host``: docker's own spelling first, then file order."""
    exact = server_url(host)
    return sorted((key for key in mapping if key_host(key) == host), key=lambda k: k != exact)


def erase_urls(host: str) -> tuple[str, ...]:
    # docker logout also tries the URL spellings that older docker versions stored.
    if host == DOCKER_HUB:
        return (DOCKER_HUB_SERVER,)
    return (host, f"https://{host}", f"http://{host}")


def helper_for(config: Mapping[str, Any], host: str) -> tuple[str, str] | None:
    """The helper for ``host`` and the config key that chose it, or ``None`` for none."""
    helpers = config.get("credHelpers") or {}
    keys = _matching_keys(helpers, host)
    if keys:
        name: str = helpers[keys[0]]
        return (name, f'"credHelpers" entry "{keys[0]}"') if name else None
    store: str = config.get("credsStore") or ""
    return (store, '"credsStore"') if store else None


# -- auths ------------------------------------------------------------------------------


def from_auths(config: Mapping[str, Any], host: str, path: Path) -> Credentials | None:
    auths = config.get("auths") or {}
    for key in _matching_keys(auths, host):
        username, password, token = _parse_entry(auths[key], key, path)
        found = Credentials(
            username=username,
            password=password,
            identity_token=token,
            source=f"{display(path)} (auths)",
        )
        # An empty entry is the placeholder docker leaves next to a helper: keep looking.
        if not found.is_empty:
            logger.debug("credentials for %s from auths[%r]", host, key)
            return found
    return None


def _parse_entry(entry: object, key: str, path: Path) -> tuple[str, str, str]:
    """``(username, password, identity token)`` of one ``auths`` entry."""
    where = f'{display(path)}: "auths" entry "{key}"'
    if not isinstance(entry, dict):
        raise InvalidInputError(f"{where} must be an object, not {json_type(entry)}")
    _check_spelling(entry, _AUTH_FIELDS, where)
    fields: dict[str, str] = {}
    for name in ("auth", "username", "password", "identitytoken"):
        value = entry.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(f'{where}: "{name}" must be a string, not {json_type(value)}')
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


def holds_credentials(entry: object) -> bool:
    if not isinstance(entry, dict):
        return True
    return any(entry.get(name) for name in ("auth", "username", "password", "identitytoken"))
