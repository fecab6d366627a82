"""Table cells: numbers as the report prints them, and read back from a printed row."""

import statistics


def pct(x: float) -> str:
    return f"{100 * x:.2f}"


def mean_std(values: list[float]) -> str:
    return f"{100 * statistics.mean(values):.1f} ± {100 * statistics.stdev(values):.1f}" if len(values) > 1 else pct(values[0])


def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def number(cell: str) -> float | None:
    """The leading number of a printed cell ('91.6 ± 4.2' -> 91.6); None for '–', 'not run' or an empty cell."""
    try:
        return float(cell.split()[0])
    except (ValueError, IndexError):
        return None
