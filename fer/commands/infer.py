"""`fer infer source=<image, folder, video, webcam or stream> [key=value ...]` (also `python infer.py`).

Its options: the recognizer's settings (fer.inference.options.RecognizerOptions, which Hydra reads as the node
`recognizer_options` stored here) and the run's own (conf/infer.yaml: source, outputs, display). The exit code is the
number of inputs that could not be read; an error in the options or the source is one line on stderr and exit code 2
(HYDRA_FULL_ERROR=1: traceback).
"""

import sys
from dataclasses import fields

from fer.utils.commands import hydra_command

RECOGNIZER_NODE = "recognizer_options"


def store_recognizer_options() -> None:
    """RecognizerOptions' defaults as the config node conf/infer.yaml starts from, so that they are written once.
    The detector is left out: infer.py picks it as a config group (conf/detector/), whose default is the same."""
    from hydra.core.config_store import ConfigStore

    from fer.inference.options import RecognizerOptions

    defaults = {f.name: f.default for f in fields(RecognizerOptions) if f.name != "detector"}
    ConfigStore.instance().store(name=RECOGNIZER_NODE, node=defaults)


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
    store_recognizer_options()
    return hydra_command(task, "infer", argv)
