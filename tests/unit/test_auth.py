"""polyarch.auth against real config files and real ``docker-credential-*`` processes.

The helpers are small executables put first on ``PATH``; they keep their store in a JSON
file and log every call, so the tests see exactly what docker's helper protocol carries.
"""

from __future__ import annotations

import base64
import errno
import json
import logging
import os
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from polyarch import auth
from polyarch.auth import (
    DOCKER_HUB_SERVER,
    Credentials,
    _helpers,  # noqa: F401 - patched below
    docker_config_dir,
    erase_credentials,
    load_credentials,
    store_credentials,
)
from polyarch.errors import AuthError, CredentialHelperError, InvalidInputError, PolyarchError

SECRET = "s3cr3t-Pa55:with-colon"
TOKEN = "identity-token-XYZ"

# A helper speaking docker-credential-helpers' protocol over a JSON file.
_HELPER = """\
#!{python}
import json, pathlib, sys

store = pathlib.Path({store!r})
log = pathlib.Path({log!r})
action = sys.argv[1] if len(sys.argv) > 1 else ""
data = sys.stdin.read()
with log.open("a") as stream:
    stream.write(json.dumps([action, data]) + "\\n")
creds = json.loads(store.read_text()) if store.exists() else {{}}
if action == "get":
    server = data.strip()
    if server not in creds:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({{"ServerURL": server, **creds[server]}}))
elif action == "store":
    request = json.loads(data)
    creds[request["ServerURL"]] = {{"Username": request["Username"], "Secret": request["Secret"]}}
    store.write_text(json.dumps(creds))
elif action == "erase":
    server = data.strip()
    if server not in creds:
        print("credentials not found in native keychain")
        sys.exit(1)
    del creds[server]
    store.write_text(json.dumps(creds))
else:
    print("unknown action")
    sys.exit(1)
"""


@dataclass
class Helper:
    """A fake helper: its name (after ``docker-credential-``), store and call log."""

    name: str
    store: Path
    log: Path

    def set(self, server: str, username: str, secret: str) -> None:
        creds = self.contents()
        creds[server] = {"Username": username, "Secret": secret}
        self.store.write_text(json.dumps(creds))

    def contents(self) -> dict[str, Any]:
        return json.loads(self.store.read_text()) if self.store.exists() else {}

    def calls(self) -> list[tuple[str, str]]:
        if not self.log.exists():
            return []
        return [tuple(json.loads(line)) for line in self.log.read_text().splitlines()]


@pytest.fixture
def bin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    monkeypatch.setenv("PATH", f"{directory}{os.pathsep}{os.environ.get('PATH', '')}")
    return directory


def _install(bin_dir: Path, name: str, text: str) -> None:
    program = bin_dir / f"docker-credential-{name}"
    program.write_text(text)
    program.chmod(0o755)


@pytest.fixture
def make_helper(bin_dir: Path, tmp_path: Path) -> Callable[[str], Helper]:
    def make(name: str) -> Helper:
        helper = Helper(name, tmp_path / f"{name}-store.json", tmp_path / f"{name}-log.jsonl")
        _install(
            bin_dir,
            name,
            _HELPER.format(python=sys.executable, store=str(helper.store), log=str(helper.log)),
        )
        return helper

    return make


@pytest.fixture
def helper(make_helper: Callable[[str], Helper]) -> Helper:
    return make_helper("test")


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    return tmp_path / "docker"


def write_config(config_dir: Path, data: Any) -> Path:
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "config.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
    return path


def read_config(config_dir: Path) -> Any:
    return json.loads((config_dir / "config.json").read_text())


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# -- docker_config_dir -----------------------------------------------------------------


def test_config_dir_from_docker_config() -> None:
    assert docker_config_dir({"DOCKER_CONFIG": "/etc/dc", "HOME": "/h"}) == Path("/etc/dc")


@pytest.mark.parametrize("environ", [{"HOME": "/h"}, {"HOME": "/h", "DOCKER_CONFIG": ""}])
def test_config_dir_defaults_to_home(environ: dict[str, str]) -> None:
    assert docker_config_dir(environ) == Path("/h/.docker")


