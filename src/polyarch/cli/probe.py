"""``polyarch probe HOST`` and ``polyarch auth explain HOST``: what a registry can do, and
how polyarch authenticates to it; never a secret."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

import click

from polyarch.cli._options import format_option, registry_options
from polyarch.cli._text import shown
from polyarch.errors import InvalidInputError
from polyarch.reference import Reference
from polyarch.registry import Registries

if TYPE_CHECKING:
    from polyarch.registry.probe import AuthReport

_format = format_option("text: a line a question; json: one object.")


def _registry(host: str) -> str:
    """The registry ``host`` names, as references name it (``docker.io`` for Docker Hub)."""
    if "/" in host:
        raise InvalidInputError(
            f"{host!r} is not a registry host", hint="e.g. ghcr.io or localhost:5000"
        )
    return Reference.parse(f"{host}/polyarch-probe").registry


@click.command()
@click.option("--repository", metavar="REPO", help="Also ask about this repository (read only).")
@click.option(
    "--write",
    metavar="REPO",
    help="Also try the write paths in this scratch repository: push, index and list, "
    "referrer, mount, delete; what is made is removed.",
)
@_format
@click.argument("host")
@registry_options
def probe(
    host: str,
    repository: str | None,
    write: str | None,
    output_format: str,
    registries: Registries,
) -> None:
    """Ask the registry HOST what it can do: API version, scheme, how it authenticates
    (realm, service), rate-limit headers; with --repository, tag pagination and the
    referrers API; with --write, OCI indexes, Docker lists, referrers on push,
    cross-repository mounts and deletes. Read-only unless --write."""
    from polyarch.registry.probe import probe as probe_registry

    for name in (repository, write):
        if name is not None:
            Reference.parse(f"{_registry(host)}/{name}")  # the name's grammar, before any request
    checks = probe_registry(registries.client(_registry(host)), repository=repository, write=write)
    if output_format == "json":
        click.echo(
            json.dumps({"registry": host, "checks": [c.to_json() for c in checks]}, indent=2)
        )
        return
    for check in checks:
        click.echo(f"{check.name:<23} {check.answer:<10} {check.detail}".rstrip())


@click.group()
def auth() -> None:
    """How polyarch authenticates to registries."""


@auth.command()
@click.option("--repository", metavar="REPO", help="Ask the token service for this repository.")
@click.option("--push", is_flag=True, help="Ask for push as well as pull.")
@_format
@click.argument("host")
@registry_options
def explain(
    host: str,
    repository: str | None,
    push: bool,
    output_format: str,
    registries: Registries,
) -> None:
    """Say which credential source answers for HOST (credHelpers, credsStore, auths, an
    identity token, or none), how HOST challenges, and, with --repository, which scopes
    its token service grants and when the token expires. No secret is printed."""
    from polyarch.registry.probe import explain_auth

    registry = _registry(host)
    if repository is not None:
        Reference.parse(f"{registry}/{repository}")
    report = explain_auth(registries.client(registry), repository=repository, push=push)
    if output_format == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_auth(report)
    if report.refused is not None:
        sys.exit(4)


def _print_auth(report: AuthReport) -> None:
    click.echo(shown(f"registry      {report.registry}"))
    click.echo(shown(f"credentials   {report.kind}, from {report.credential_source}"))
    realm = f" (realm {report.realm}, service {report.service})" if report.realm else ""
    click.echo(shown(f"challenge     {report.scheme}{realm}"))
    if report.asked:
        click.echo(shown(f"asked for     {', '.join(report.asked)}"))
        if report.granted is not None:
            click.echo(shown(f"granted       {', '.join(report.granted) or 'nothing'}"))
        elif report.scheme == "bearer":
            click.echo("granted       unknown (an opaque token)")
        if report.expires_in is not None:
            click.echo(shown(f"expires in    {round(report.expires_in)} s"))
    if report.refused is not None:
        click.echo(shown(f"refused       {report.refused}"))
