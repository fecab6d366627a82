"""Errors a user can fix (a missing file, a camera that will not open, an option value that does not exist).

The entry scripts print them as one line naming the option and what to do, and exit non-zero, with
no traceback (`HYDRA_FULL_ERROR=1` shows it). Anything else is a programming error and still raises.
Each subclass is also the built-in exception it always was, so `except FileNotFoundError` keeps working.
"""

import os
import sys


class UserError(Exception):
    """Bad input or configuration: the message says which option or file, and what to do."""


class MissingInput(UserError, FileNotFoundError):
    """A source, weights or data file that does not exist."""


class CannotOpen(UserError, OSError):
    """A camera, video or stream that exists (or may) but cannot be opened or read."""


class BadValue(UserError, ValueError):
    """An option value or file content this package cannot use."""


def report_and_exit(err: Exception, code: int = 2, prefix: str = "error") -> None:
    """One line on stderr and exit `code`; with HYDRA_FULL_ERROR=1 the error is raised as usual."""
    if os.environ.get("HYDRA_FULL_ERROR") == "1":
        raise err
    print(f"{prefix}: " + " ".join(str(err).split()), file=sys.stderr, flush=True)  # one line, whatever it wraps
    sys.exit(code)