def test_config_dir_reads_process_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "dc"))
    assert docker_config_dir() == tmp_path / "dc"
    monkeypatch.delenv("DOCKER_CONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert docker_config_dir() == tmp_path / ".docker"


def test_default_config_dir_and_home_relative_source(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    write_config(tmp_path / ".docker", {"auths": {"ghcr.io": {"auth": b64("u:p")}}})
    found = load_credentials("ghcr.io")
    assert found is not None
    assert found.source == "~/.docker/config.json (auths)"


# -- Credentials -------------------------------------------------------------------------


def test_credentials_never_show_secrets() -> None:
    creds = Credentials(username="alice", password=SECRET, identity_token=TOKEN, source="x")
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", repr([creds])):
        assert SECRET not in text
        assert TOKEN not in text
        assert "alice" in text
        assert "***" in text


def test_credentials_is_empty() -> None:
    assert Credentials().is_empty
    assert Credentials(source="somewhere").is_empty
    assert not Credentials(username="u").is_empty
    assert not Credentials(password="p").is_empty
    assert not Credentials(identity_token="t").is_empty


def test_credentials_are_frozen_and_hashable() -> None:
    creds = Credentials(username="u", password="p")
    with pytest.raises(AttributeError):
        creds.username = "v"  # type: ignore[misc]
    assert hash(creds) == hash(Credentials(username="u", password="p"))


# -- auths -------------------------------------------------------------------------------


def test_no_config_file(config_dir: Path) -> None:
    assert load_credentials("ghcr.io", config_dir=config_dir) is None


@pytest.mark.parametrize("text", ["", "  \n", "{}", '{"auths": {}}', '{"auths": null}'])
def test_empty_configs(config_dir: Path, text: str) -> None:
    write_config(config_dir, text)
    assert load_credentials("ghcr.io", config_dir=config_dir) is None


def test_auth_field_splits_at_first_colon(config_dir: Path) -> None:
    write_config(config_dir, {"auths": {"ghcr.io": {"auth": b64(f"alice:{SECRET}")}}})
    found = load_credentials("ghcr.io", config_dir=config_dir)
    assert found == Credentials(
        username="alice", password=SECRET, source=f"{config_dir / 'config.json'} (auths)"
    )


def test_username_password_fields(config_dir: Path) -> None:
    write_config(config_dir, {"auths": {"ghcr.io": {"username": "bob", "password": "pw"}}})
    found = load_credentials("ghcr.io", config_dir=config_dir)
    assert found is not None
    assert (found.username, found.password) == ("bob", "pw")


def test_auth_field_wins_over_username_password(config_dir: Path) -> None:
    entry = {"auth": b64("alice:a"), "username": "bob", "password": "b"}
    write_config(config_dir, {"auths": {"ghcr.io": entry}})
    found = load_credentials("ghcr.io", config_dir=config_dir)
    assert found is not None
    assert (found.username, found.password) == ("alice", "a")


def test_auth_without_padding_and_nul_padding(config_dir: Path) -> None:
    write_config(config_dir, {"auths": {"ghcr.io": {"auth": b64("ab:cd\x00\x00").rstrip("=")}}})
    found = load_credentials("ghcr.io", config_dir=config_dir)
    assert found is not None
    assert (found.username, found.password) == ("ab", "cd")


def test_identity_token(config_dir: Path) -> None:
    entry = {"auth": b64("alice:"), "identitytoken": TOKEN}
    write_config(config_dir, {"auths": {"ghcr.io": entry}})
    found = load_credentials("ghcr.io", config_dir=config_dir)
    assert found is not None
    assert (found.username, found.password, found.identity_token) == ("alice", "", TOKEN)


def test_identity_token_alone(config_dir: Path) -> None:
    write_config(config_dir, {"auths": {"ghcr.io": {"identitytoken": TOKEN}}})
    found = load_credentials("ghcr.io", config_dir=config_dir)
    assert found is not None
    assert found.identity_token == TOKEN


@pytest.mark.parametrize(
    "key",
    [
        "registry.example:5000",
        "https://registry.example:5000",
        "https://registry.example:5000/",
        "http://registry.example:5000/v2/",
        "https://user@registry.example:5000/v1/",
        "registry.example:5000/v2/",
        "REGISTRY.example:5000",
    ],
)
def test_key_spellings(config_dir: Path, key: str) -> None:
    write_config(config_dir, {"auths": {key: {"auth": b64("u:p")}}})
    found = load_credentials("registry.example:5000", config_dir=config_dir)
    assert found is not None
    assert found.username == "u"


@pytest.mark.parametrize(
    "key",
    ["registry.example", "https://registry.example", "registry.example:5001", "example:5000"],
)
def test_other_hosts_do_not_match(config_dir: Path, key: str) -> None:
    write_config(config_dir, {"auths": {key: {"auth": b64("u:p")}}})
    assert load_credentials("registry.example:5000", config_dir=config_dir) is None


def test_ipv6_host(config_dir: Path) -> None:
    write_config(config_dir, {"auths": {"https://[::1]:5000/v2/": {"auth": b64("u:p")}}})
    assert load_credentials("[::1]:5000", config_dir=config_dir) is not None
    assert load_credentials("[::1]", config_dir=config_dir) is None


@pytest.mark.parametrize(
    "key",
    [
        DOCKER_HUB_SERVER,
        "https://index.docker.io/v1",
        "index.docker.io",
        "docker.io",
        "https://registry-1.docker.io",
        "https://docker.io/",
    ],
)
def test_docker_hub_keys(config_dir: Path, key: str) -> None:
    write_config(config_dir, {"auths": {key: {"auth": b64("hubuser:p")}}})
    found = load_credentials("docker.io", config_dir=config_dir)
    assert found is not None
    assert found.username == "hubuser"


@pytest.mark.parametrize("registry", ["docker.io", "index.docker.io", "registry-1.docker.io"])
def test_docker_hub_registry_spellings(config_dir: Path, registry: str) -> None:
    write_config(config_dir, {"auths": {DOCKER_HUB_SERVER: {"auth": b64("hubuser:p")}}})
    assert load_credentials(registry, config_dir=config_dir) is not None


def test_docker_hub_does_not_leak_to_other_hosts(config_dir: Path) -> None:
    write_config(config_dir, {"auths": {DOCKER_HUB_SERVER: {"auth": b64("hubuser:p")}}})
    assert load_credentials("ghcr.io", config_dir=config_dir) is None
    assert load_credentials("index.docker.io:443", config_dir=config_dir) is None


def test_docker_spelling_wins_over_legacy_spelling(config_dir: Path) -> None:
    auths = {
        "index.docker.io": {"auth": b64("legacy:p")},
        DOCKER_HUB_SERVER: {"auth": b64("current:p")},
        "https://ghcr.io": {"auth": b64("legacy:p")},
        "ghcr.io": {"auth": b64("current:p")},
    }
    write_config(config_dir, {"auths": auths})
    for registry in ("docker.io", "ghcr.io"):
        found = load_credentials(registry, config_dir=config_dir)
        assert found is not None
        assert found.username == "current"


def test_empty_placeholder_entry_is_skipped(config_dir: Path) -> None:
    auths = {"ghcr.io": {}, "https://ghcr.io": {"auth": b64("legacy:p")}}
    write_config(config_dir, {"auths": auths})
    found = load_credentials("ghcr.io", config_dir=config_dir)
    assert found is not None
    assert found.username == "legacy"


def test_only_placeholder_means_none(config_dir: Path) -> None:
    write_config(config_dir, {"auths": {"ghcr.io": {}}})
    assert load_credentials("ghcr.io", config_dir=config_dir) is None


def test_empty_registry_is_rejected(config_dir: Path) -> None:
    with pytest.raises(InvalidInputError):
        load_credentials("  ", config_dir=config_dir)


# -- malformed config.json ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"auths": {', "not valid JSON"),
        ("[1, 2]", "must hold a JSON object, not an array"),
        ('"text"', "must hold a JSON object, not a string"),
        ({"auths": "ghcr.io"}, '"auths" must be an object, not a string'),
        ({"auths": {"ghcr.io": "x"}}, '"auths" entry "ghcr.io" must be an object'),
        ({"auths": {"ghcr.io": {"auth": 5}}}, '"auth" must be a string, not a number'),
        ({"auths": {"ghcr.io": {"auth": "%%%not base64"}}}, "not valid base64"),
        ({"auths": {"ghcr.io": {"auth": b64("nocolon")}}}, 'does not decode to "username:'),
        ({"auths": {"ghcr.io": {"auth": b64(":nouser")}}}, 'does not decode to "username:'),
        ({"credsStore": 7}, '"credsStore" must be a string, not a number'),
        ({"credsStore": "../evil"}, "must be a helper name, not a path"),
        ({"credHelpers": []}, '"credHelpers" must be an object, not an array'),
        ({"credHelpers": {"ghcr.io": None}}, 'entry "ghcr.io" must be a string, not null'),
    ],
)
def test_malformed_config(config_dir: Path, content: Any, expected: str) -> None:
    path = write_config(config_dir, content)
    with pytest.raises(InvalidInputError) as caught:
        load_credentials("ghcr.io", config_dir=config_dir)
    message = str(caught.value)
    assert expected in message
    assert str(path) in message
    assert "\n" not in message
    assert caught.value.exit_code == 2


