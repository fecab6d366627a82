"""Regenerate every published figure: docs/results.json (the figures), then docs/results.md (every table), the
README's results headline and calibration row, and docs/calibration.md's tables rendered from it.

    python bench/report.py                 # measure, store, render (~10 min on 2 cores)
    python bench/report.py --skip-latency  # without the latency bench
    python bench/report.py --render-only   # no measuring: render the pages from docs/results.json (a second)

Measuring runs each row's command (the evaluations and audits run here, now); the cross-validation rows
summarise the fold runs of the sweeps under logs/<task>/multiruns/ (the newest run of each fold). Each row of
docs/results.json holds its figures by name, the command behind them, the machine (`--machine`, else this
one's cores and CPU model) and the date. Nothing is typed in by hand. The calibration rows are measured by
`python bench/calibration.py --write-docs <machine>` (25+ minutes on 2 cores), which stores them and then
renders the pages as `--render-only` does; measuring here leaves them as they are.

logs/ is not in git, so a fresh clone lacks the runs behind most rows. A row whose runs or weights are absent
keeps its stored figures, marked kept (the pages mark it †), instead of being dropped: regenerating one figure
never erases the others. Rerunning a row's command refreshes it.

The tables are built in bench/report_tables/: the versions of the default model as data (candidates.py), one
module that measures their runs and one that draws their tables, a module for each other table, the README's
headline, docs/results.json's reader and writer (store.py) and the pages' writer.
"""

import argparse
import tempfile
from pathlib import Path

from report_tables import checkout, store
from report_tables.audits import measure_audits
from report_tables.candidates_measure import measure_candidates
from report_tables.cross_validation import measure_cross_validation
from report_tables.evaluations import measure_evaluations
from report_tables.example import example_image
from report_tables.latency import measure_latency
from report_tables.what_helped import measure_differences
from report_tables.writer import write


def measure(results: store.Results, stamp: store.Stamp, skip_latency: bool) -> None:
    """Every row measurable in this checkout, into `results`; the others are kept."""
    work = Path(tempfile.mkdtemp(prefix="fer-report-"))
    checkout.docs_folder().mkdir(exist_ok=True)
    measure_evaluations(results, work, stamp)
    measure_candidates(results, work, stamp)
    measure_cross_validation(results, stamp)
    measure_audits(results, work, stamp)
    measure_latency(results, work, stamp, skip_latency)
    measure_differences(results)
    example_image(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-latency", action="store_true", help="keep the stored latency figures")
    parser.add_argument(
        "--render-only",
        "--no-measure",
        action="store_true",
        help="measure nothing: render docs/results.md, the README's blocks and docs/calibration.md's tables "
        "from docs/results.json",
    )
    parser.add_argument("--machine", help="the machine as rows measured now name it (default: cores and CPU model)")
    args = parser.parse_args()
    results = store.load()
    if not args.render_only:
        try:
            measure(results, store.now(args.machine), args.skip_latency)
        finally:  # what was measured before a failure is kept
            store.save(results)
            print(f"wrote {checkout.data_file()}")
    write(results)
    print(f"wrote {checkout.results_file()}, the README's blocks and {checkout.calibration_file()}'s tables")


if __name__ == "__main__":
    main()
