"""Where the report reads runs and writes pages: this checkout. Every module reads `ROOT` when it is
called, not when it is imported, so that a test can point the whole report at a temporary tree."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def docs_folder() -> Path:
    return ROOT / "docs"


def data_file() -> Path:
    """docs/results.json: every published figure, by row, with the command, machine and date behind it."""
    return docs_folder() / "results.json"


def results_file() -> Path:
    """docs/results.md: every table, rendered from data_file()."""
    return docs_folder() / "results.md"


def calibration_file() -> Path:
    """docs/calibration.md: its tables are rendered from data_file() too."""
    return docs_folder() / "calibration.md"


def readme_file() -> Path:
    return ROOT / "README.md"
