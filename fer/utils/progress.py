"""Progress for long runs: a rich bar on a terminal, and a one-line summary at the end everywhere.

The bar goes to stderr and only when stderr is a terminal (`progress=false` turns it off), so piped
or logged output holds records and the summary only. Folders and video files show done / total,
cameras and streams a frame count and frame rate.
"""

import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

UNITS = {"images": "images", "video": "frames", "camera": "frames", "faces": "faces"}


class RunProgress:
    """Counts inputs, faces and failures; draws a bar while it runs (where one is wanted)."""

    def __init__(
        self, kind: str, total: int | None, enabled: bool = True, description: str = "", console: Console | None = None
    ) -> None:
        self.unit = UNITS.get(kind, "items")
        self.inputs = self.faces = self.failures = 0
        self._start = time.perf_counter()
        console = console or Console(stderr=True)
        self._bar = _bar(console, total, self.unit) if enabled and console.is_terminal else None
        self._task = self._bar.add_task(description or self.unit, total=total, faces=0, rate=0.0) if self._bar else None

    def __enter__(self) -> "RunProgress":
        if self._bar:
            self._bar.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bar:
            self._bar.stop()

    def advance(self, faces: int = 0, failed: bool = False, count: int = 1) -> None:
        self.inputs += count
        self.faces += faces
        self.failures += failed
        if self._bar:
            rate = self.inputs / max(self.elapsed_s, 1e-9)
            self._bar.update(self._task, advance=count, faces=self.faces, rate=rate)

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self._start

    def summary(self) -> str:
        elapsed = self.elapsed_s
        return (
            f"{self.inputs} {self.unit}, {self.faces} face(s), {self.failures} failed, "
            f"{self.faces / max(elapsed, 1e-9):.1f} faces/s ({elapsed:.1f} s)"
        )


def _bar(console: Console, total: int | None, unit: str) -> Progress:
    if total is None:  # a camera or stream: no end to show, the rate matters
        columns = [
            TextColumn("{task.description}"),
            TextColumn("{task.completed} " + unit),
            TextColumn("{task.fields[rate]:.1f} fps"),
            TextColumn("{task.fields[faces]} faces"),
            TimeElapsedColumn(),
        ]
    else:
        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit),
            TextColumn("{task.fields[faces]} faces"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        ]
    return Progress(*columns, console=console, transient=False)
