"""Where the report reads runs and writes pages: this checkout. Every module reads `ROOT` when it is
called, not when it is imported, so that a test can point the whole report at a temporary tree."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def docs_folder() -> Path:
    return ROOT / "docs"


def results_file() -> Path:
    """docs/results.md: every table, and the report the next run keeps absent rows from."""
    return docs_folder() / "results.md"


def readme_file() -> Path:
    return ROOT / "README.md"
