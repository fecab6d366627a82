"""Train/val/test assignment: subject-independent k-fold by default, official splits where they exist.

For k-fold, whole subjects (a person, a character; an image where the subject is unknown) go to
one fold. Fold `fold` is the test set, fold `fold + 1` the validation set, the rest is training,
so `data.fold=0..k-1` is a complete cross-validation in which every subject is tested once.
"""

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from fer.data.sample import FaceSample
from fer.labels import LABELS

SPLITS = ("train", "val", "test")


def split_records(
    records: list[FaceSample], num_folds: int, fold: int, seed: int, val_fraction: float = 0.1
) -> dict[str, list[FaceSample]]:
    """Split one source's records. Records that carry an official split keep it."""
    if not records:
        return {name: [] for name in SPLITS}
    if all(r.split for r in records):
        return _official(records, seed, val_fraction)
    if not 0 <= fold < num_folds or num_folds < 3:
        raise ValueError(f"data.fold={fold} must be in [0, data.num_folds) and data.num_folds={num_folds} >= 3")
    folds = _group_folds(records, num_folds, seed)
    test_fold, val_fold = fold, (fold + 1) % num_folds
    out = {name: [] for name in SPLITS}
    for record, f in zip(records, folds):
        out["test" if f == test_fold else "val" if f == val_fold else "train"].append(record)
    return out


def _official(records, seed, val_fraction):
    out = {name: [r for r in records if r.split == name] for name in SPLITS}
    if not out["val"]:
        # A release without a validation part (FER2013 image folders): hold out part of train,
        # grouped by subject where subjects are known.
        train = out["train"]
        groups = _group_folds(train, max(2, round(1 / val_fraction)), seed)
        out["val"] = [r for r, g in zip(train, groups) if g == 0]
        out["train"] = [r for r, g in zip(train, groups) if g != 0]
    return out


def _group_folds(records: list[FaceSample], num_folds: int, seed: int) -> list[int]:
    """Fold index per record; subjects never straddle folds and folds get similar image counts."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        groups[record.subject or f"image:{record.path}"].append(i)
    names = sorted(groups)
    rng = np.random.default_rng(seed)
    rng.shuffle(names)
    # Largest groups first into the currently smallest fold keeps fold sizes even; the shuffle
    # decides among equal sizes, so different seeds give different partitions.
    names.sort(key=lambda n: len(groups[n]), reverse=True)
    sizes, assignment = np.zeros(num_folds, dtype=int), [0] * len(records)
    for name in names:
        target = int(np.argmin(sizes))
        sizes[target] += len(groups[name])
        for i in groups[name]:
            assignment[i] = target
    return assignment


def check_subject_independence(splits: dict[str, list[FaceSample]]) -> None:
    """Raise if any known subject appears in more than one split (the leakage the 2018 study had)."""
    where: dict[str, set[str]] = defaultdict(set)
    for name, records in splits.items():
        for record in records:
            if record.subject:
                where[record.subject].add(name)
    leaked = sorted(s for s, names in where.items() if len(names) > 1)
    if leaked:
        raise AssertionError(f"subjects in more than one split: {leaked[:10]} ({len(leaked)} in all)")


def write_manifest(splits: dict[str, list[FaceSample]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "domain", "subject", "source", "split", "box"])
        for name in SPLITS:
            for r in splits[name]:
                box = " ".join(map(str, r.box)) if r.box else ""  # x y w h where the file holds several faces
                writer.writerow([r.path, LABELS[r.label], r.domain, r.subject or "", r.source, name, box])
