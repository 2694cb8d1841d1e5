"""Shell completion: the script ``polyarch completion SHELL`` prints works in that shell."""

from __future__ import annotations

import shlex
import shutil
import subprocess

import pytest

from tests.clirun import POLYARCH, assert_clean_error, polyarch


def complete_in_bash(line: str) -> list[str]:
    """What bash offers for ``line`` once the completion script is sourced."""
    words = line.split(" ")
    script = polyarch("completion", "bash", text=True)  # run by the name given below
    assert script.returncode == 0, script.stderr
    program = (
        f"{script.stdout}\n"
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        f"_polyarch_completion {shlex.quote(POLYARCH)}\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "--norc", "-c", program],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is the shell under test")
def test_bash_completes_commands_and_options() -> None:
    assert {"inspect", "completion"} <= set(complete_in_bash("polyarch "))
    assert complete_in_bash("polyarch insp") == ["inspect"]
    assert "--format" in complete_in_bash("polyarch inspect --fo")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_every_shell_has_a_script(shell: str) -> None:
    done = polyarch("completion", shell, text=True)
    assert done.returncode == 0
    assert "_POLYARCH_COMPLETE" in done.stdout


def test_an_unknown_shell_is_a_usage_error() -> None:
    done = polyarch("completion", "tcsh", text=True)
    assert_clean_error(done, 2)
