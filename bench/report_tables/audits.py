"""Leakage audit: test images with a pixel-identical or near-identical twin in train/val, by fer.audit."""

from pathlib import Path

from . import store
from .cells import kept_mark
from .commands import audit

AUDITS = ["fer2013", "human", "fer2013+human"]  # data configs; each audit's rows are audit/<data>/<source>


def measure_audits(results: store.Results, work: Path, stamp: store.Stamp) -> None:
    for data in AUDITS:
        print(f"audit: {data}")
        report = audit([f"data={data}"], work / f"audit_{data}")
        for row_id in [r for r in results["rows"] if r.startswith(f"audit/{data}/")]:
            del results["rows"][row_id]  # the sources as they are now, in their order
        for source, r in report["sources"].items():
            across = r["across"]
            store.record(
                results,
                f"audit/{data}/{source}",
                {
                    "test_images": r["images"]["test"],
                    "pixel_identical_twins": across["train/test"]["test_with_pixel_identical_train"]
                    + across["val/test"]["test_with_pixel_identical_val"],
                    "near_identical_twins": len(r["test_files_with_a_twin_in_train_or_val"]),
                    **{f"blank_{split}": r["within"][split]["blank"] for split in ("train", "val", "test")},
                },
                f"fer audit data={data}",
                stamp,
            )


def audit_table(results: store.Results) -> list[str]:
    lines = [
        "| data | source | test images | test with a pixel-identical twin in train/val | "
        "test with a near-identical twin (pHash ≤ 4 bits) | blank images (train/val/test) | command |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for data in AUDITS:
        for row_id, row in results["rows"].items():
            if row_id.startswith(f"audit/{data}/"):
                m = row["metrics"]
                blanks = "/".join(str(m[f"blank_{split}"]) for split in ("train", "val", "test"))
                lines.append(
                    f"| {data}{kept_mark(row['kept'])} | {row_id.split('/')[2]} | {m['test_images']} | "
                    f"{m['pixel_identical_twins']} | {m['near_identical_twins']} | {blanks} | "
                    f"`{row['command']}` |"
                )
    return lines
