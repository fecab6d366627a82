"""Renders the report from docs/results.json: docs/results.md whole, and the README's block between its
results markers (the README holds no other table)."""

from . import checkout, store
from .headline import headline
from .results_page import results_page

README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def results_text(results: store.Results) -> str:
    # the lines link images as the README would (docs/...); results.md sits in docs/ itself
    return "\n".join(results_page(results)).replace("](docs/", "](") + "\n"


def readme_text(readme: str, results: store.Results) -> str:
    """The README with the headline between its results markers (unchanged where it has no markers)."""
    if README_START not in readme:
        return readme
    head, rest = readme.split(README_START, 1)
    tail = rest.split(README_END, 1)[1]
    return f"{head}{README_START}\n" + "\n".join(headline(results)) + f"\n{README_END}{tail}"


def write(results: store.Results) -> None:
    checkout.results_file().write_text(results_text(results))
    readme = checkout.readme_file()
    readme.write_text(readme_text(readme.read_text(), results))
