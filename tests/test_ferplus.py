"""FER+ in both published forms (generated trees), vote rules, soft-target training, the real copy."""

import json
from collections import Counter
from pathlib import Path

import hydra
import lightning as L
import numpy as np
import pytest
import torch

from fer.data.scan import scan_source
from fer.data.sources import FERPlus
from fer.data.sources.ferplus import votes_to_label
from fer.faces.crop import CropPolicy
from fer.labels import LABELS
from tests.conftest import DATA_DIR, FAST_TRAINER, compose_train, needs_data, run_script
from tests.trees import make_ferplus_csv, make_ferplus_folders


def scan(root: Path, tmp_path: Path, **options):
    source = FERPlus(root=str(root), **options)
    source.name = "ferplus"
    records, report = scan_source(source, CropPolicy(), tmp_path / "cache")
    return source, records, report


def share(**votes) -> tuple[float, ...]:
    vector = np.array([votes.get(label, 0) for label in LABELS], float)
    return tuple(vector / vector.sum())


def test_folder_form_vote_rules_and_official_splits(tmp_path):
    make_ferplus_folders(tmp_path / "ferplus")
    _, records, report = scan(tmp_path / "ferplus", tmp_path)
    # 6 vote cases x 3 parts: happy and sad are used; the tie, contempt, unknown and NF faces are counted
    assert report.found == 18 and report.used == 6
    assert report.skipped == {"tie": 3, "dropped label": 3, "unknown or not a face": 6}
    assert Counter(r.split for r in records) == {"train": 2, "val": 2, "test": 2}
    by_label = {LABELS[r.label]: r for r in records if r.split == "train"}
    assert set(by_label) == {"happy", "sad"}
    assert by_label["happy"].target == pytest.approx(share(neutral=1, happy=7, surprise=2))
    assert by_label["sad"].target == pytest.approx(share(neutral=4, sad=5))  # the unknown vote is left out


def test_majority_mode_and_mapped_contempt(tmp_path):
    make_ferplus_folders(tmp_path / "ferplus")
    _, records, report = scan(tmp_path / "ferplus", tmp_path, label_mode="majority", contempt="disgust")
    assert all(r.target is None for r in records)  # one-hot of the majority label
    assert report.used == 9 and "dropped label" not in report.skipped
    assert Counter(LABELS[r.label] for r in records) == {"happy": 3, "sad": 3, "disgust": 3}  # contempt 5 + disgust 2


def test_vote_rules_one_by_one():
    # order: neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF
    assert votes_to_label([0, 0, 0, 0, 4, 4, 0, 0, 2, 0], "majority", None)[2] == "tie"
    assert votes_to_label([3, 0, 0, 0, 0, 0, 0, 0, 3, 4], "majority", None)[2] == "unknown or not a face"
    assert votes_to_label([0] * 10, "majority", None)[2] == "unknown label"
    label, target, skip = votes_to_label([0, 0, 0, 0, 4, 2, 0, 3, 1, 0], "probability", None)
    assert (label, skip) == ("anger", None) and target == pytest.approx(share(anger=4, disgust=2))  # contempt left out
    # mapped contempt can break a tie or win
    assert votes_to_label([0, 0, 0, 0, 4, 2, 0, 3, 1, 0], "majority", "disgust")[0] == "disgust"
    with pytest.raises(ValueError, match="contempt"):
        FERPlus(root=".", contempt="smug")
    with pytest.raises(ValueError, match="label_mode"):
        FERPlus(root=".", label_mode="vote")


def test_face_box_column_crops_the_face(tmp_path):
    make_ferplus_folders(tmp_path / "ferplus", box_file="fer0000000.png")
    source, records, _ = scan(tmp_path / "ferplus", tmp_path)
    record = next(r for r in records if r.path.endswith("fer0000000.png"))
    face = source.load(record)
    assert face.shape == (48, 48) and face.min() > 0  # the black 8 px border lies outside the box
    assert source.pixel_settings()["boxes"] == [(record.path, (8, 8, 56, 56))]  # keys the face cache


