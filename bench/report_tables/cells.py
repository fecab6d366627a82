"""Table cells: numbers as the report prints them, and the marks it puts on rows."""

KEPT = " †"
KEPT_NOTE = (
    "† kept from the previous report: the runs or weights behind this row are not in this checkout "
    "(logs/ is not in git); its command regenerates it."
)
KEPT_SECTION = "Kept from the previous report: this section was not rerun here (its command regenerates it)."
CHOSEN = " **(chosen)**"


def shown(x: float | None, fmt: str = "{:.2f}") -> str:
    return "–" if x is None else fmt.format(x)


def mean_std(mean: float | None, std: float | None) -> str:
    """'91.6 ± 4.2' (in %); the mean alone where there is no spread (one fold); '–' where there is no mean."""
    return shown(mean) if std is None else f"{mean:.1f} ± {std:.1f}"


def kept_mark(kept: bool) -> str:
    return KEPT if kept else ""
