"""What the `fer <command>` modules share: their `key=value` arguments, how a command reports its outcome
(one line on stdout) or a user error (one line on stderr, exit code 2), and how the Hydra commands (train, infer,
evaluate, audit) find conf/ wherever they are started from."""

import importlib.util
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from fer.errors import BadValue, MissingInput, UserError, report_and_exit

PACKAGE_DIR = Path(__file__).resolve().parents[1]
# conf/ as an installed package holds it (pyproject.toml and setup.py map the checkout's conf/ to fer_conf)
CONF_PACKAGE = "fer_conf"


def key_values(argv: list[str], defaults: dict, usage: str, required: tuple[str, ...] = ()) -> dict:
    """`key=value` arguments merged into `defaults` (every key must be one of theirs; each `required` one given)."""
    options = dict(defaults)
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise BadValue(f"{arg!r} is not key=value\n{usage}")
        if key not in defaults:
            raise BadValue(f"unknown option {key!r}; options: {', '.join(defaults)}\n{usage}")
        options[key] = value
    for key in required:
        if not options[key]:
            raise BadValue(f"{key}= is missing\n{usage}")
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


def checkout() -> Path | None:
    """The repository folder the package runs from (a checkout, or an editable install of one), or None for an
    installed copy."""
    root = PACKAGE_DIR.parent
    return root if (root / "conf" / "train.yaml").is_file() else None


def config_dir() -> Path:
    """The Hydra configs: the checkout's conf/, else the copy installed with the package (fer_conf)."""
    root = checkout()
    if root is not None:
        return root / "conf"
    spec = importlib.util.find_spec(CONF_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / "train.yaml").is_file():
            return Path(folder)
    raise MissingInput(
        f"the configs are not installed: neither {PACKAGE_DIR.parent / 'conf'} nor the "
        f"{CONF_PACKAGE} package holds train.yaml; reinstall the package (pip install fer)"
    )


def hydra_command(task: Callable, config_name: str, argv: list[str] | None) -> int:
    """Run `task(cfg)` as a Hydra app on conf/<config_name>.yaml with `argv` (Hydra's own grammar: key=value
    overrides, -m, --help, --cfg job, ...). sys.argv is left as it is, so that a process that relaunches itself
    (Lightning's DDP) reruns the same command. The job's name is the task module's last name (train.log, ...).

    Run from a checkout, paths.root_dir is the checkout (logs/, ../shared/data) wherever the command starts, as
    `python train.py` has it; an installed copy uses the current folder."""
    from hydra import version
    from hydra._internal.utils import _run_hydra, get_args_parser  # what hydra.main runs, with our arguments

    try:
        conf = config_dir()
    except UserError as err:
        report_and_exit(err, code=2, prefix=f"fer {config_name}")
    if checkout() is not None:
        os.environ.setdefault("FER_PROJECT_ROOT", str(checkout()))
    version.setbase("1.3")
    parser = get_args_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    _run_hydra(args=args, args_parser=parser, task_function=task, config_path=str(conf), config_name=config_name)
    return 0


def needs_train_extra(command: str) -> None:
    """A one-line error (exit 2) where torch, which `command` runs on, is not installed."""
    if importlib.util.find_spec("torch") is None:
        report_and_exit(
            MissingInput(
                "torch is not installed (the light install runs infer, serve, calibrate, "
                "enroll, summarise and info); pip install 'openfer[train]'"
            ),
            code=2,
            prefix=f"fer {command}",
        )
