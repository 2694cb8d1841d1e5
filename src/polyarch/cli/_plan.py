"""How ``diff`` and ``--dry-run`` show what differs and what a run would do."""

from __future__ import annotations

import json

import click

from polyarch.cli._text import shown
from polyarch.cli._units import size
from polyarch.ops.diff import AnnotationChanges, Difference, EntryChange
from polyarch.ops.plan import Plan

__all__ = ["print_difference", "print_plan"]

_MARKS = {"added": "+", "removed": "-", "changed": "~", "same": " "}


def print_plan(plan: Plan) -> None:
    """Each step, what the tag is now and how that differs, and the requests it takes;
    nothing is written."""
    click.echo(
        f"plan for {plan.target} ({', '.join(plan.tags)}): now "
        f"{plan.now or 'nothing'}, would be {plan.digest}"
    )
    for step in plan.steps:
        what = (
            f"{step.tag} -> {step.descriptor.digest}" if step.tag else str(step.descriptor.digest)
        )
        detail = size(step.descriptor.size) if step.kind == "blob" else step.descriptor.media_type
        click.echo(shown(f"  {step.kind:<8} {step.action:<7}  {what}  {detail}"))
    if plan.difference is not None:
        print_difference(plan.difference, f"now ({plan.now})", "would be")
    copied = [s for s in plan.steps if s.kind == "blob" and s.action == "copy"]
    click.echo(
        f"{plan.requests} requests ({plan.reads} to read first): {len(copied)} blobs to copy "
        f"({size(sum(s.descriptor.size for s in copied))}), {plan.count('blob', 'mount')} to "
        f"mount, {plan.count('blob', 'present')} there, {plan.count('blob', 'skip')} left out; "
        f"{plan.count('manifest', 'put')} manifests and {plan.count('tag', 'put')} tags to put"
    )
    click.echo("nothing was written (--dry-run)")


def print_difference(found: Difference, a: str, b: str) -> None:
    """A against B: a line a platform, then what changed in it."""
    click.echo(shown(f"--- {a}  {found.a.media_type}  {found.a.digest}"))
    click.echo(shown(f"+++ {b}  {found.b.media_type}  {found.b.digest}"))
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
        click.echo(shown(f"{mark} {entry.key}  same"))
        return
    if entry.a is None or entry.b is None:
        there = entry.a or entry.b
        assert there is not None
        click.echo(shown(f"{mark} {entry.key}  {there.digest}  {size(there.size)}"))
        return
    moved = f"{entry.a.digest} -> {entry.b.digest}" if entry.a.digest != entry.b.digest else ""
    click.echo(shown(f"{mark} {entry.key}  {moved or 'same manifest'}"))
    if entry.config is not None and entry.config[0] != entry.config[1]:
        click.echo(shown(f"    config  {entry.config[0]} -> {entry.config[1]}"))
    if entry.layers_added or entry.layers_removed:
        click.echo(
            f"    layers  {entry.layers_kept} kept, {len(entry.layers_removed)} removed, "
            f"{len(entry.layers_added)} added"
        )
        for layer in entry.layers_removed:
            click.echo(shown(f"    - layer {layer.digest}  {size(layer.size)}"))
        for layer in entry.layers_added:
            click.echo(shown(f"    + layer {layer.digest}  {size(layer.size)}"))
    _print_annotations(entry.annotations, "    entry ")


def _print_annotations(changes: AnnotationChanges, prefix: str) -> None:
    # Keys and values as JSON strings: what content says is never a terminal's command.
    for key, value in changes.added.items():
        click.echo(shown(f"+ {prefix}annotation {json.dumps(key)}: {json.dumps(value)}"))
    for key, value in changes.removed.items():
        click.echo(shown(f"- {prefix}annotation {json.dumps(key)}: {json.dumps(value)}"))
    for key, (old, new) in changes.changed.items():
        click.echo(
            f"~ {prefix}annotation {json.dumps(key)}: {json.dumps(old)} -> {json.dumps(new)}"
        )
