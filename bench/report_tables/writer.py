"""Writes the report: docs/results.md whole, and the README's block between its results markers."""

from . import checkout

README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def write_results(lines: list[str]) -> None:
    # the lines link images as the README would (docs/...); results.md sits in docs/ itself
    text = "\n".join(lines)
    checkout.results_file().write_text(text.replace("](docs/", "](") + "\n")


def write_readme_block(lines: list[str]) -> None:
    """Put the headline between the README's results markers (the README holds no other table)."""
    readme = checkout.readme_file().read_text()
    if README_START in readme:
        head, rest = readme.split(README_START, 1)
        tail = rest.split(README_END, 1)[1]
        block = "\n".join(lines)
        checkout.readme_file().write_text(f"{head}{README_START}\n{block}\n{README_END}{tail}")
