"""The click group; subcommands are named here and imported on first use."""

from __future__ import annotations

import importlib

import click

from polyarch._version import __version__

#: name -> (module, function, one-line help shown by ``polyarch --help``)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "annotate": ("polyarch.cli.lists", "annotate", "Set the platform of an entry of a local list."),
    "auth": ("polyarch.cli.probe", "auth", "How polyarch authenticates: auth explain HOST."),
    "completion": ("polyarch.cli.completion", "completion", "Print a shell completion script."),
    "copy": ("polyarch.cli.copy", "copy", "Copy images between registries and layouts."),
    "create": ("polyarch.cli.lists", "create", "Create a local manifest list from images."),
    "delete": (
        "polyarch.cli.delete",
        "delete",
        "Delete a manifest or a tag (registry or layout).",
    ),
    "diff": ("polyarch.cli.diff", "diff", "Compare two images or indexes, platform by platform."),
    "digest": ("polyarch.cli.query", "digest", "Print the digest of an image (one HEAD)."),
    "probe": ("polyarch.cli.probe", "probe", "Ask a registry what it can do."),
    "pull": ("polyarch.cli.pull", "pull", "Pull the image for one platform, no daemon."),
    "push": ("polyarch.cli.lists", "push", "Push a local manifest list to its registry."),
    "rm": ("polyarch.cli.lists", "rm", "Delete local manifest lists."),
    "sync": ("polyarch.cli.sync", "sync", "Mirror many images and repositories from a file."),
    "tags": ("polyarch.cli.query", "tags", "List the tags of a repository."),
    "verify": ("polyarch.cli.check", "verify", "Check that an image is complete and right."),
    "explain": ("polyarch.cli.explain", "explain", "Which entry each runtime runs on a platform."),
    "index": ("polyarch.cli.edit", "index", "Edit a pushed index: add, remove, annotate."),
    "inspect": ("polyarch.cli.inspect", "inspect", "Show a manifest or manifest list."),
    "lint": ("polyarch.cli.check", "lint", "Find what is wrong with an index or image."),
    "login": ("polyarch.cli.login", "login", "Log in to a registry."),
    "ls": ("polyarch.cli.lists", "ls", "List the local manifest lists."),
    "logout": ("polyarch.cli.login", "logout", "Log out from a registry."),
}


#: ``polyarch push FORM ...``: lists made another way than by ``create`` (manifest-tool's
#: verbs); any other word after ``push`` is a list's name, as in docker's ``push LIST``.
PUSH_FORMS: dict[str, tuple[str, str]] = {
    "from-spec": ("polyarch.cli.spec", "from_spec"),
    "from-args": ("polyarch.cli.spec", "from_args"),
}


class LazyGroup(click.Group):
    """A group whose commands are imported when they are run or asked for help."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        form = PUSH_FORMS.get(args[1]) if args[:1] == ["push"] and len(args) > 1 else None
        if form is not None:
            command = getattr(importlib.import_module(form[0]), form[1])
            assert isinstance(command, click.Command)
            return f"push {args[1]}", command, args[2:]
        return super().resolve_command(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module, attribute, _ = entry
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, _, help_text) in sorted(COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="polyarch")
@click.option("--debug", is_flag=True, help="Log HTTP traffic and show tracebacks of bugs.")
def cli(debug: bool) -> None:
    """Container image manifests and multi-architecture lists, without a Docker daemon.

    Images are registry references (docker's grammar: ubuntu, ghcr.io/o/app:1.0,
    host:5000/app@sha256:...) or OCI layouts on disk (oci:PATH[:TAG|@DIGEST]).
    """
    if debug:
        import logging  # only --debug configures it: 2-3 ms that --help need not pay

        logging.basicConfig(level=logging.DEBUG, format="polyarch: %(name)s: %(message)s")
