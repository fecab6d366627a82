"""Adapters read their publishers' layouts: generated trees for FERG, CK+ and the FER2013 CSV,
the real folders for JAFFE, CK+48 and FER2013 when ../shared/data is there."""

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer.data.scan import DataConfigError, scan_source
from fer.data.sources import FER2013, FERG, JAFFE, CKPlus, CKPlus48, ImageFolder
from fer.faces.crop import CropPolicy
from fer.faces.detect import HaarFaceDetector
from fer.faces.image_io import read_grey
from fer.labels import LABELS
from tests.conftest import DATA_DIR, needs_data
from tests.trees import FERG_CHARACTERS, make_ckplus_tree, make_fer2013_csv, make_ferg_tree


def scan(source, tmp_path, name="src"):
    source.name = name
    return scan_source(source, CropPolicy(), tmp_path / "cache")


def test_ferg_published_layout(tmp_path):
    make_ferg_tree(tmp_path, per_expression=2)
    for root in (tmp_path, tmp_path / "FERG_DB_256"):  # the folder or the one it was unpacked into
        records, report = scan(FERG(root=str(root)), tmp_path, "ferg")
        assert report.found == report.used == 6 * 7 * 2
        assert {r.domain for r in records} == {"animated"}
        assert {r.subject for r in records} == {f"ferg/{c}" for c in FERG_CHARACTERS}
        counts = Counter(LABELS[r.label] for r in records)
        assert counts == {label: 12 for label in LABELS}  # joy -> happy, sadness -> sad
        assert read_grey(records[0].pixels_path).ndim == 2  # RGBA files load as grey


@needs_data("jaffe")
def test_ckplus_original_layout_peak_frames_and_crops(tmp_path):
    face = read_grey(DATA_DIR / "jaffe" / "KA.HA1.29.tiff")  # a real face for the detector to find
    make_ckplus_tree(tmp_path / "ckplus", face)
    source = CKPlus(root=str(tmp_path / "ckplus"), label_map={"contempt": None}, first_frame_neutral=True)
    records, report = scan(source, tmp_path, "ckplus")
    # 3 subjects x 2 labelled sequences; one of the six peaks is contempt (dropped);
    # plus a neutral onset frame per labelled sequence; the unlabelled sequences are counted.
    assert report.found == 3 * 2 * 2 + 3
    assert report.skipped["dropped label"] == 1
    assert report.skipped["unknown label"] == 3  # "unlabelled sequence"
    assert len(records) == 5 + 6
    assert Counter(LABELS[r.label] for r in records)["neutral"] == 6
    peak = [r for r in records if LABELS[r.label] != "neutral"]
    assert all(r.path.endswith("_00000004.png") for r in peak)
    crop = read_grey(records[0].pixels_path)
    assert crop.shape == (128, 128)  # the detector found the pasted face and the crop was cached
    assert records[0].pixels_path.startswith(str(tmp_path / "cache"))


def test_fer2013_csv_official_splits(tmp_path):
    make_fer2013_csv(tmp_path / "fer2013")
    records, report = scan(FER2013(root=str(tmp_path / "fer2013")), tmp_path, "fer2013")
    assert report.used == 42
    assert Counter(r.split for r in records) == {"train": 14, "val": 14, "test": 14}
    # CSV codes: 0 angry, 4 sad, 6 neutral
    first = {Path(r.path).name: LABELS[r.label] for r in records if r.split == "train"}
    assert first["Training_00000.png"] == "anger" and first["Training_00004.png"] == "sad"
    assert first["Training_00006.png"] == "neutral"


def test_bad_files_are_counted_not_raised(tmp_path):
    root = tmp_path / "tree"
    (root / "happy").mkdir(parents=True)
    good = np.full((48, 48), 128, np.uint8)
    for i in range(3):
        cv2.imwrite(str(root / "happy" / f"ok{i}.png"), good + i)
    cv2.imwrite(str(root / "happy" / "copy.png"), good)  # byte-identical to ok0.png
    (root / "happy" / "empty.png").write_bytes(b"")
    (root / "happy" / "notes.jpg").write_text("not an image")
    ok, data = cv2.imencode(".jpg", good)
    (root / "happy" / "cut.jpg").write_bytes(data.tobytes()[:100])
    records, report = scan(ImageFolder(root=str(root)), tmp_path)
    assert report.found == 7 and report.used == 3
    assert report.skipped == {"unreadable": 3, "duplicate": 1}
    assert any("cut.jpg" in e for e in report.examples["unreadable"])


def test_unknown_label_folder_names_labels_and_option(tmp_path):
    (tmp_path / "tree" / "smirk").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "tree" / "smirk" / "a.png"), np.zeros((8, 8), np.uint8))
    with pytest.raises(DataConfigError, match=r"unknown label folder 'smirk'.*anger, disgust.*label_map"):
        scan(ImageFolder(root=str(tmp_path / "tree")), tmp_path, "folder")
    mapped = ImageFolder(root=str(tmp_path / "tree"), label_map={"smirk": "happy"})
    records, _ = scan(mapped, tmp_path, "folder")
    assert [LABELS[r.label] for r in records] == ["happy"]


@pytest.mark.slow
@needs_data("jaffe")
def test_jaffe_real(tmp_path):
    records, report = scan(JAFFE(root=str(DATA_DIR / "jaffe")), tmp_path, "jaffe")
    assert report.found == 213
    assert report.used + report.skipped["no face"] == 213 and report.used >= 200
    assert len({r.subject for r in records}) == 10
    assert set(Counter(LABELS[r.label] for r in records)) == set(LABELS)


@needs_data("ckplus48")
def test_ckplus48_real_drops_contempt(tmp_path):
    records, report = scan(CKPlus48(root=str(DATA_DIR / "ckplus48")), tmp_path, "ckplus48")
    assert report.found == 981
    assert report.skipped["dropped label"] == 54  # the contempt folder
    assert report.used == 927
    assert len({r.subject for r in records}) >= 100
    assert "neutral" not in {LABELS[r.label] for r in records}


def test_haar_finds_no_face_in_noise():
    noise = np.random.default_rng(0).integers(0, 256, (240, 320), dtype=np.uint8)
    assert HaarFaceDetector().detect(noise) == []
