"""`fer evaluate`: the predictor's figures on a data config's split, with and without twins."""

import json

import pytest
import torch

from fer.faces.image_io import read_grey
from fer.labels import LABELS
from fer.models.model_file import load_model_file, save_model_file
from tests.conftest import DATA_DIR, FAST, ROOT, run_script, run_train
from tests.tiny_models import make_model_file, preprocess
from tests.trees import FER2013_FOLDERS, make_fer2013_folders


def run_evaluate(out_dir, *args) -> dict:
    run_script(["-m", "fer.cli", "evaluate", f"hydra.run.dir={out_dir}", "data.num_workers=0", *args])
    return json.loads((out_dir / "summary.json").read_text())


@pytest.mark.slow
def test_evaluate_matches_the_training_pipeline_and_drops_train_twins(tmp_path):
    root = make_fer2013_folders(tmp_path / "data" / "fer2013", twins=True)
    model, pre, _ = load_model_file(make_model_file(tmp_path / "m.pt"))
    weights = save_model_file(tmp_path / "calibrated.pt", model, pre, {"temperature": 2.0})
    summary = run_evaluate(
        tmp_path / "run", f"weights={weights}", "data=fer2013", f"paths.data_dir={root.parent}", "tta_flip=false"
    )  # one pass, as computed below

    # the same figures computed here with the training eval transform and the eager model
    files = sorted((root / "test").rglob("*.jpg"))
    labels = torch.tensor([FER2013_FOLDERS.index(f.parent.name) for f in files])
    with torch.no_grad():
        predicted = model(preprocess([read_grey(f) for f in files], pre)).argmax(1)
    assert summary["metrics"]["images"] == len(files) == 7 * 3 + 3  # plus the planted twins and blank
    assert summary["metrics"]["acc"] == pytest.approx(float((predicted == labels).float().mean()), abs=1e-6)
    assert summary["temperature"] == 2.0 and 0 <= summary["metrics"]["ece"] <= 1
    assert summary["test_images_with_train_twins"] == 2
    assert summary["metrics_without_train_twins"]["images"] == len(files) - 2
    assert (tmp_path / "run" / "confusion_test_all.png").is_file()
    assert set(k.split("/")[-1] for k in summary["metrics"] if k.startswith("recall/")) == set(LABELS)
    for i, label in enumerate(LABELS):  # of the faces called <label>, the share that are
        called = predicted == i
        expected = float((labels[called] == i).float().mean()) if called.any() else None
        got = summary["metrics"][f"precision/{label}"]
        assert (got != got) if expected is None else got == pytest.approx(expected, abs=1e-6), label


@pytest.mark.slow
def test_split_all_evaluates_every_image_of_the_data(tmp_path):
    """split=all: a model never trained on a source is scored on all of it (zero-shot)."""
    root = make_fer2013_folders(tmp_path / "data" / "fer2013")
    weights = make_model_file(tmp_path / "m.pt")
    common = [f"weights={weights}", "data=fer2013", f"paths.data_dir={root.parent}", "dedup=false"]
    counts = {
        split: run_evaluate(tmp_path / split, *common, f"split={split}")["metrics"]["images"]
        for split in ("train", "val", "test", "all")
    }
    assert counts["all"] == counts["train"] + counts["val"] + counts["test"] and counts["val"] > 0


@pytest.mark.slow
def test_evaluate_reproduces_the_test_accuracy_training_reported(tmp_path):
    # both flip (training's model.tta_flip, evaluate's default tta_flip): the mirror pass must match too
    run_train([*FAST, "export_formats=[onnx]", "model.tta_flip=true"], tmp_path / "train")
    trained = json.loads((tmp_path / "train" / "metrics.json").read_text())["test"]
    synthetic = [o for o in FAST if o.startswith("data.sources.synthetic")]
    summary = run_evaluate(
        tmp_path / "eval", f"weights={tmp_path / 'train' / 'model.onnx'}", "data=synthetic", *synthetic
    )
    assert summary["runtime"] == "onnxruntime"
    assert summary["metrics"]["acc"] == pytest.approx(trained["test/acc"], abs=1e-6)
    assert summary["metrics"]["animated/acc"] == pytest.approx(trained["test/animated/acc"], abs=1e-6)


@pytest.mark.slow
def test_evaluate_names_a_missing_weights_file(tmp_path):
    result = run_script(
        ["-m", "fer.cli", "evaluate", f"hydra.run.dir={tmp_path}", f"weights={tmp_path / 'nope.onnx'}"], check=False
    )
    assert result.returncode == 1 and "nope.onnx" in result.stderr


@pytest.mark.parametrize(
    "row, data, images",
    [
        ("shipped/fer2013", "fer2013", 3589),
        ("shipped/ferplus", "ferplus", 3370),  # FER+ has no test part here: val
    ],
)
@pytest.mark.slow
def test_shipped_model_reproduces_the_published_figures(tmp_path, row, data, images):
    """The README's figures (docs/results.json, which bench/report.py writes and renders) are what a user gets."""
    if not (DATA_DIR / data).is_dir():
        pytest.skip(f"real data not found: {DATA_DIR / data}")
    published = json.loads((ROOT / "docs" / "results.json").read_text())["rows"][row]["metrics"]["accuracy"]
    summary = run_evaluate(tmp_path / "run", f"data={data}", "dedup=false")
    assert summary["metrics"]["images"] == images
    assert 100 * summary["metrics"]["acc"] == pytest.approx(published, abs=0.1)
