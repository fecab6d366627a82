"""Renders the report from docs/results.json: docs/results.md whole, the README's blocks between its results
and calibration-headline markers, and docs/calibration.md's block between its calibration markers (the README
and docs/calibration.md hold no other generated text)."""

from . import calibration, checkout, store
from .headline import headline
from .results_page import results_page

README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def results_text(results: store.Results) -> str:
    # the lines link images as the README would (docs/...); results.md sits in docs/ itself
    return "\n".join(results_page(results)).replace("](docs/", "](") + "\n"


def replace_block(text: str, start: str, end: str, lines: list[str]) -> str:
    """`text` with `lines` between its two markers (unchanged where it has no markers or there are no lines)."""
    if start not in text or not lines:
        return text
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    return f"{head}{start}\n" + "\n".join(lines) + f"\n{end}{tail}"


def readme_text(readme: str, results: store.Results) -> str:
    """The README with the results headline and the calibration row between their markers."""
    readme = replace_block(readme, README_START, README_END, headline(results))
    return replace_block(readme, calibration.README_START, calibration.README_END, calibration.headline_lines(results))


def calibration_text(page: str, results: store.Results) -> str:
    """docs/calibration.md with its tables between the calibration markers."""
    return replace_block(page, calibration.DOCS_START, calibration.DOCS_END, calibration.docs_lines(results))


def write(results: store.Results) -> None:
    checkout.results_file().write_text(results_text(results))
    readme = checkout.readme_file()
    readme.write_text(readme_text(readme.read_text(), results))
    page = checkout.calibration_file()
    if page.is_file():
        page.write_text(calibration_text(page.read_text(), results))
