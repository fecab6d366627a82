"""Splits: no subject in two splits (checked on the real data), complete k-fold, official splits kept."""

from collections import Counter

import pytest

from fer.data.sample import FaceSample
from fer.data.scan import scan_source
from fer.data.sources import FER2013, JAFFE, CKPlus48
from fer.data.splits import check_subject_independence, split_records
from fer.faces.crop import CropPolicy
from tests.conftest import DATA_DIR, needs_data


def records(n_subjects=30, per_subject=5):
    return [
        FaceSample(f"f{s}_{i}", i % 7, "human", f"src/S{s}", "src")
        for s in range(n_subjects)
        for i in range(per_subject)
    ]


def subjects(recs):
    return {r.subject for r in recs}


def test_kfold_tests_every_subject_exactly_once():
    data = records()
    tested = Counter()
    for fold in range(10):
        splits = split_records(data, num_folds=10, fold=fold, seed=3)
        check_subject_independence(splits)
        assert sum(len(v) for v in splits.values()) == len(data)
        tested.update(subjects(splits["test"]))
    assert tested == {f"src/S{s}": 1 for s in range(30)}


def test_split_is_deterministic_for_a_seed_and_changes_with_it():
    data = records()
    a = split_records(data, 10, 0, seed=1)
    assert a == split_records(data, 10, 0, seed=1)
    assert subjects(a["test"]) != subjects(split_records(data, 10, 0, seed=2)["test"])


def test_leak_is_detected():
    data = records(3, 2)
    with pytest.raises(AssertionError, match="src/S0"):
        check_subject_independence({"train": data[:1], "val": [], "test": data[1:2]})


def test_bad_fold_is_named():
    with pytest.raises(ValueError, match="data.fold=10"):
        split_records(records(), num_folds=10, fold=10, seed=0)


@pytest.mark.slow
@needs_data("ckplus48", "jaffe")
def test_real_human_data_has_no_subject_in_two_splits(tmp_path):
    everything = []
    for source, name in (
        (CKPlus48(root=str(DATA_DIR / "ckplus48")), "ckplus48"),
        (JAFFE(root=str(DATA_DIR / "jaffe")), "jaffe"),
    ):
        source.name = name
        everything.append(scan_source(source, CropPolicy(), tmp_path)[0])
    for fold in range(10):
        splits = {"train": [], "val": [], "test": []}
        for recs in everything:
            for key, part in split_records(recs, 10, fold, seed=42).items():
                splits[key].extend(part)
        check_subject_independence(splits)  # raises on any shared subject
        in_train, in_test = subjects(splits["train"]), subjects(splits["test"])
        assert in_train and in_test and not in_train & in_test
        # CK+48 gives three near-identical frames per sequence: they must all land together.
        sequences = {}
        for key, part in splits.items():
            for r in part:
                if r.source == "ckplus48":
                    sequences.setdefault(r.path.rsplit("_", 1)[0], set()).add(key)
        assert all(len(where) == 1 for where in sequences.values())


@pytest.mark.slow
@needs_data("fer2013")
def test_real_fer2013_keeps_the_official_test_split(tmp_path):
    source = FER2013(root=str(DATA_DIR / "fer2013"))
    source.name = "fer2013"
    recs, report = scan_source(source, CropPolicy(), tmp_path)
    splits = split_records(recs, 10, 0, seed=42)
    assert all("PublicTest_" in r.path for r in splits["test"])
    assert all("Training_" in r.path for r in splits["train"] + splits["val"])
    assert len(splits["test"]) == 3589  # all of PublicTest, duplicates included, as published
    assert report.skipped["duplicate"] > 0  # FER2013's training copies are dropped
    assert 0.08 < len(splits["val"]) / (len(splits["train"]) + len(splits["val"])) < 0.12
