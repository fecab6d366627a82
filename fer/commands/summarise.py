"""`fer summarise source=<records.jsonl | sweep folder> out=<table.csv|json>` (also `python -m fer summarise`):
per-person summaries after the fact.

    fer summarise source=run.jsonl out=people.csv                          # records infer.py wrote earlier
    fer summarise source=logs/infer/multiruns/2026-12-07_10-00-00 out=all.csv   # one table across videos

A records file gives its per-person summary (as infer.py's output.summary would have); a folder gives one
table of every per-person summary (.json) under it, a row per person with the video and its run folder
in front: the merge of a multirun over many videos (docs/cluster.md).
"""

import sys
from pathlib import Path

from fer.errors import BadValue
from fer.inference.summary import merge_summaries, summarise, write_table
from fer.utils.commands import key_values, run_command

USAGE = "usage: fer summarise source=<records .jsonl, or a folder of run folders> out=<.csv or .json>"


def parse(argv: list[str]) -> dict:
    options = key_values(argv, {"source": None, "out": None}, USAGE)
    for key, value in options.items():
        if not value:
            raise BadValue(f"{key}= is missing\n{USAGE}")
    return options


def summarise_and_say(args: list[str]) -> str:
    options = parse(args)
    source = Path(options["source"])
    if source.is_dir():
        rows = merge_summaries(source)
        out = write_table(rows, options["out"])
        said = f"{len(rows)} people from {len({(r['source'], r['run']) for r in rows})} video(s)"
    else:
        summary = summarise(source)
        out = summary.write(options["out"])
        said = f"{len(summary.people)} people"
    return f"fer summarise: {said}; wrote {out}"


def main(argv: list[str] | None = None) -> int:
    return run_command(argv, USAGE, "fer summarise", summarise_and_say)


if __name__ == "__main__":
    sys.exit(main())
