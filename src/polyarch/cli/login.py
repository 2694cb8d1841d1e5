"""``polyarch login`` / ``logout``: docker's credential store, shared with docker."""

from __future__ import annotations

import sys
from dataclasses import replace

import click

from polyarch.auth import Credentials, erase_credentials, store_credentials
from polyarch.cli._options import registry_options
from polyarch.errors import InvalidInputError
from polyarch.reference import DEFAULT_REGISTRY, normalize_registry
from polyarch.registry import Registries
from polyarch.registry.client import RegistryClient


@click.command()
@click.option("-u", "--username", help="Username.")
@click.option("-p", "--password", help="Password (visible to other users; prefer stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.argument("server", required=False, default=DEFAULT_REGISTRY)
@registry_options
def login(
    server: str,
    username: str | None,
    password: str | None,
    password_stdin: bool,
    registries: Registries,
) -> None:
    """Log in to SERVER (default: Docker Hub) and store the credentials as docker does.

    The credentials are checked against the registry before they are stored, in
    $DOCKER_CONFIG/config.json or the credential helper it names.
    """

    registry = normalize_registry(server)
    if password is not None and password_stdin:
        raise InvalidInputError("--password and --password-stdin are mutually exclusive")
    if password_stdin:
        if not username:
            raise InvalidInputError("--password-stdin needs --username")
        if sys.stdin is None:
            raise InvalidInputError("--password-stdin, but there is no standard input")
        password = sys.stdin.read().rstrip("\r\n")
    elif password is not None:
        click.echo(
            "WARNING! Using --password via the CLI is insecure. Use --password-stdin.", err=True
        )
    if not (username and password) and (sys.stdin is None or not sys.stdin.isatty()):
        # click would read the answers from the pipe, with a warning that echo cannot be
        # turned off, and end in "interrupted" at its end.
        missing = (
            "the username and password"
            if not (username or password)
            else ("the password" if not password else "the username")
        )
        raise InvalidInputError(
            f"no terminal to ask for {missing}",
            hint='pass --username and --password-stdin (echo "$TOKEN" | polyarch login '
            "--username USER --password-stdin SERVER)",
        )
    username = username or str(click.prompt("Username", err=True))
    password = password or str(click.prompt("Password", hide_input=True, err=True))
    credentials = Credentials(username=username, password=password, source="the login command")
    options = registries.options
    # Checked before stored, as docker does: a typo must not land in config.json.
    with RegistryClient(registry, options=replace(options, credentials=credentials)) as client:
        client.ping()
    where = store_credentials(registry, username, password, config_dir=options.config_dir)
    click.echo(f"Login Succeeded (credentials stored in {where})", err=True)


@click.command()
@click.argument("server", required=False, default=DEFAULT_REGISTRY)
def logout(server: str) -> None:
    """Remove the stored credentials for SERVER (default: Docker Hub)."""

    registry = normalize_registry(server)
    if erase_credentials(registry):
        click.echo(f"Removing login credentials for {registry}", err=True)
    else:
        click.echo(f"Not logged in to {registry}", err=True)
