"""`fer infer source=<image, folder, video, webcam or stream> [key=value ...]` (also `python infer.py`).

Every option lives in conf/infer.yaml. The exit code is the number of inputs that could not be read; an error in
the options or the source is one line on stderr and exit code 2 (HYDRA_FULL_ERROR=1: traceback).
"""

import sys

from fer.utils.commands import hydra_command


def task(cfg) -> None:
    from fer.errors import UserError, report_and_exit
    from fer.inference.infer import run

    try:
        failures = run(cfg)
    except UserError as err:  # a missing source, a camera that will not open, bad weights: one line, exit 2
        report_and_exit(err)
    if failures:
        sys.exit(min(failures, 125))  # exit codes are one byte; 126 and up mean other things to shells


def main(argv: list[str] | None = None) -> int:
    return hydra_command(task, "infer", argv)
