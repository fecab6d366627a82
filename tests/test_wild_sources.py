"""The in-the-wild benchmarks' adapters (RAF-DB, AffectNet, ExpW, SFEW 2.0, KDEF) on generated trees in each
publisher's exact layout, written with the publisher's own label numbers and names: every face must come
back with the expression that was drawn in it, cropped from its box where the set gives one."""

import csv
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer.data.datamodule import instantiate_data, prepared_data
from fer.data.face_cache import face_array
from fer.data.scan import DataConfigError, scan_source
from fer.data.sources import KDEF, RAFDB, SFEW, AffectNet, ExpW
from fer.data.sources import affectnet as affectnet_module
from fer.data.sources import expw as expw_module
from fer.data.sources import rafdb as rafdb_module
from fer.data.splits import check_subject_independence, split_records
from fer.errors import BadValue, MissingInput
from fer.faces.crop import CropPolicy
from fer.faces.image_io import read_grey
from fer.labels import LABELS
from tests.conftest import ROOT, compose_config, run_script
from tests.tiny_models import make_model_file
from tests.trees import (
    drawn_face,
    make_affectnet_repack,
    make_affectnet_tree,
    make_expw_tree,
    make_ferplus_folders,
    make_kdef_tree,
    make_rafdb_tree,
    make_sfew_tree,
)

# data config name -> (adapter, tree builder)
SETS = {
    "rafdb": (RAFDB, make_rafdb_tree),
    "affectnet": (AffectNet, make_affectnet_tree),
    "expw": (ExpW, make_expw_tree),
    "sfew": (SFEW, make_sfew_tree),
    "kdef": (KDEF, make_kdef_tree),
}


def scan(source, tmp_path, name):
    source.name = name
    return scan_source(source, CropPolicy(), tmp_path / "cache")


def label_mismatches(records, drawn: dict[str, str]) -> Counter:
    """(drawn expression, adapter's label) for every face whose label is not what was drawn in it; a face
    the tree never drew counts as drawn "nothing"."""
    return Counter(
        (drawn.get(r.key, "nothing"), LABELS[r.label]) for r in records if drawn.get(r.key) != LABELS[r.label]
    )


def likeness(a: np.ndarray, b: np.ndarray) -> float:
    """Pixel correlation of two grey images at 48 px: about 1 for the same face, far lower for another."""
    a, b = (cv2.resize(x, (48, 48), interpolation=cv2.INTER_AREA).astype(np.float64).ravel() for x in (a, b))
    return float(np.corrcoef(a, b)[0, 1])


