"""What the `fer <command>` modules share: their `key=value` arguments, and how a command reports its outcome
(one line on stdout) or a user error (one line on stderr, exit code 2)."""

import logging
import sys
from collections.abc import Callable

from fer.errors import BadValue, UserError, report_and_exit


def key_values(argv: list[str], defaults: dict, usage: str) -> dict:
    """`key=value` arguments merged into `defaults` (every key must be one of theirs)."""
    options = dict(defaults)
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise BadValue(f"{arg!r} is not key=value\n{usage}")
        if key not in defaults:
            raise BadValue(f"unknown option {key!r}; options: {', '.join(defaults)}\n{usage}")
        options[key] = value
    return options


def run_command(argv: list[str] | None, usage: str, name: str, body: Callable[[list[str]], str]) -> int:
    """`--help` prints `usage`; otherwise `body(arguments)` runs and its text is printed, or the user error it
    raised is one line (exit 2). Warnings (photos left out, ...) go to stderr as one line each."""
    args = sys.argv[1:] if argv is None else list(argv)
    if any(arg in ("-h", "--help", "help") for arg in args):
        print(usage)
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        said = body(args)
    except UserError as err:
        report_and_exit(err, code=2, prefix=name)
    print(said)
    return 0
