"""``polyarch completion SHELL``: the shell's completion script, from click's own."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

SHELLS = ("bash", "zsh", "fish")


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
    bash:  eval "$(polyarch completion bash)"      in ~/.bashrc
    zsh:   eval "$(polyarch completion zsh)"       in ~/.zshrc
    fish:  polyarch completion fish > ~/.config/fish/completions/polyarch.fish
    """
    root = ctx.find_root()
    assert root.command is not None
    completer = get_completion_class(shell)
    assert completer is not None  # every name in SHELLS is one of click's
    script = completer(root.command, {}, "polyarch", "_POLYARCH_COMPLETE").source()
    click.echo(script, nl=False)