def grey(bgr: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


def test_rafdb_aligned_faces_official_split(tmp_path):
    drawn = make_rafdb_tree(tmp_path / "raf", train_per_class=3, test_per_class=1)
    records, report = scan(RAFDB(root=str(tmp_path / "raf")), tmp_path, "rafdb")
    assert report.found == report.used == 28
    assert not label_mismatches(records, drawn) and len(records) == len(drawn)
    assert Counter(r.split for r in records) == {"train": 21, "test": 7}
    assert all(r.image is None and r.subject is None for r in records)  # aligned: read as they are; no people named


def test_rafdb_original_photos_go_through_the_detector(tmp_path):
    drawn = make_rafdb_tree(tmp_path / "raf", images="original")
    records, report = scan(RAFDB(root=str(tmp_path / "raf"), images="original"), tmp_path, "rafdb")
    assert report.found == 28 and report.used + report.skipped["no face"] == 28
    assert report.used >= 14  # Haar finds most drawn faces
    assert not label_mismatches(records, drawn)
    assert read_grey(records[0].pixels_path).shape == (128, 128)  # a cached detector crop


def test_affectnet_crops_each_face_from_its_box_and_counts_the_rest(tmp_path):
    drawn = make_affectnet_tree(tmp_path / "affectnet")
    records, report = scan(
        AffectNet(root=str(tmp_path / "affectnet"), label_map={"contempt": None}), tmp_path, "affectnet"
    )
    assert report.found == 28 + 4 and report.used == 28
    assert report.skipped["dropped label"] == 1  # contempt
    assert report.skipped["unknown or not a face"] == 3  # none, uncertain, non-face
    assert not label_mismatches(records, drawn)
    assert Counter(r.split for r in records) == {"train": 21, "test": 7}  # validation.csv is the test split
    for record in records:
        n = int(Path(record.path).stem, 16)  # the tree's face number
        assert record.box == (10 + n % 20, 6 + n % 30, 56, 56)
        crop = read_grey(record.pixels_path)
        assert crop.shape == (128, 128)
        assert likeness(crop, grey(drawn_face(n, LABELS[record.label], 56))) > 0.95  # the box's face, not the photo
    kept = AffectNet(root=str(tmp_path / "affectnet"), label_map={"contempt": "disgust"})
    records, report = scan(kept, tmp_path, "affectnet")
    assert report.used == 29 and Counter(LABELS[r.label] for r in records)["disgust"] == 5


def test_expw_crops_every_face_of_a_photo_and_keeps_a_photo_in_one_fold(tmp_path):
    drawn = make_expw_tree(tmp_path / "expw", photos_per_class=2)
    records, report = scan(ExpW(root=str(tmp_path / "expw")), tmp_path, "expw")
    assert report.found == 29 and report.used == 28 and report.skipped["no face"] == 1  # the inverted box
    assert not label_mismatches(records, drawn)
    by_photo: dict[str, list] = {}
    for record in records:
        by_photo.setdefault(record.path, []).append(record)
    assert len(by_photo) == 14 and all(len(faces) == 2 for faces in by_photo.values())
    for n, photo in enumerate(sorted(by_photo)):
        left, right = sorted(by_photo[photo], key=lambda r: r.box[0])
        crops = [read_grey(r.pixels_path) for r in (left, right)]
        faces = [grey(drawn_face(2 * n + i, LABELS[r.label], 64)) for i, r in enumerate((left, right))]
        # each crop is its own face, not its neighbour's
        assert likeness(crops[0], faces[0]) > 0.95 and likeness(crops[1], faces[1]) > 0.95
        assert likeness(crops[0], faces[1]) < 0.9 and likeness(crops[1], faces[0]) < 0.9
    splits = split_records(records, num_folds=5, fold=0, seed=0)
    for faces in by_photo.values():  # no official split: the photo is the group
        assert len({next(s for s, part in splits.items() if r in part) for r in faces}) == 1


def test_faces_sharing_a_file_get_their_own_rows_in_the_face_cache(tmp_path):
    make_expw_tree(tmp_path / "expw", photos_per_class=1)
    source = ExpW(root=str(tmp_path / "expw"))
    records, _ = scan(source, tmp_path, "expw")
    array = face_array(source, records, 48, tmp_path / "cache", CropPolicy().key())
    assert len(array) == len(records) == 14
    for record in records:
        expected = cv2.resize(source.load(record), (48, 48), interpolation=cv2.INTER_AREA)
        assert np.array_equal(array.load(record), expected)
    assert not np.array_equal(array.load(records[0]), array.load(records[1]))  # the two faces of one photo


def test_sfew_class_folders_val_is_test(tmp_path):
    drawn = make_sfew_tree(tmp_path / "sfew")
    records, report = scan(SFEW(root=str(tmp_path / "sfew")), tmp_path, "sfew")
    assert report.found == report.used == 28
    assert not label_mismatches(records, drawn)
    assert Counter(r.split for r in records) == {"train": 21, "test": 7}
    (tmp_path / "sfew" / "Train" / "Contempt").mkdir()
    cv2.imwrite(str(tmp_path / "sfew" / "Train" / "Contempt" / "x.png"), np.zeros((8, 8), np.uint8))
    with pytest.raises(DataConfigError, match=r"unknown label folder 'Contempt'"):
        scan(SFEW(root=str(tmp_path / "sfew")), tmp_path, "sfew")


def test_kdef_codes_subjects_and_angles(tmp_path):
    drawn = make_kdef_tree(tmp_path / "kdef", angles=("S", "HL"))
    for root in (tmp_path / "kdef", tmp_path / "kdef" / "KDEF"):  # the folder or the one it was unpacked into
        records, report = scan(KDEF(root=str(root)), tmp_path, "kdef")
        assert report.found == 3 * 2 * 7  # straight only by default: three people, two series, seven expressions
        assert report.used + report.skipped["no face"] == report.found and report.used >= report.found // 2
        assert not label_mismatches(records, drawn)
        assert all(r.path.endswith("S.JPG") for r in records)
        assert {r.subject for r in records} == {"kdef/F01", "kdef/M02", "kdef/F03"}  # sex + person, both series
    both, report = scan(KDEF(root=str(tmp_path / "kdef"), angles=["S", "HL"]), tmp_path, "kdef")
    assert report.found == 2 * 42 and not label_mismatches(both, drawn)
    splits = split_records(both, num_folds=3, fold=0, seed=0)
    check_subject_independence(splits)  # series A and B of one person never straddle splits
    assert all(splits.values())


@pytest.mark.parametrize("name", sorted(SETS))
@pytest.mark.parametrize("swap", [("happy", "sad"), ("anger", "disgust")])
def test_a_copy_with_two_labels_swapped_is_caught(tmp_path, name, swap):
    """The same check that passes on the faithful trees names exactly the swapped pair, both ways, on a copy
    whose label numbers (or class folders, or file-name codes) of two expressions were exchanged."""
    adapter, build = SETS[name]
    drawn = build(tmp_path / name, swap=swap)
    records, _ = scan(adapter(root=str(tmp_path / name)), tmp_path, name)
    found = label_mismatches(records, drawn)
    a, b = swap
    assert set(found) == {(a, b), (b, a)}, found
    faces = Counter(drawn[r.key] for r in records)
    assert found[(a, b)] == faces[a] and found[(b, a)] == faces[b]  # every face of the two, none of the others


@pytest.mark.parametrize(
    "module, name", [(rafdb_module, "rafdb"), (affectnet_module, "affectnet"), (expw_module, "expw")]
)
def test_an_adapter_with_two_codes_exchanged_is_caught(tmp_path, monkeypatch, module, name):
    """The fixtures write each set's numbers from its own documentation, so an adapter whose code table
    were wrong (another set's order, two entries exchanged) fails the same check."""
    adapter, build = SETS[name]
    drawn = build(tmp_path / name)
    codes = dict(module.CODES)
    happy, sad = (next(code for code, label in codes.items() if label == x) for x in ("happy", "sad"))
    codes[happy], codes[sad] = "sad", "happy"
    monkeypatch.setattr(module, "CODES", codes)
    records, _ = scan(adapter(root=str(tmp_path / name)), tmp_path, name)
    assert set(label_mismatches(records, drawn)) == {("happy", "sad"), ("sad", "happy")}


@pytest.mark.parametrize(
    "name, expected",
    [
        ("rafdb", "EmoLabel/list_patition_label.txt"),
        ("affectnet", "Manually_Annotated_Images"),
        ("expw", "label/label.lst"),
        ("sfew", "Train"),
        ("kdef", "no sitting folder"),
    ],
)
def test_a_wrong_layout_names_what_was_expected(tmp_path, name, expected):
    (tmp_path / "empty").mkdir()
    adapter, _ = SETS[name]
    with pytest.raises(MissingInput, match=expected) as caught:
        scan(adapter(root=str(tmp_path / "empty")), tmp_path, name)
    assert f"data.sources.{name}" in str(caught.value) and "\n" not in str(caught.value)


def test_half_a_layout_names_the_missing_half(tmp_path):
    make_sfew_tree(tmp_path / "sfew")
    shutil.rmtree(tmp_path / "sfew" / "Val")
    with pytest.raises(MissingInput, match=r"sfew/Val not found"):
        scan(SFEW(root=str(tmp_path / "sfew")), tmp_path, "sfew")
    make_affectnet_tree(tmp_path / "affectnet")
    (tmp_path / "affectnet" / "validation.csv").unlink()
    with pytest.raises(MissingInput, match=r"validation.csv not found"):
        scan(AffectNet(root=str(tmp_path / "affectnet")), tmp_path, "affectnet")


def test_malformed_label_files_name_the_file_and_line(tmp_path):
    make_rafdb_tree(tmp_path / "raf")
    label_file = tmp_path / "raf" / "EmoLabel" / "list_patition_label.txt"
    label_file.write_text(label_file.read_text() + "train_09999.jpg happy\n")
    with pytest.raises(BadValue, match=r"list_patition_label.txt:29: .* is not `<image name> <label 1-7>`"):
        scan(RAFDB(root=str(tmp_path / "raf")), tmp_path, "rafdb")
    make_expw_tree(tmp_path / "expw")
    (tmp_path / "expw" / "label" / "label.lst").write_text("photo_000.jpg 0 12 12 76\n")
    with pytest.raises(BadValue, match=r"label.lst:1: .* is not `image_name face_id top left"):
        scan(ExpW(root=str(tmp_path / "expw")), tmp_path, "expw")
    make_affectnet_tree(tmp_path / "affectnet")
    csv_file = tmp_path / "affectnet" / "training.csv"
    csv_file.write_text(csv_file.read_text().replace("face_width", "width", 1))
    with pytest.raises(BadValue, match=r"training.csv: no column face_width"):
        scan(AffectNet(root=str(tmp_path / "affectnet")), tmp_path, "affectnet")


def test_option_values_fail_as_one_line_naming_the_option(tmp_path):
    (tmp_path / "data").mkdir()
    for overrides, message in (
        (["data=kdef", "data.sources.kdef.angles=[S,UP]"], r"data.sources.kdef.angles=\['S', 'UP'\]: choose among"),
        (["data=rafdb", "data.sources.rafdb.images=cropped"], r"data.sources.rafdb.images='cropped': choose from"),
    ):
        cfg = compose_config(
            "audit", [f"paths.data_dir={tmp_path / 'data'}", f"paths.output_dir={tmp_path}", *overrides]
        )
        with pytest.raises(BadValue, match=message):  # the adapter's own error, not Hydra's wrapper
            instantiate_data(cfg.data)


@pytest.mark.parametrize("config, other", [("rafdb+ferplus", "rafdb"), ("affectnet+ferplus", "affectnet")])
def test_merged_configs_keep_each_official_split(tmp_path, config, other):
    _, build = SETS[other]
    build(tmp_path / other)
    make_ferplus_folders(tmp_path / "ferplus")
    cfg = compose_config(
        "audit", [f"data={config}", f"paths.data_dir={tmp_path}", f"paths.output_dir={tmp_path}", "data.num_workers=0"]
    )
    datamodule = prepared_data(cfg.data)
    assert set(datamodule.sources) == {other, "ferplus"}
    for split in ("train", "val", "test"):
        assert {r.source for r in datamodule.splits[split]} == {other, "ferplus"}, split
    test = [r for r in datamodule.splits["test"] if r.source == other]
    assert len(test) == 7 and all(r.split == "test" for r in test)  # RAF-DB test_*, AffectNet validation.csv


@pytest.mark.parametrize("name", sorted(SETS))
def test_evaluate_runs_on_each_tree(tmp_path, name):
    from fer.evaluation.evaluate import evaluate

    _, build = SETS[name]
    drawn = build(tmp_path / name)
    weights = make_model_file(tmp_path / "m.pt")
    cfg = compose_config(
        "evaluate",
        [
            f"weights={weights}",
            f"data={name}",
            f"data.sources.{name}.root={tmp_path / name}",
            "data.num_workers=0",
            "data.num_folds=3",
            f"paths.output_dir={tmp_path / 'run'}",
            "progress=false",
            "threads=1",
        ],
    )
    (tmp_path / "run").mkdir()
    summary = evaluate(cfg)
    assert summary["split"] == "test" and summary["sources"] == [name]
    with open(tmp_path / "run" / "split_manifest.csv", newline="") as handle:
        boxes = [row["box"] for row in csv.DictReader(handle)]
    assert boxes and all(bool(box) == (name in ("affectnet", "expw")) for box in boxes)  # a box where one is given
    if name in ("rafdb", "affectnet", "sfew"):  # official test parts: test_*, validation.csv, Val/
        assert summary["metrics"]["images"] == len(drawn) // 4
    else:  # a subject-independent fold
        assert 0 < summary["metrics"]["images"] < len(drawn)


@pytest.mark.slow
def test_the_documented_evaluate_command_runs_on_a_rafdb_tree(tmp_path):
    drawn = make_rafdb_tree(tmp_path / "raf", train_per_class=2, test_per_class=1)
    weights = make_model_file(tmp_path / "m.pt")
    run_script(
        [
            "-m",
            "fer.cli",
            "evaluate",
            f"hydra.run.dir={tmp_path / 'run'}",
            f"weights={weights}",
            "data=rafdb",
            f"data.sources.rafdb.root={tmp_path / 'raf'}",
            "data.num_workers=0",
        ]
    )
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["split"] == "test" and summary["metrics"]["images"] == 7 == len(drawn) // 3


def test_the_documented_command_for_affectnet_repacks_maps_numbered_folders(tmp_path):
    """docs/data.md's `data=folder` command for the one-folder-per-number re-packs, with its label map as written."""
    label_map = re.search(r"data.sources.folder.label_map='(\{[^']*\})'", (ROOT / "docs" / "data.md").read_text())[1]
    drawn = make_affectnet_repack(tmp_path / "repack")
    cfg = compose_config(
        "audit",
        [
            "data=folder",
            f"data.sources.folder.root={tmp_path / 'repack' / 'train'}",
            f"data.sources.folder.label_map={label_map}",
            "data.num_folds=3",
            f"paths.output_dir={tmp_path}",
        ],
    )
    datamodule = prepared_data(cfg.data)
    records = [r for part in datamodule.splits.values() for r in part]
    assert len(records) == len(drawn) == 14 and not label_mismatches(records, drawn)
    assert datamodule.reports[0].skipped["dropped label"] == 1  # folder 7, contempt


@pytest.mark.parametrize(
    "experiment, name, sampler", [("rafdb_mobileface", "rafdb", "none"), ("affectnet7", "affectnet", "balanced")]
)
def test_gpu_recipes_read_their_set(tmp_path, experiment, name, sampler):
    _, build = SETS[name]
    build(tmp_path / name)
    cfg = compose_config(
        "train",
        [
            f"experiment={experiment}",
            f"data.sources.{name}.root={tmp_path / name}",
            f"paths.output_dir={tmp_path}",
            "data.num_workers=0",
        ],
    )
    assert cfg.trainer.accelerator == "gpu" and cfg.model.arch.backbone == "mobileface"
    assert cfg.data.sampler == sampler and list(cfg.data.sources) == [name]
    datamodule = prepared_data(cfg.data)
    assert datamodule.image_size == 100 and len(datamodule.splits["test"]) == 7


@pytest.mark.slow
def test_a_wrong_layout_is_one_line_from_the_command(tmp_path):
    (tmp_path / "unpacked").mkdir()
    result = run_script(
        [
            "-m",
            "fer.cli",
            "evaluate",
            f"hydra.run.dir={tmp_path / 'run'}",
            f"weights={make_model_file(tmp_path / 'm.pt')}",
            "data=rafdb",
            f"data.sources.rafdb.root={tmp_path / 'unpacked'}",
        ],
        check=False,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "data.sources.rafdb" in lines[0] and "unpacked/EmoLabel/list_patition_label.txt not found" in lines[0]
