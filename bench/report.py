"""Regenerate every published figure: docs/results.md (every table) and the README's results headline.

    python bench/report.py                 # evaluations, audits, CV summaries, latency (~10 min on 2 cores)
    python bench/report.py --skip-latency  # without the latency bench

Each row runs the command shown next to it (the evaluations and audits run here, now); the
cross-validation rows summarise the fold runs of the sweeps under logs/<task>/multiruns/ (the
newest run of each fold), whose commands are shown too. Nothing is typed in by hand.

logs/ is not in git, so a fresh clone lacks the runs behind most rows. A row whose runs or weights
are absent is kept, marked †, from the report now in docs/results.md (which an earlier run of this
script wrote) instead of being dropped: regenerating one figure never erases the others. Rerunning a row's
command refreshes it.

The tables are built in bench/report_tables/, one module per table; this script runs them in order.
"""

import argparse
import shutil
import tempfile
from pathlib import Path

from report_tables import checkout
from report_tables.audits import audit_all
from report_tables.evaluations import evaluate_all
from report_tables.example import example_image
from report_tables.headline import headline
from report_tables.latency import latency_section
from report_tables.results_page import results_page, table_sections
from report_tables.v2_measure import v2_results
from report_tables.v3_measure import v3_results
from report_tables.writer import write_readme_block, write_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fer-report-"))
    docs = checkout.docs_folder()
    docs.mkdir(exist_ok=True)

    evaluations = evaluate_all(work)
    shutil.copy(work / "eval0" / "confusion_test_all.png", docs / "confusion_fer2013_publictest.png")
    v2 = v2_results(work)
    v3 = v3_results(work)
    audits = audit_all(work)
    example_image(work)
    sections = table_sections(evaluations, v2, v3, audits) + latency_section(args.skip_latency, work)
    headline_lines = headline(evaluations, v2, v3)  # before results.md is replaced: kept rows are read from it
    write_results(results_page(sections))
    write_readme_block(headline_lines)
    print(f"wrote {checkout.results_file()} and the README's results headline")


if __name__ == "__main__":
    main()
