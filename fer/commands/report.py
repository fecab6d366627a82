"""`fer report [--skip-latency]`: regenerate every published figure (docs/results.md and the README's results
headline) by running bench/report.py's main. The benchmarks live in the repository, not in the installed package,
so this runs from a checkout (or an editable install of one)."""

import runpy
import sys

from fer.utils.commands import PACKAGE_DIR, checkout

USAGE = (
    "usage: fer report [--skip-latency]: regenerates docs/results.md and the README's results headline "
    "(bench/report.py; needs a checkout of the repository)"
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    root = checkout()
    script = root / "bench" / "report.py" if root else None
    if script is None or not script.is_file():
        if any(arg in ("-h", "--help") for arg in argv):
            print(USAGE)
            return 0
        print(
            f"error: fer report: bench/report.py is not next to this installed package ({PACKAGE_DIR}); run it "
            "from a checkout of the repository (pip install -e <checkout>)",
            file=sys.stderr,
        )
        return 2
    saved = sys.argv
    sys.argv = [str(script), *argv]  # as `python bench/report.py` has them: its arguments, bench/ on the path
    sys.path.insert(0, str(script.parent))
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = saved
        sys.path.remove(str(script.parent))
    return 0