def test_malformed_json_names_the_position(config_dir: Path) -> None:
    write_config(config_dir, '{\n  "auths": {,\n}')
    with pytest.raises(InvalidInputError, match="at line 2 column"):
        load_credentials("ghcr.io", config_dir=config_dir)


def test_not_utf8(config_dir: Path) -> None:
    config_dir.mkdir()
    (config_dir / "config.json").write_bytes(b'{"auths": "\xff"}')
    with pytest.raises(InvalidInputError, match="not valid UTF-8"):
        load_credentials("ghcr.io", config_dir=config_dir)


def test_malformed_entry_message_has_no_secret(config_dir: Path) -> None:
    write_config(config_dir, {"auths": {"ghcr.io": {"auth": b64(SECRET.replace(":", ""))}}})
    with pytest.raises(InvalidInputError) as caught:
        load_credentials("ghcr.io", config_dir=config_dir)
    assert SECRET.replace(":", "") not in str(caught.value)
    assert b64(SECRET.replace(":", "")) not in str(caught.value)


def test_malformed_entry_of_another_host_is_ignored(config_dir: Path) -> None:
    auths = {"quay.io": {"auth": "%%%"}, "ghcr.io": {"auth": b64("u:p")}}
    write_config(config_dir, {"auths": auths})
    assert load_credentials("ghcr.io", config_dir=config_dir) is not None