def test_csv_form_matches_the_folder_form(tmp_path):
    make_ferplus_folders(tmp_path / "folders")
    make_ferplus_csv(tmp_path / "fer2013")
    folder_source, from_folders, folder_report = scan(tmp_path / "folders", tmp_path)
    csv_source, from_csv, csv_report = scan(tmp_path / "fer2013", tmp_path)
    assert csv_report.skipped == folder_report.skipped and csv_report.used == folder_report.used
    key = lambda r: (r.split, Path(r.path).name)  # noqa: E731
    for a, b in zip(sorted(from_folders, key=key), sorted(from_csv, key=key)):
        assert key(a) == key(b) and a.label == b.label and a.target == b.target
        assert np.array_equal(folder_source.load(a), csv_source.load(b))
    # the CSV's faces were written to the cache, never next to the data
    assert all(r.path.startswith(str(tmp_path / "cache")) for r in from_csv)


def test_csv_form_needs_both_files(tmp_path):
    make_ferplus_csv(tmp_path / "fer2013")
    (tmp_path / "fer2013" / "fer2013.csv").unlink()
    with pytest.raises(FileNotFoundError, match="fer2013.csv"):
        scan(tmp_path / "fer2013", tmp_path)


class _FirstStep(L.Callback):
    """Recomputes the first training step's loss by hand from the batch and the module's own forward."""

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.batch = batch

    def on_before_backward(self, trainer, module, loss):
        images, labels, _, targets = self.batch
        module.on_train_batch_start(self.batch, 0)  # the same per-step seed, so dropout draws repeat
        logits = module(images).detach()
        self.loss, self.targets = float(loss.detach()), targets
        self.by_hand = float(-(targets * torch.log_softmax(logits, 1)).sum(1).mean())
        self.one_hot_ce = float(torch.nn.functional.cross_entropy(logits, labels))


def test_soft_target_step_loss_is_cross_entropy_against_the_votes(tmp_path):
    make_ferplus_folders(tmp_path / "data" / "ferplus")
    cfg = compose_train(
        [
            "data=ferplus",
            *FAST_TRAINER,
            f"paths.data_dir={tmp_path / 'data'}",
            "model.label_smoothing=0.0",
            "data.augment.affine_p=0",
            "trainer.precision=32",
        ],
        tmp_path,
    )
    datamodule = hydra.utils.instantiate(cfg.data)
    module = hydra.utils.instantiate(cfg.model)
    probe = _FirstStep()
    trainer = L.Trainer(
        max_steps=1,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
        callbacks=[probe],
    )
    trainer.fit(module, datamodule=datamodule)
    assert module.soft_targets
    assert not torch.all(probe.targets.max(1).values == 1)  # the batch really holds vote shares
    assert probe.loss == pytest.approx(probe.by_hand, rel=1e-5)
    assert probe.loss != pytest.approx(probe.one_hot_ce, rel=1e-3)  # ... and not the majority labels' CE


@pytest.mark.slow
def test_train_on_generated_ferplus_reports_majority_metrics(tmp_path):
    make_ferplus_folders(tmp_path / "data" / "ferplus")
    run_script(
        [
            "train.py",
            "data=ferplus",
            *FAST_TRAINER,
            f"paths.data_dir={tmp_path / 'data'}",
            "trainer.max_epochs=1",
            f"hydra.run.dir={tmp_path / 'run'}",
        ]
    )
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["val"]["val/acc"] in (0.0, 0.5, 1.0)  # two majority-labelled faces
    assert "test/acc" in metrics["test"]
    report = json.loads((tmp_path / "run" / "data_report.json").read_text())
    assert report["sources"][0]["skipped"]["tie"] == 3


@pytest.mark.slow
@needs_data("ferplus")
def test_real_ferplus_counts(tmp_path):
    _, records, report = scan(DATA_DIR / "ferplus", tmp_path)
    assert report.found == 28_558 + 3_579  # FER2013Train + FER2013Valid; FER2013Test is held back
    assert Counter(r.split for r in records).keys() == {"train", "val"}
    assert sum(report.skipped.values()) + report.used == report.found
    assert all(abs(sum(r.target) - 1) < 1e-6 for r in records)


@pytest.mark.slow
@needs_data("ferplus")
def test_train_on_real_ferplus_has_no_test_part_and_says_so(tmp_path):
    result = run_script(
        [
            "train.py",
            "data=ferplus",
            *FAST_TRAINER,
            "trainer.max_epochs=1",
            "+trainer.limit_train_batches=3",
            "+trainer.limit_val_batches=3",
            f"hydra.run.dir={tmp_path}",
        ]
    )
    assert "test skipped: the data has no test part" in result.stdout + result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert "val/acc" in metrics["val"] and "test" not in metrics
    report = json.loads((tmp_path / "data_report.json").read_text())
    assert report["splits"] == {"train": 25_678, "val": 3_370, "test": 0}
