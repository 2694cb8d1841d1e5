"""``polyarch diff A B``: two images or indexes, platform by platform."""

from __future__ import annotations

import json
import sys

import click

from polyarch.cli._options import format_option, registry_options
from polyarch.cli._units import size
from polyarch.ops.diff import AnnotationChanges, Difference, EntryChange, diff_manifests
from polyarch.registry import Registries
from polyarch.schemes import open_target

_MARKS = {"added": "+", "removed": "-", "changed": "~", "same": " "}


@click.command()
@format_option("text: one line a platform, then what changed in it; json: one object.")
@click.argument("a")
@click.argument("b")
@registry_options
def diff(a: str, b: str, output_format: str, registries: Registries) -> None:
    """Compare A with B (images or indexes, registries or oci:PATH, any combination):
    per platform, entries added, removed or changed (which config, which layers), and
    annotations. Only entries that differ are read.

    Exit 0 when A and B are the same bytes, 1 when they are not.
    """
    a_target = open_target(a, registries=registries)
    b_target = open_target(b, registries=registries)
    found = diff_manifests(
        a_target.store, a_target.get_manifest(), b_target.store, b_target.get_manifest()
    )
    if output_format == "json":
        click.echo(json.dumps({"a_ref": a, "b_ref": b, **found.to_json()}, indent=2))
    else:
        _print(found, str(a_target), str(b_target))
    sys.exit(0 if found.same else 1)


def _print(found: Difference, a: str, b: str) -> None:
    click.echo(f"--- {a}  {found.a.media_type}  {found.a.digest}")
    click.echo(f"+++ {b}  {found.b.media_type}  {found.b.digest}")
    if found.same:
        click.echo("same bytes")
        return
    for entry in found.entries:
        _print_entry(entry)
    _print_annotations(found.annotations, "")
    if found.equivalent:
        click.echo("other bytes, the same entries and annotations (the JSON spelled otherwise)")


def _print_entry(entry: EntryChange) -> None:
    mark = _MARKS[entry.change]
    if entry.change == "same":
        click.echo(f"{mark} {entry.key}  same")
        return
    if entry.a is None or entry.b is None:
        there = entry.a or entry.b
        assert there is not None
        click.echo(f"{mark} {entry.key}  {there.digest}  {size(there.size)}")
        return
    moved = f"{entry.a.digest} -> {entry.b.digest}" if entry.a.digest != entry.b.digest else ""
    click.echo(f"{mark} {entry.key}  {moved or 'same manifest'}")
    if entry.config is not None and entry.config[0] != entry.config[1]:
        click.echo(f"    config  {entry.config[0]} -> {entry.config[1]}")
    if entry.layers_added or entry.layers_removed:
        click.echo(
            f"    layers  {entry.layers_kept} kept, {len(entry.layers_removed)} removed, "
            f"{len(entry.layers_added)} added"
        )
        for layer in entry.layers_removed:
            click.echo(f"    - layer {layer.digest}  {size(layer.size)}")
        for layer in entry.layers_added:
            click.echo(f"    + layer {layer.digest}  {size(layer.size)}")
    _print_annotations(entry.annotations, "    entry ")


def _print_annotations(changes: AnnotationChanges, prefix: str) -> None:
    # Keys and values as JSON strings: what content says is never a terminal's command.
    for key, value in changes.added.items():
        click.echo(f"+ {prefix}annotation {json.dumps(key)}: {json.dumps(value)}")
    for key, value in changes.removed.items():
        click.echo(f"- {prefix}annotation {json.dumps(key)}: {json.dumps(value)}")
    for key, (old, new) in changes.changed.items():
        click.echo(
            f"~ {prefix}annotation {json.dumps(key)}: {json.dumps(old)} -> {json.dumps(new)}"
        )
