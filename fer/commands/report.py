"""`fer report [skip_latency=true] [render_only=true] [machine=<text>]`: regenerate every published figure
(docs/results.json, then docs/results.md, the README's blocks and docs/calibration.md's tables rendered from it) by
running bench/report.py. The benchmarks live in the repository, not in the installed package, so this runs from a
checkout (or an editable install of one)."""

import runpy
import sys

from fer.errors import BadValue
from fer.utils.commands import PACKAGE_DIR, checkout, key_values

USAGE = (
    "usage: fer report [skip_latency=true] [render_only=true] [machine=<the machine as new rows name it>]: "
    "measures what this checkout can and renders docs/results.md, the README's blocks and docs/calibration.md "
    "from docs/results.json (render_only: measures nothing; skip_latency: keeps the stored latency rows; "
    "bench/report.py; needs a checkout of the repository)"
)
# option -> bench/report.py's flag (a switch for true/false options, else the flag and the value)
FLAGS = {"skip_latency": "--skip-latency", "render_only": "--render-only", "machine": "--machine"}
SWITCHES = ("skip_latency", "render_only")


def script_arguments(argv: list[str]) -> list[str]:
    """`key=value` options as bench/report.py's own flags."""
    options = key_values(argv, dict.fromkeys(FLAGS, ""), USAGE)
    flags = []
    for key in SWITCHES:
        value = options[key].lower()
        if value not in ("", "true", "false"):
            raise BadValue(f"{key}={options[key]}: say true or false\n{USAGE}")
        flags += [FLAGS[key]] if value == "true" else []
    return flags + ([FLAGS["machine"], options["machine"]] if options["machine"] else [])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(arg in ("-h", "--help", "help") for arg in argv):
        print(USAGE)
        return 0
    try:
        flags = script_arguments(argv)
    except BadValue as err:
        print(f"error: fer report: {err}", file=sys.stderr)  # the bad option, then the usage
        return 2
    root = checkout()
    script = root / "bench" / "report.py" if root else None
    if script is None or not script.is_file():
        print(
            f"error: fer report: bench/report.py is not next to this installed package ({PACKAGE_DIR}); run it "
            "from a checkout of the repository (pip install -e <checkout>)",
            file=sys.stderr,
        )
        return 2
    saved = sys.argv
    sys.argv = [str(script), *flags]  # as `python bench/report.py` has them: its arguments, bench/ on the path
    sys.path.insert(0, str(script.parent))
    try:
        runpy.run_path(str(script), run_name="__main__")
    finally:
        sys.argv = saved
        sys.path.remove(str(script.parent))
    return 0
