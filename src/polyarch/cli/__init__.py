"""The ``polyarch`` command: the one place that turns errors into messages and exit codes.

Commands live in their own modules and are imported only when run, so ``polyarch --help``
and argument errors never pay for the HTTP client or rich.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Sequence

__all__ = ["main"]

EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 70


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI and exit with the documented code."""
    code = run(argv)
    # The process ends here. Tearing the interpreter down would have the cyclic collector
    # walk every object of every module once more (~14 ms of a registry command here, a
    # tenth of an inspect); frozen, they are left to the exit. Files are closed by then and
    # atexit handlers still run.
    gc.freeze()
    sys.exit(code)


def run(argv: Sequence[str] | None = None) -> int:
    import click

    from polyarch.cli._app import cli
    from polyarch.errors import PolyarchError

    args = _debug_first(list(sys.argv[1:] if argv is None else argv))
    debug = args[:1] == ["--debug"]
    try:
        result = cli.main(args=args, prog_name="polyarch", standalone_mode=False)
    except click.exceptions.Abort:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except PolyarchError as err:
        _error(str(err))
        if err.hint:
            _stderr(f"hint: {err.hint}")
        return err.exit_code
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (| head): not an error of ours; keep Python quiet at exit.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception:
        if debug:
            import traceback

            traceback.print_exc()
        _error("internal error: this is a bug in polyarch; rerun with --debug for details")
        return EXIT_INTERNAL
    return result if isinstance(result, int) else 0


def _debug_first(args: list[str]) -> list[str]:
    """``--debug`` is the group's option, but people add it where the command failed
    (``polyarch push app:1 --debug``): anywhere before ``--``, it is moved to the front."""
    end = args.index("--") if "--" in args else len(args)
    if "--debug" not in args[:end]:
        return args
    return ["--debug", *(a for a in args[:end] if a != "--debug"), *args[end:]]


def _stderr(line: str) -> None:
    from polyarch.cli._text import shown  # a registry's message is its text, not ours

    sys.stderr.write(shown(line) + "\n")
    sys.stderr.flush()


def _error(message: str) -> None:
    _stderr(f"polyarch: error: {message}")
