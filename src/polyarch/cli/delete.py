"""``polyarch delete``: a manifest by digest, or a tag, from a registry or a layout."""

from __future__ import annotations

import click

from polyarch.cli._options import registry_options, requests_made
from polyarch.ops.delete import delete as delete_manifest
from polyarch.registry import Registries


@click.command()
@click.option(
    "--force",
    is_flag=True,
    help="On a registry, delete a tag's manifest even though other tags point at it.",
)
@click.argument("ref")
@registry_options
def delete(ref: str, force: bool, registries: Registries) -> None:
    """Delete REF: REPO@DIGEST (the manifest, and every tag of it), REPO:TAG, or
    oci:PATH:TAG / oci:PATH@DIGEST; print the digest.

    A registry deletes manifests, not tags: a tag's manifest is deleted, which is refused
    when other tags point at it (they would go too) unless --force. In a layout a tag
    goes alone. The registry must allow deletes (distribution: storage.delete.enabled).
    """
    deleted = delete_manifest(ref, force=force, registries=registries)
    if deleted.manifest_deleted:
        tags = f" (and its tags {', '.join(deleted.tags)})" if deleted.tags else ""
        click.echo(
            f"Deleted manifest {deleted.digest}{tags}; {requests_made(registries)}", err=True
        )
    else:
        click.echo(
            f"Deleted tag {deleted.tags[0]} (it was {deleted.digest}); {requests_made(registries)}",
            err=True,
        )
    click.echo(str(deleted.digest))
