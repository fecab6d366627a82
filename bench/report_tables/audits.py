"""Leakage audit: test images with a pixel-identical or near-identical twin in train/val, by fer.audit."""

from pathlib import Path

from .commands import audit

AUDITS = [("fer2013", ["data=fer2013"]), ("human", ["data=human"]), ("fer2013+human", ["data=fer2013+human"])]


def audit_all(work: Path) -> dict[str, dict]:
    """The audit of each data config of AUDITS, by its name."""
    audits = {}
    for data, args in AUDITS:
        print(f"audit: {data}")
        audits[data] = audit(args, work / f"audit_{data}")
    return audits


def audit_table(audits: dict[str, dict]) -> list[str]:
    lines = ["| data | source | test images | test with a pixel-identical twin in train/val | "
             "test with a near-identical twin (pHash ≤ 4 bits) | blank images (train/val/test) | command |",
             "|---|---|---:|---:|---:|---|---|"]
    for data, report in audits.items():
        lines += [audit_row(data, source, r) for source, r in report["sources"].items()]
    return lines


def audit_row(data: str, source: str, r: dict) -> str:
    across = r["across"]
    exact = across["train/test"]["test_with_pixel_identical_train"] + across["val/test"]["test_with_pixel_identical_val"]
    blanks = "/".join(str(r["within"][s]["blank"]) for s in ("train", "val", "test"))
    return (f"| {data} | {source} | {r['images']['test']} | {exact} | "
            f"{len(r['test_files_with_a_twin_in_train_or_val'])} | {blanks} | `python -m fer.audit data={data}` |")