# -- credential helpers: lookup ----------------------------------------------------------


def test_creds_store_helper(config_dir: Path, helper: Helper) -> None:
    helper.set("ghcr.io", "alice", SECRET)
    write_config(config_dir, {"auths": {"ghcr.io": {}}, "credsStore": "test"})
    found = load_credentials("ghcr.io", config_dir=config_dir)
    assert found is not None
    assert (found.username, found.password) == ("alice", SECRET)
    assert found.source.startswith('credential helper docker-credential-test ("credsStore" of ')
    assert helper.calls() == [("get", "ghcr.io")]


def test_docker_hub_helper_gets_index_server_url(config_dir: Path, helper: Helper) -> None:
    helper.set(DOCKER_HUB_SERVER, "hubuser", SECRET)
    write_config(config_dir, {"credsStore": "test"})
    found = load_credentials("docker.io", config_dir=config_dir)
    assert found is not None
    assert found.username == "hubuser"
    assert helper.calls() == [("get", DOCKER_HUB_SERVER)]


def test_helper_identity_token(config_dir: Path, helper: Helper) -> None:
    helper.set("ghcr.io", "<token>", TOKEN)
    write_config(config_dir, {"credsStore": "test"})
    found = load_credentials("ghcr.io", config_dir=config_dir)
    assert found is not None
    assert (found.username, found.password, found.identity_token) == ("", "", TOKEN)


def test_cred_helpers_win_over_creds_store(
    config_dir: Path, make_helper: Callable[[str], Helper]
) -> None:
    default, special = make_helper("default"), make_helper("special")
    default.set("ghcr.io", "from-default", "p")
    special.set("ghcr.io", "from-special", "p")
    write_config(config_dir, {"credsStore": "default", "credHelpers": {"ghcr.io": "special"}})
    found = load_credentials("ghcr.io", config_dir=config_dir)
    assert found is not None
    assert found.username == "from-special"
    assert found.source.startswith(
        'credential helper docker-credential-special ("credHelpers" entry "ghcr.io" of '
    )
    assert default.calls() == []


def test_cred_helpers_apply_only_to_their_host(
    config_dir: Path, make_helper: Callable[[str], Helper]
) -> None:
    default, special = make_helper("default"), make_helper("special")
    default.set("quay.io", "from-default", "p")
    write_config(config_dir, {"credsStore": "default", "credHelpers": {"ghcr.io": "special"}})
    found = load_credentials("quay.io", config_dir=config_dir)
    assert found is not None
    assert found.username == "from-default"
    assert special.calls() == []


@pytest.mark.parametrize("key", ["ghcr.io", "https://ghcr.io", "https://ghcr.io/v2/"])
def test_cred_helpers_key_spellings(config_dir: Path, helper: Helper, key: str) -> None:
    helper.set("ghcr.io", "alice", "p")
    write_config(config_dir, {"credHelpers": {key: "test"}})
    assert load_credentials("ghcr.io", config_dir=config_dir) is not None


def test_empty_cred_helper_disables_creds_store(config_dir: Path, helper: Helper) -> None:
    helper.set("ghcr.io", "from-helper", "p")
    config = {
        "auths": {"ghcr.io": {"auth": b64("from-file:p")}},
        "credsStore": "test",
        "credHelpers": {"ghcr.io": ""},
    }
    write_config(config_dir, config)
    found = load_credentials("ghcr.io", config_dir=config_dir)
    assert found is not None
    assert found.username == "from-file"
    assert helper.calls() == []


def test_helper_wins_over_auths(config_dir: Path, helper: Helper) -> None:
    helper.set("ghcr.io", "from-helper", "p")
    write_config(
        config_dir, {"auths": {"ghcr.io": {"auth": b64("from-file:p")}}, "credsStore": "test"}
    )
    found = load_credentials("ghcr.io", config_dir=config_dir)
    assert found is not None
    assert found.username == "from-helper"


@pytest.mark.parametrize("setting", [{"credsStore": "test"}, {"credHelpers": {"ghcr.io": "test"}}])
def test_helper_not_found_in_keychain_falls_back_to_auths(
    config_dir: Path, helper: Helper, setting: dict[str, Any]
) -> None:
    write_config(config_dir, {"auths": {"https://ghcr.io": {"auth": b64("u:p")}}, **setting})
    found = load_credentials("ghcr.io", config_dir=config_dir)
    assert found is not None
    assert found.username == "u"
    assert found.source.endswith("config.json (auths)")
    assert helper.calls() == [("get", "ghcr.io")]


