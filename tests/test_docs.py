"""The product's documents speak of the product: versions, dates and machines, never of how it was made;
and every relative link of the README and docs/ leads to a file that exists."""

import re
import subprocess
from pathlib import Path

from tests.conftest import ROOT

TEXT = {".md", ".py", ".yaml", ".yml", ".toml", ".txt", ".sbatch", ".cfg", ".ini", ".sh", ".json", ".csv"}
PLACES = ("README.md", "docs", "fer", "conf", "bench", "tests")
# numbered work sessions (the word, an optional plural s, a space and a digit; or its possessive), the
# pattern built from pieces so that this file does not match itself. pytest's fixture scope and ONNX
# Runtime's InferenceSession do not match (see the test of the pattern below).
WORD = "sess" + "ion"
NUMBERED = re.compile(WORD + r"s? [0-9]|" + WORD + "'s", re.IGNORECASE)


def tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", *PLACES], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    return [ROOT / name for name in listed if name and Path(name).suffix in TEXT and (ROOT / name).is_file()]


def test_no_numbered_sessions_in_the_product_text():
    files = tracked_text_files()
    assert any(f.name == "README.md" for f in files) and len(files) > 50
    hits = [
        f"{f.relative_to(ROOT)}:{n}: {line.strip()}"
        for f in files
        for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1)
        if NUMBERED.search(line)
    ]
    assert not hits, "name versions, dates and machines instead:\n" + "\n".join(hits)


def test_the_pattern_catches_what_it_should():
    for text in (
        f"shipped in {WORD} 7",
        f"{WORD.capitalize()}s 6-7 trained",
        f"on {WORD} 8's Xeon",
        f"this {WORD}'s run",
    ):
        assert NUMBERED.search(text), text
    for text in (
        '@pytest.fixture(scope="' + WORD + '")',
        "ort.Inference" + WORD.capitalize() + "(path)",
        f"one {WORD}",
    ):
        assert not NUMBERED.search(text), text


def test_relative_links_of_the_readme_and_docs_resolve():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "fer" / "assets" / "README.md"]
    broken = []
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target) or target.startswith("#"):
                continue  # a web address or an anchor of the same page
            if not (page.parent / target.split("#", 1)[0]).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, "links to nothing:\n" + "\n".join(broken)
    readme = (ROOT / "README.md").read_text()
    for page in sorted((ROOT / "docs").glob("*.md")):  # every page is reachable from the README
        assert f"(docs/{page.name})" in readme, page.name
