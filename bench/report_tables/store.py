"""docs/results.json: every published figure, by row, with the command, machine and date that produced it.

    {"about": "...", "rows": {"<row id>": {"command": "...", "machine": "...", "date": "YYYY-MM-DD",
                                           "kept": false, "metrics": {"<metric>": <number, list or null>},
                                           "settings": {...}}}}

A row id is short and stable (`shipped/ferplus`, `v3/mf_v1_alone`, `cv/human_cv`); a table names its rows in
its own config, so renaming a row's label never touches its figures. Accuracies, F1 and changes are in %, ECE
and neutral precision as fractions, times in ms, sizes in MB. `kept`: the latest `python bench/report.py`
could not re-measure the row (its runs or weights were not in that checkout), so the row keeps the figures of
its date; the tables mark it †. `settings` (optional): what the figures were measured with, as the page shows it.
A difference of "What helped" (`helped/...`) is computed by bench/report.py from two rows, which it names
(`compares`, `metric`); its machine and date are theirs. The calibration rows (`calibration/...`) are written by
`python bench/calibration.py --write-docs <machine>`; their metrics are nested by protocol cell and method
(bench/report_tables/calibration.py says how), and docs/calibration.md's tables are rendered from them too.
"""

import datetime
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path

from . import checkout

ABOUT = (
    "Every figure of docs/results.md, the README's results and calibration blocks and docs/calibration.md's "
    "tables, by row: the command that produced it, the machine and the date. Written by `python bench/report.py` "
    "(the calibration rows by `python bench/calibration.py --write-docs <machine>`); rendered by it "
    "(`--render-only` renders without measuring). Units: accuracy, F1 and changes in %, ECE and "
    "neutral precision as fractions, ms, MB."
)
Results = dict  # {"about": str, "rows": {row id: row}}


@dataclass(frozen=True)
class Stamp:
    """Where and when the rows measured now are measured."""

    machine: str
    date: str


def this_machine() -> str:
    """The machine as a row names it: cores and CPU model ("2-core Intel(R) Xeon(R) Processor")."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            model,
        )
    return f"{os.cpu_count()}-core {model}"


def now(machine: str | None = None) -> Stamp:
    return Stamp(machine or this_machine(), datetime.date.today().isoformat())


def load(path: Path | None = None) -> Results:
    path = path or checkout.data_file()
    return json.loads(path.read_text()) if path.is_file() else {"about": ABOUT, "rows": {}}


def dumps(results: Results) -> str:
    return json.dumps(results, indent=2, ensure_ascii=False) + "\n"


def save(results: Results, path: Path | None = None) -> None:
    (path or checkout.data_file()).write_text(dumps(results))


def record(
    results: Results,
    row_id: str,
    metrics: dict,
    command: str,
    stamp: Stamp,
    settings: dict | None = None,
    kept: bool = False,
    **fields,
) -> None:
    """Store a row (replacing what it held): measured now, or computed from kept rows (`kept`)."""
    row = {"command": command, "machine": stamp.machine, "date": stamp.date, "kept": kept, **fields}
    results["rows"][row_id] = {**row, **({"settings": settings} if settings else {}), "metrics": metrics}


def keep(results: Results, row_id: str) -> None:
    """A row that could not be measured now keeps its figures, marked kept (if it has any)."""
    if row_id in results["rows"]:
        results["rows"][row_id]["kept"] = True
        print(f"  {row_id}: kept from {results['rows'][row_id]['date']}")


def row(results: Results, row_id: str) -> dict | None:
    return results["rows"].get(row_id)


def figure(results: Results, row_id: str | None, metric: str) -> tuple[float | None, bool]:
    """(one figure of a row or None, whether it is kept or missing)."""
    found = row(results, row_id) if row_id else None
    if not found or found["metrics"].get(metric) is None:
        return None, True
    return found["metrics"][metric], found["kept"]