def test_helper_not_found_in_keychain_is_none(config_dir: Path, helper: Helper) -> None:
    write_config(config_dir, {"auths": {"ghcr.io": {}}, "credsStore": "test"})
    assert load_credentials("ghcr.io", config_dir=config_dir) is None


def test_helper_answering_empty_credentials_is_none(config_dir: Path, helper: Helper) -> None:
    helper.set("ghcr.io", "", "")
    write_config(config_dir, {"credsStore": "test"})
    assert load_credentials("ghcr.io", config_dir=config_dir) is None


# -- credential helpers: failures --------------------------------------------------------


def test_helper_missing(config_dir: Path, bin_dir: Path) -> None:
    path = write_config(config_dir, {"credsStore": "absent"})
    with pytest.raises(CredentialHelperError) as caught:
        load_credentials("ghcr.io", config_dir=config_dir)
    message = str(caught.value)
    assert "docker-credential-absent" in message
    assert "not found on PATH" in message
    assert '"credsStore"' in message
    assert str(path) in message
    assert "\n" not in message
    assert caught.value.hint is not None
    assert isinstance(caught.value, AuthError)
    assert caught.value.exit_code == 4


def test_helper_missing_from_cred_helpers_names_the_entry(config_dir: Path, bin_dir: Path) -> None:
    write_config(config_dir, {"credHelpers": {"ghcr.io": "absent"}})
    with pytest.raises(CredentialHelperError, match=r'"credHelpers" entry "ghcr\.io"'):
        load_credentials("ghcr.io", config_dir=config_dir)


def test_helper_missing_does_not_fall_back(config_dir: Path, bin_dir: Path) -> None:
    write_config(config_dir, {"auths": {"ghcr.io": {"auth": b64("u:p")}}, "credsStore": "absent"})
    with pytest.raises(CredentialHelperError):
        load_credentials("ghcr.io", config_dir=config_dir)


def test_helper_failing(config_dir: Path, bin_dir: Path) -> None:
    _install(bin_dir, "broken", "#!/bin/sh\necho 'error talking to the keyring'\nexit 3\n")
    write_config(config_dir, {"credsStore": "broken"})
    with pytest.raises(CredentialHelperError) as caught:
        load_credentials("ghcr.io", config_dir=config_dir)
    message = str(caught.value)
    assert "docker-credential-broken get failed (exit status 3)" in message
    assert "error talking to the keyring" in message
    assert "\n" not in message


def test_helper_failing_on_stderr(config_dir: Path, bin_dir: Path) -> None:
    _install(bin_dir, "broken", "#!/bin/sh\necho 'stderr detail' >&2\nexit 1\n")
    write_config(config_dir, {"credsStore": "broken"})
    with pytest.raises(CredentialHelperError, match="stderr detail"):
        load_credentials("ghcr.io", config_dir=config_dir)


def test_helper_failure_does_not_echo_json(config_dir: Path, bin_dir: Path) -> None:
    body = json.dumps({"Username": "u", "Secret": SECRET})
    _install(bin_dir, "leaky", f"#!/bin/sh\necho '{body}'\nexit 1\n")
    write_config(config_dir, {"credsStore": "leaky"})
    with pytest.raises(CredentialHelperError) as caught:
        load_credentials("ghcr.io", config_dir=config_dir)
    assert SECRET not in str(caught.value)


def test_helper_answering_garbage(config_dir: Path, bin_dir: Path) -> None:
    _install(bin_dir, "garbage", "#!/bin/sh\necho 'hello'\n")
    write_config(config_dir, {"credsStore": "garbage"})
    with pytest.raises(CredentialHelperError, match="not JSON"):
        load_credentials("ghcr.io", config_dir=config_dir)


def test_helper_answering_wrong_shape(config_dir: Path, bin_dir: Path) -> None:
    _install(bin_dir, "shape", '#!/bin/sh\necho \'{"Username": 1, "Secret": "x"}\'\n')
    write_config(config_dir, {"credsStore": "shape"})
    with pytest.raises(CredentialHelperError, match="non-string"):
        load_credentials("ghcr.io", config_dir=config_dir)


