"""The leakage audit finds the twins planted across splits, and the real FER2013 ones."""

import json

import pytest

from tests.conftest import DATA_DIR, needs_data, run_script
from tests.trees import make_fer2013_folders


def run_audit(data_dir, out_dir, *extra) -> dict:
    run_script(
        [
            "-m",
            "fer.cli",
            "audit",
            "data=fer2013",
            f"paths.data_dir={data_dir}",
            f"hydra.run.dir={out_dir}",
            "data.num_workers=0",
            *extra,
        ]
    )
    return json.loads((out_dir / "audit.json").read_text())["sources"]["fer2013"]


@pytest.mark.slow
def test_audit_finds_pixel_and_near_identical_test_images_and_blanks(tmp_path):
    root = make_fer2013_folders(tmp_path / "data" / "fer2013", twins=True)
    report = run_audit(root.parent, tmp_path / "run")
    across = report["across"]  # a twin may sit in train or in the validation part carved from it
    exact = (
        across["train/test"]["test_with_pixel_identical_train"] + across["val/test"]["test_with_pixel_identical_val"]
    )
    near = across["train/test"]["test_with_near_identical_train"] + across["val/test"]["test_with_near_identical_val"]
    assert exact == 1  # the byte copy
    assert near == 2  # and the brighter re-encode
    twinned = {p.rsplit("/", 1)[-1] for p in report["test_files_with_a_twin_in_train_or_val"]}
    assert twinned == {"PublicTest_0.jpg", "PublicTest_1.jpg"}
    assert report["within"]["test"]["blank"] == 1


@pytest.mark.slow
def test_audit_of_clean_splits_finds_nothing(tmp_path):
    root = make_fer2013_folders(tmp_path / "data" / "fer2013")
    report = run_audit(root.parent, tmp_path / "run")
    assert report["test_files_with_a_twin_in_train_or_val"] == []
    assert all(v == 0 for counts in report["across"].values() for v in counts.values())


@pytest.mark.slow
@needs_data("fer2013")
def test_real_fer2013_public_test_has_training_twins(tmp_path):
    """The data README warns of duplicates across FER2013's splits: the audit must see them."""
    report = run_audit(DATA_DIR, tmp_path / "run")
    assert report["images"]["test"] == 3589
    assert report["across"]["train/test"]["test_with_pixel_identical_train"] > 100
    assert len(report["test_files_with_a_twin_in_train_or_val"]) > 300
