"""What the entry points print: our own messages once, other libraries' chatter in the run's log file only.

Hydra sends every log record to two handlers (conf/hydra/default.yaml): the run's log file gets all of
them; the terminal gets this package's messages and other libraries' warnings and errors, through
`ConsoleFilter`. Lightning installs terminal handlers of its own when imported, which printed each of its
messages a second time; `tidy_console` takes them out, so its records reach the file (and, at warning
level, the terminal) through Hydra's handlers. Deprecation warnings raised inside libraries are the
libraries' business: they go to the file, not the terminal.

`verbose=true` (or `HYDRA_FULL_ERROR=1`) prints everything, as the libraries would on their own.
This module imports nothing heavy: Hydra loads it while it configures logging.
"""

import logging
import os
import warnings
from pathlib import Path

OWN_LOGGERS = ("fer", "__main__")
LIBRARY_DEPRECATIONS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
WARNINGS_LOGGER = "py.warnings"
PACKAGE_DIR = Path(__file__).resolve().parent
# wandb prints a notice at start and at the end of every offline run; the run's summary says where it is
QUIET_ENVIRONMENT = {"WANDB_SILENT": "true"}


def everything_wanted() -> bool:
    return os.environ.get("HYDRA_FULL_ERROR") == "1" or os.environ.get("FER_VERBOSE") == "1"


class ConsoleFilter(logging.Filter):
    """Terminal records: ours from INFO, everyone else's from WARNING, no library's deprecation notices."""

    def filter(self, record: logging.LogRecord) -> bool:
        if everything_wanted():
            return True
        if record.name.split(".")[0] in OWN_LOGGERS:
            return getattr(record, "console", True)  # False: the file's copy of what a progress bar shows
        if record.name == WARNINGS_LOGGER and getattr(record, "library_deprecation", False):
            return False
        return record.levelno >= logging.WARNING


class ConsoleFormatter(logging.Formatter):
    """`message` for information, `WARNING: message` (level name first) for anything worse."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return text if record.levelno <= logging.INFO else f"{record.levelname}: {text}"


def tidy_console(verbose: bool = False) -> None:
    """Call once an entry point has imported its libraries (Lightning adds its handlers at import)."""
    if verbose:
        os.environ["FER_VERBOSE"] = "1"
        return
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    if not logging.getLogger().handlers:  # not under Hydra (a library call): leave the user's logging alone
        return
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if type(handler) is logging.StreamHandler:  # the terminal handlers, not a file a user added
                logger.removeHandler(handler)
        logger.propagate = True
    warnings.showwarning = _log_warning


def _log_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Python warnings as log records, marked when they are another library's deprecation notice."""
    record_text = f"{category.__name__}: {message} ({filename}:{lineno})"
    ours = Path(filename).resolve().is_relative_to(PACKAGE_DIR)
    deprecation = issubclass(category, LIBRARY_DEPRECATIONS) and not ours
    logging.getLogger(WARNINGS_LOGGER).warning(record_text, extra={"library_deprecation": deprecation})
