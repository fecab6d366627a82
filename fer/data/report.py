"""Tables printed for people: what each source contributed and what was skipped, and why."""

from collections import Counter

from rich.console import Console
from rich.table import Table

from fer.data.sample import FaceSample
from fer.data.scan import SKIP_REASONS, SourceReport


def print_source_table(reports: list[SourceReport], splits: dict[str, list[FaceSample]]) -> None:
    per_split = {name: Counter(r.source for r in records) for name, records in splits.items()}
    table = Table(title="Data sources")
    for column in ["source", "found", "used", *SKIP_REASONS, *splits]:
        table.add_column(column, justify="left" if column == "source" else "right")
    for report in reports:
        skipped = [str(report.skipped.get(reason, 0)) for reason in SKIP_REASONS]
        counts = [str(per_split[name][report.source]) for name in splits]
        table.add_row(report.source, str(report.found), str(report.used), *skipped, *counts)
    console = Console(width=max(120, Console().width))
    console.print(table)
    for report in reports:
        for reason, names in report.examples.items():
            console.print(
                f"  {report.source}: {report.skipped[reason]} skipped as {reason}, e.g. {', '.join(names[:3])}"
            )
