"""Leakage audit: the same face in two splits inflates every figure measured on them.

    fer audit data=fer2013
    fer audit data=human near_bits=6

For each source of a data config, after the splits training uses are made: pixel-identical images
(hash of the decoded pixels) and near-identical ones (64-bit perceptual hash within `near_bits`
bits) across train/val/test, duplicates inside each split, label conflicts, and blank images.
Writes audit.json in the run folder, including the test files that have a twin in train or val
(`fer evaluate` reports figures with and without them).
"""

import hashlib
import json
import logging
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np
from omegaconf import DictConfig

from fer.data.sample import FaceSample
from fer.labels import LABELS
from fer.utils.console import tidy_console

log = logging.getLogger(__name__)
PAIRS = (("train", "val"), ("train", "test"), ("val", "test"))


def perceptual_hash(grey: np.ndarray) -> int:
    """pHash: signs of the 8x8 lowest DCT frequencies of a 32x32 version against their median."""
    small = cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8].flatten()
    bits = low > np.median(low[1:])  # the DC term (overall brightness) is left out of the median
    return int(np.packbits(bits).view(">u8")[0])


class Fingerprints:
    """Exact and perceptual hashes of a list of records, read as training reads them."""

    def __init__(self, records: list[FaceSample], sources: dict) -> None:
        self.records = records
        self.exact, phash, self.blank = [], [], []
        for record in records:
            grey = sources[record.source].load(record)
            self.exact.append(hashlib.sha1(grey.tobytes() + str(grey.shape).encode()).hexdigest())
            phash.append(perceptual_hash(grey))
            self.blank.append(bool(grey.std() < 1.0))  # constant images carry no face at all
        self.phash = np.array(phash, dtype=np.uint64)

    def nearest_bits(self, other: "Fingerprints", chunk: int = 512) -> np.ndarray:
        """For each record here: Hamming distance to the closest perceptual hash in `other`."""
        if not len(other.phash):
            return np.full(len(self.phash), 64)
        out = np.empty(len(self.phash), dtype=np.int64)
        for start in range(0, len(self.phash), chunk):
            block = self.phash[start : start + chunk, None] ^ other.phash[None, :]
            out[start : start + chunk] = np.bitwise_count(block).min(axis=1)
        return out


def audit_source(splits: dict[str, list[FaceSample]], sources: dict, near_bits: int) -> dict:
    prints = {name: Fingerprints(records, sources) for name, records in splits.items()}
    report = {"images": {name: len(records) for name, records in splits.items()}, "within": {}, "across": {}}
    for name, fp in prints.items():
        groups = Counter(fp.exact)
        report["within"][name] = {
            "pixel_identical_extra_copies": sum(n - 1 for n in groups.values() if n > 1),
            "conflicting_labels": _conflicts(fp),
            "blank": int(sum(fp.blank)),
        }
    twinned_test: set[str] = set()  # test faces (record keys: file, box if any) with a twin in train or val
    for a, b in PAIRS:
        exact_a = set(prints[a].exact)
        exact = [x in exact_a for x in prints[b].exact]
        near = prints[b].nearest_bits(prints[a]) <= near_bits
        report["across"][f"{a}/{b}"] = {
            f"{b}_with_pixel_identical_{a}": int(sum(exact)),
            f"{b}_with_near_identical_{a}": int(near.sum()),
        }
        if b == "test":
            twinned_test.update(r.key for r, e, n in zip(prints[b].records, exact, near) if e or n)
    report["test_files_with_a_twin_in_train_or_val"] = sorted(twinned_test)
    return report


def _conflicts(fp: Fingerprints) -> int:
    labels: dict[str, set[int]] = defaultdict(set)
    for digest, record in zip(fp.exact, fp.records):
        labels[digest].add(record.label)
    return sum(1 for found in labels.values() if len(found) > 1)


def audit(datamodule, near_bits: int = 4) -> dict:
    """Audit every source of a set-up datamodule; keyed by source name."""
    by_source: dict[str, dict[str, list[FaceSample]]] = defaultdict(lambda: {"train": [], "val": [], "test": []})
    for split, records in datamodule.splits.items():
        for record in records:
            by_source[record.source][split].append(record)
    return {name: audit_source(splits, datamodule.sources, near_bits) for name, splits in by_source.items()}


def contaminated_test_files(report: dict) -> set[str]:
    return {path for source in report.values() for path in source["test_files_with_a_twin_in_train_or_val"]}


def print_audit(report: dict, near_bits: int) -> None:
    for name, source in report.items():
        print(f"\n{name}: images {source['images']}")
        for split, counts in source["within"].items():
            print(f"  within {split:5s}: {counts}")
        for pair, counts in source["across"].items():
            print(f"  across {pair:10s}: {counts}  (near = pHash within {near_bits} bits)")
        print(f"  test files with a twin in train or val: {len(source['test_files_with_a_twin_in_train_or_val'])}")


def run(cfg: DictConfig) -> None:
    """`fer audit`'s task (fer/commands/audit.py runs it on conf/audit.yaml)."""
    from fer.data.datamodule import prepared_data  # imported here: lightning loads only when the audit runs

    tidy_console(verbose=bool(cfg.get("verbose")))
    datamodule = prepared_data(cfg.data)
    report = audit(datamodule, cfg.near_bits)
    print_audit(report, cfg.near_bits)
    out = Path(cfg.paths.output_dir) / "audit.json"
    out.write_text(json.dumps({"near_bits": cfg.near_bits, "labels": list(LABELS), "sources": report}, indent=2))
    print(f"\nwrote {out}")
