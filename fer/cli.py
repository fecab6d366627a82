"""`fer <command> [key=value ...]`: the package's command-line front door (pyproject's `fer` script).

Each command is a module with `main(argv) -> exit code`, imported only when it runs, so `fer --help` is
instant. Commands: serve (the HTTP service and its web page; python -m fer.serve is the same), calibrate (a profile
from labelled photos of a person; python -m fer.calibrate is the same), enroll (a person in a people file;
python -m fer.enroll is the same).
"""

import importlib
import sys

# command -> (module with main(argv), one line of help)
COMMANDS = {
    "serve": ("fer.serve.__main__", "the HTTP service and web page: webcam, images, WebSocket stream (docs/serve.md)"),
    "calibrate": ("fer.calibrate", "a profile that fits the model to a person or camera from labelled "
                                             "photos (docs/calibration.md)"),
    "enroll": ("fer.enroll", "add a person to a people file, so video names them and applies their profile "
                             "(docs/people.md)"),
    "summarise": ("fer.summarise", "per-person summaries of records written earlier, or one table across the "
                                   "videos of a multirun (docs/summaries.md)"),
}


def usage() -> str:
    lines = ["usage: fer <command> [key=value ...]", "", "commands:"]
    lines += [f"  {name:<10} {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "fer <command> --help lists a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"error: fer: unknown command {command!r}; commands: {', '.join(COMMANDS)} (fer --help)",
              file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])
    return module.main(rest)


if __name__ == "__main__":
    sys.exit(main())
