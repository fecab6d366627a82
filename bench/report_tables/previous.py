"""The previous report: docs/results.md as an earlier run of bench/report.py wrote it.

logs/ is not in git, so a fresh clone lacks the runs behind most rows. A row whose runs or weights are
absent here is kept from the previous report, marked †, instead of being dropped: regenerating one
figure never erases the others.
"""

import functools
from pathlib import Path

from . import checkout
from .cells import cells

KEPT = " †"
KEPT_NOTE = ("† kept from the previous report: the runs or weights behind this row are not in this checkout "
             "(logs/ is not in git); its command regenerates it.")
KEPT_SECTION = "Kept from the previous report: this section was not rerun here (its command regenerates it)."
CHOSEN = " **(chosen)**"


def previous_report() -> str:
    """The full report an earlier run wrote (docs/results.md; the README holds only its headline)."""
    return _text(checkout.results_file())


def _text(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def row_key(first_cell: str) -> str:
    """A row's name without the marks a report adds to it, so that a kept row is found again by its name."""
    return first_cell.replace(CHOSEN, "").removesuffix(KEPT)


def previous_rows() -> dict[str, str]:
    """Table rows of the previous report by their first cell (the row's name), marked as kept."""
    return _marked_rows(checkout.results_file())


@functools.lru_cache(maxsize=None)  # every table asks for the previous rows, row by row; read the file once
def _marked_rows(results: Path) -> dict[str, str]:
    rows = {}
    for line in _text(results).splitlines():
        if line.startswith("| ") and not line.startswith("|---"):
            first = cells(line)[0]
            marked = line if first.endswith(KEPT) else line.replace(f"| {first} |", f"| {first}{KEPT} |", 1)
            rows.setdefault(row_key(first), marked)
    return rows


def measured_or_kept(name: str, folder: str, measure, previous) -> dict:
    """A run's figures: `measure()` where its int8 export is in this checkout, else `previous(name)`, marked kept."""
    if not (checkout.ROOT / folder / "model.int8.onnx").is_file():
        print(f"  {name}: kept (no {folder}/model.int8.onnx)")
        return {"figures": previous(name), "kept": True}
    return {"figures": measure(), "kept": False}


def previous_number(name: str, column: int) -> float | None:
    """The (first) number in a column of a previous row, as a fraction: '91.6 ± 4.2' -> 0.916."""
    row = previous_rows().get(name)
    return float(cells(row)[column].split()[0]) / 100 if row else None


def previous_section(title: str) -> list[str]:
    """A previous section's lines, from its heading to the next one, marked as kept."""
    text = previous_report()
    if title not in text:
        return []
    body = text.split(title, 1)[1].split("\n### ", 1)[0].strip().splitlines()
    if body and body[0] == KEPT_SECTION:  # kept once already: mark it once, not twice
        body = body[2:]
    return [title, "", KEPT_SECTION, "", *body, ""]
