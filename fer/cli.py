"""`fer <command> [key=value ...]`: the package's command-line front door (pyproject's `fer` script; also
`python -m fer <command>`).

Each command is a module with `main(argv) -> exit code`, imported only when it runs, so `fer --help` is instant.
Every command takes `key=value` options: train, infer, evaluate and audit are Hydra apps on conf/ (their options
are config overrides; -m sweeps; --help lists the config groups, --cfg job shows the composed config), the others
parse their own (`fer <command> --help`).
"""

import importlib
import sys

# command -> (module with main(argv), one line of help)
COMMANDS = {
    "train": (
        "fer.commands.train",
        "train a model from conf/train.yaml: model=, data=, experiment=, ... "
        "(python train.py is the same; docs/training.md)",
    ),
    "infer": (
        "fer.commands.infer",
        "recognise expressions in images, folders, videos, cameras and streams "
        "(python infer.py is the same; docs/inference.md)",
    ),
    "evaluate": ("fer.commands.evaluate", "a model's figures on a data config's split (docs/evaluation.md)"),
    "audit": ("fer.commands.audit", "leakage audit: test images with a twin in train or val (docs/evaluation.md)"),
    "export": (
        "fer.export.write",
        "TorchScript / ONNX / int8 files from a model file, ensembles, float from int8 (docs/inference.md)",
    ),
    "serve": ("fer.serve.__main__", "the HTTP service and web page: webcam, images, WebSocket stream (docs/serve.md)"),
    "calibrate": (
        "fer.commands.calibrate",
        "a profile that fits the model to a person or camera from labelled photos (docs/calibration.md)",
    ),
    "enroll": (
        "fer.commands.enroll",
        "add a person to a people file, so video names them and applies their profile (docs/people.md)",
    ),
    "summarise": (
        "fer.commands.summarise",
        "per-person summaries of records written earlier, or one table across the "
        "videos of a multirun (docs/summaries.md)",
    ),
    "report": (
        "fer.commands.report",
        "regenerate every published figure: docs/results.md, the README's results (bench/report.py; a checkout only)",
    ),
    "import-weights": (
        "fer.commands.import_weights",
        "bring the publisher's MobileFace files into the package: the identity network, the trunk structures",
    ),
    "info": (
        "fer.commands.info",
        "CPU flags and the training precision auto picks, library versions, the shipped model",
    ),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: fer <command> [key=value ...]", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "fer <command> --help lists a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"error: fer: unknown command {command!r}; commands: {', '.join(COMMANDS)} (fer --help)", file=sys.stderr)
        return 2
    try:
        module = importlib.import_module(COMMANDS[command][0])
    except ModuleNotFoundError as err:  # a command of the train extra on the light install
        if (err.name or "fer").split(".")[0] == "fer":
            raise
        print(f"error: fer {command}: {err.name} is not installed; pip install 'openfer[train]'", file=sys.stderr)
        return 2
    return module.main(rest)


def say_moved(old: str, new: str) -> None:
    """The one line on stderr with which an old command-line name points to its new one."""
    print(f"note: {old} is now `{new}`; the old name goes in a later release", file=sys.stderr)


def old_name(old: str, command: str) -> None:
    """`python -m fer.<old module> <args>`: the pointer to `fer <command>`, then the command with the same args."""
    old_spelling(old, f"fer {command}", sys.argv[1:])


def old_spelling(
    old: str, new: str, args: list[str], names: tuple[str, ...] = (), flags: dict[str, str] | None = None
) -> None:
    """An old name with a grammar of its own (positional arguments, --flags): the pointer to `new`
    (`fer <command> key=<...> ...`), then that command with the old `args` translated to its key=value ones.

    The n-th positional argument becomes names[n]=<it> (an empty name drops it: a subcommand's word); `--flag
    value` and `--flag=value` become flags[--flag]=value; the words of `new` that are not placeholders
    (what=trunks) come along. Anything else (--help, a flag not in `flags`, one positional argument too many)
    goes to the command as it is, which answers it: its help, or its usage and exit code 2."""
    say_moved(old, new)
    command, *words = new.split()[1:]
    translated, positional, rest = [w for w in words if "<" not in w], list(names), list(args)
    while rest:
        arg = rest.pop(0)
        flag, given, value = arg.partition("=")
        if flags and flag in flags:
            translated.append(f"{flags[flag]}={value if given else (rest.pop(0) if rest else '')}")
        elif arg.startswith("-") or not positional:
            translated.append(arg)
        elif name := positional.pop(0):
            translated.append(f"{name}={arg}")
    sys.exit(main([command, *translated]))


if __name__ == "__main__":
    sys.exit(main())