def test_helper_timeout(config_dir: Path, bin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(bin_dir, "slow", "#!/bin/sh\nexec sleep 30\n")
    write_config(config_dir, {"credsStore": "slow"})
    monkeypatch.setattr(auth._helpers, "HELPER_TIMEOUT", 0.5)
    with pytest.raises(CredentialHelperError, match=r"did not answer within 0\.5s"):
        load_credentials("ghcr.io", config_dir=config_dir)


def test_helper_not_executable(config_dir: Path, bin_dir: Path) -> None:
    (bin_dir / "docker-credential-noexec").write_text("#!/bin/sh\n")
    write_config(config_dir, {"credsStore": "noexec"})
    with pytest.raises(CredentialHelperError, match="docker-credential-noexec"):
        load_credentials("ghcr.io", config_dir=config_dir)


# -- store -------------------------------------------------------------------------------


def test_store_in_file(config_dir: Path) -> None:
    where = store_credentials("ghcr.io", "alice", SECRET, config_dir=config_dir)
    assert where == f"{config_dir / 'config.json'} (auths)"
    assert read_config(config_dir) == {"auths": {"ghcr.io": {"auth": b64(f"alice:{SECRET}")}}}
    found = load_credentials("ghcr.io", config_dir=config_dir)
    assert found is not None
    assert (found.username, found.password) == ("alice", SECRET)


def test_store_creates_private_directory_and_file(config_dir: Path) -> None:
    store_credentials("ghcr.io", "alice", "p", config_dir=config_dir)
    assert stat.S_IMODE(config_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((config_dir / "config.json").stat().st_mode) == 0o600
    assert [p.name for p in config_dir.iterdir()] == ["config.json"]


def test_store_makes_existing_file_private(config_dir: Path) -> None:
    path = write_config(config_dir, {"auths": {}})
    path.chmod(0o644)
    store_credentials("ghcr.io", "alice", "p", config_dir=config_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_store_docker_hub_key(config_dir: Path) -> None:
    store_credentials("docker.io", "hubuser", "p", config_dir=config_dir)
    assert list(read_config(config_dir)["auths"]) == [DOCKER_HUB_SERVER]


def test_store_keeps_other_keys_in_order(config_dir: Path) -> None:
    original = {
        "psFormat": "table {{.ID}}",
        "auths": {
            "quay.io": {"auth": b64("q:q"), "email": "q@example.com"},
            "ghcr.io": {"auth": b64("old:old"), "identitytoken": "stale"},
        },
        "proxies": {"default": {"httpProxy": "http://proxy:3128"}},
        "currentContext": "remote",
        "plugins": {"x": {"y": "z"}},
        "unknownToDocker": [1, 2, {"nested": True}],
    }
    write_config(config_dir, original)
    store_credentials("ghcr.io", "alice", "p", config_dir=config_dir)
    result = read_config(config_dir)
    assert list(result) == list(original)
    assert list(result["auths"]) == ["quay.io", "ghcr.io"]
    assert result["auths"]["ghcr.io"] == {"auth": b64("alice:p")}
    for key in ("psFormat", "proxies", "currentContext", "plugins", "unknownToDocker"):
        assert result[key] == original[key]
    assert result["auths"]["quay.io"] == original["auths"]["quay.io"]  # type: ignore[index]


def test_store_adds_auths_first_when_missing(config_dir: Path) -> None:
    write_config(config_dir, {"currentContext": "x", "HttpHeaders": {"X-A": "b"}})
    store_credentials("ghcr.io", "alice", "p", config_dir=config_dir)
    assert list(read_config(config_dir)) == ["auths", "currentContext", "HttpHeaders"]


def test_store_replaces_null_auths(config_dir: Path) -> None:
    write_config(config_dir, {"currentContext": "x", "auths": None})
    store_credentials("ghcr.io", "alice", "p", config_dir=config_dir)
    assert read_config(config_dir) == {
        "currentContext": "x",
        "auths": {"ghcr.io": {"auth": b64("alice:p")}},
    }


def test_store_through_symlink(config_dir: Path, tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "docker-config.json"
    target.write_text(json.dumps({"currentContext": "x"}))
    config_dir.mkdir()
    (config_dir / "config.json").symlink_to(target)
    store_credentials("ghcr.io", "alice", "p", config_dir=config_dir)
    assert (config_dir / "config.json").is_symlink()
    assert json.loads(target.read_text())["auths"] == {"ghcr.io": {"auth": b64("alice:p")}}
    assert sorted(p.name for p in dotfiles.iterdir()) == ["docker-config.json"]


@pytest.mark.parametrize(
    ("username", "password", "expected"),
    [("", "p", "username is empty"), ("u", "", "password is empty"), ("a:b", "p", "':'")],
)
def test_store_rejects_bad_input(
    config_dir: Path, username: str, password: str, expected: str
) -> None:
    with pytest.raises(InvalidInputError, match=expected):
        store_credentials("ghcr.io", username, password, config_dir=config_dir)
    assert not config_dir.exists()


def test_store_refuses_malformed_config(config_dir: Path) -> None:
    path = write_config(config_dir, "{broken")
    with pytest.raises(InvalidInputError):
        store_credentials("ghcr.io", "alice", "p", config_dir=config_dir)
    assert path.read_text() == "{broken"


def test_store_write_failure_leaves_no_trace(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_config(config_dir, {"currentContext": "x"})

    def fail(source: object, destination: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(PolyarchError, match=r"cannot write .*Invalid cross-device link"):
        store_credentials("ghcr.io", "alice", "p", config_dir=config_dir)
    assert json.loads(path.read_text()) == {"currentContext": "x"}
    assert [p.name for p in config_dir.iterdir()] == ["config.json"]


def test_unreadable_config(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    with pytest.raises(InvalidInputError, match="cannot read"):
        load_credentials("ghcr.io", config_dir=not_a_directory)


def test_store_with_helper(config_dir: Path, helper: Helper) -> None:
    write_config(config_dir, {"auths": {"ghcr.io": {"auth": b64("old:old")}}, "credsStore": "test"})
    where = store_credentials("ghcr.io", "alice", SECRET, config_dir=config_dir)
    assert where == "credential helper docker-credential-test"
    assert helper.contents() == {"ghcr.io": {"Username": "alice", "Secret": SECRET}}
    request = json.loads(helper.calls()[0][1])
    assert request == {"ServerURL": "ghcr.io", "Username": "alice", "Secret": SECRET}
    config = read_config(config_dir)
    assert config == {"auths": {"ghcr.io": {}}, "credsStore": "test"}
    assert SECRET not in (config_dir / "config.json").read_text()
    found = load_credentials("ghcr.io", config_dir=config_dir)
    assert found is not None
    assert (found.username, found.password) == ("alice", SECRET)


def test_store_with_helper_allows_colon_in_username(config_dir: Path, helper: Helper) -> None:
    write_config(config_dir, {"credsStore": "test"})
    store_credentials("ghcr.io", "a:b", "p", config_dir=config_dir)
    found = load_credentials("ghcr.io", config_dir=config_dir)
    assert found is not None
    assert found.username == "a:b"


def test_store_docker_hub_with_cred_helper(config_dir: Path, helper: Helper) -> None:
    write_config(config_dir, {"credHelpers": {DOCKER_HUB_SERVER: "test"}})
    store_credentials("docker.io", "hubuser", "p", config_dir=config_dir)
    assert list(helper.contents()) == [DOCKER_HUB_SERVER]
    assert read_config(config_dir)["auths"] == {DOCKER_HUB_SERVER: {}}


def test_store_with_failing_helper_hides_secret(config_dir: Path, bin_dir: Path) -> None:
    # This helper echoes its whole request, secret included, as its error message.
    _install(bin_dir, "echo", "#!/bin/sh\ncat\necho\nexit 1\n")
    path = write_config(config_dir, {"credsStore": "echo"})
    before = path.read_text()
    with pytest.raises(CredentialHelperError) as caught:
        store_credentials("ghcr.io", "alice", SECRET, config_dir=config_dir)
    assert "store failed" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert path.read_text() == before


def test_store_with_helper_echoing_secret_in_text(config_dir: Path, bin_dir: Path) -> None:
    _install(bin_dir, "echo2", f"#!/bin/sh\necho 'bad secret {SECRET}'\nexit 1\n")
    write_config(config_dir, {"credsStore": "echo2"})
    with pytest.raises(CredentialHelperError) as caught:
        store_credentials("ghcr.io", "alice", SECRET, config_dir=config_dir)
    assert SECRET not in str(caught.value)


def test_store_with_missing_helper(config_dir: Path, bin_dir: Path) -> None:
    write_config(config_dir, {"credsStore": "absent"})
    with pytest.raises(CredentialHelperError, match="not found on PATH"):
        store_credentials("ghcr.io", "alice", "p", config_dir=config_dir)


# -- erase -------------------------------------------------------------------------------


def test_erase_all_spellings_from_file(config_dir: Path) -> None:
    auths = {
        "ghcr.io": {"auth": b64("a:a")},
        "https://ghcr.io": {"auth": b64("b:b")},
        "http://ghcr.io/v2/": {"auth": b64("c:c")},
        "quay.io": {"auth": b64("q:q")},
    }
    write_config(config_dir, {"auths": auths, "currentContext": "x"})
    assert erase_credentials("ghcr.io", config_dir=config_dir) is True
    assert read_config(config_dir) == {
        "auths": {"quay.io": {"auth": b64("q:q")}},
        "currentContext": "x",
    }
    assert load_credentials("ghcr.io", config_dir=config_dir) is None
    assert erase_credentials("ghcr.io", config_dir=config_dir) is False


def test_erase_docker_hub(config_dir: Path) -> None:
    write_config(config_dir, {"auths": {DOCKER_HUB_SERVER: {"auth": b64("u:p")}}})
    assert erase_credentials("docker.io", config_dir=config_dir) is True
    assert read_config(config_dir) == {"auths": {}}


def test_erase_nothing(config_dir: Path) -> None:
    assert erase_credentials("ghcr.io", config_dir=config_dir) is False
    assert not config_dir.exists()


def test_erase_keeps_file_untouched_when_nothing_matches(config_dir: Path) -> None:
    path = write_config(config_dir, '{"auths": {"quay.io": {}},   "x": 1}')
    assert erase_credentials("ghcr.io", config_dir=config_dir) is False
    assert path.read_text() == '{"auths": {"quay.io": {}},   "x": 1}'


def test_erase_with_helper(config_dir: Path, helper: Helper) -> None:
    write_config(config_dir, {"credsStore": "test"})
    store_credentials("ghcr.io", "alice", "p", config_dir=config_dir)
    assert erase_credentials("ghcr.io", config_dir=config_dir) is True
    assert helper.contents() == {}
    assert read_config(config_dir) == {"auths": {}, "credsStore": "test"}
    erases = [data for action, data in helper.calls() if action == "erase"]
    assert erases == ["ghcr.io", "https://ghcr.io", "http://ghcr.io"]
    assert erase_credentials("ghcr.io", config_dir=config_dir) is False


def test_erase_with_helper_legacy_spelling(config_dir: Path, helper: Helper) -> None:
    helper.set("https://ghcr.io", "alice", "p")
    write_config(config_dir, {"credsStore": "test"})
    assert erase_credentials("ghcr.io", config_dir=config_dir) is True
    assert helper.contents() == {}


def test_erase_docker_hub_with_helper(config_dir: Path, helper: Helper) -> None:
    helper.set(DOCKER_HUB_SERVER, "hubuser", "p")
    write_config(config_dir, {"auths": {DOCKER_HUB_SERVER: {}}, "credsStore": "test"})
    assert erase_credentials("docker.io", config_dir=config_dir) is True
    assert helper.calls() == [("erase", DOCKER_HUB_SERVER)]
    assert helper.contents() == {}


def test_erase_placeholder_only_is_not_a_removal(config_dir: Path, helper: Helper) -> None:
    write_config(config_dir, {"auths": {"ghcr.io": {}}, "credsStore": "test"})
    assert erase_credentials("ghcr.io", config_dir=config_dir) is False
    assert read_config(config_dir)["auths"] == {}


def test_erase_with_missing_helper_and_nothing_else(config_dir: Path, bin_dir: Path) -> None:
    write_config(config_dir, {"auths": {"ghcr.io": {}}, "credsStore": "absent"})
    with pytest.raises(CredentialHelperError, match="not found on PATH"):
        erase_credentials("ghcr.io", config_dir=config_dir)


def test_erase_with_failing_helper_still_removes_file_entry(
    config_dir: Path, bin_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _install(bin_dir, "broken", "#!/bin/sh\necho 'not implemented'\nexit 1\n")
    write_config(config_dir, {"auths": {"ghcr.io": {"auth": b64("u:p")}}, "credsStore": "broken"})
    with caplog.at_level(logging.WARNING, logger="polyarch.auth"):
        assert erase_credentials("ghcr.io", config_dir=config_dir) is True
    assert read_config(config_dir)["auths"] == {}
    assert "not implemented" in caplog.text


def test_round_trip_without_helper(config_dir: Path) -> None:
    registries = ("docker.io", "ghcr.io", "localhost:5000")
    for number, registry in enumerate(registries):
        store_credentials(registry, f"user{number}", SECRET, config_dir=config_dir)
    for number, registry in enumerate(registries):
        found = load_credentials(registry, config_dir=config_dir)
        assert found is not None
        assert (found.username, found.password) == (f"user{number}", SECRET)
    assert erase_credentials("ghcr.io", config_dir=config_dir)
    assert load_credentials("ghcr.io", config_dir=config_dir) is None
    assert load_credentials("docker.io", config_dir=config_dir) is not None
    assert stat.S_IMODE((config_dir / "config.json").stat().st_mode) == 0o600


# -- read as docker reads it -------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"auths": {}, "credsstore": "pass"}, "credsstore"),
        ({"Auths": {"registry.example": {"auth": b64("a:b")}}}, "Auths"),
        ({"credhelpers": {"registry.example": "pass"}}, "credhelpers"),
        ({"auths": {"registry.example": {"Auth": b64("a:b")}}}, "Auth"),
        ({"auths": {"registry.example": {"IdentityToken": "t"}}}, "IdentityToken"),
    ],
)
def test_a_key_docker_reads_otherwise_is_refused(config_dir: Path, config: Any, key: str) -> None:
    write_config(config_dir, config)
    with pytest.raises(InvalidInputError, match=f'"{key}" is read by docker as') as info:
        load_credentials("registry.example", config_dir=config_dir)
    assert "a:b" not in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        '{"auths": {}, "auths": {"registry.example": {"auth": "YTpi"}}}',
        '\ufeff{"auths": {}}',
        '{"auths": {"registry.example": {"auth": "YTpi", "auth": "Yjpj"}}}',
    ],
)
def test_a_config_go_reads_otherwise_is_refused(config_dir: Path, text: str) -> None:
    config_dir.mkdir(parents=True)
    (config_dir / "config.json").write_bytes(text.encode())
    with pytest.raises(InvalidInputError):
        load_credentials("registry.example", config_dir=config_dir)
