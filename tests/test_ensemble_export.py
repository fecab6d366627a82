"""`fer export ensemble=`: several exported models as one file that returns their mean probabilities."""

import json

import numpy as np
import onnx
import pytest

from fer.export.ensemble import merge_ensemble
from fer.export.export import export_onnx
from fer.export.write import main
from fer.inference.predictor import Predictor
from fer.inference.runtime import load_classifier
from fer.models.model_file import ONNX_META_KEY, Preprocessing, load_model_file, save_model_file
from tests.tiny_models import make_model_file, synthetic_crops

pytestmark = pytest.mark.usefixtures("one_thread")


def member(folder, name: str, pre: Preprocessing, temperature: float, seed_offset: int = 0):
    """A small exported model with its own input size, normalisation and temperature."""
    model, pre, _ = load_model_file(make_model_file(folder / f"{name}.pt", pre))
    if seed_offset:  # a different network: shuffle the head's weights
        head = list(model.parameters())[-2]
        head.data = head.data[:, np.random.default_rng(seed_offset).permutation(head.shape[1])]
    file = save_model_file(folder / f"{name}_t.pt", model, pre, {"temperature": temperature})
    return export_onnx(file, folder / f"{name}.onnx")


@pytest.mark.slow
def test_same_side_members_give_exactly_their_mean_probabilities(tmp_path):
    members = [
        member(tmp_path, "a", Preprocessing(48, 1, 0.5, 0.5), 0.7),
        member(tmp_path, "b", Preprocessing(48, 1, 0.4, 0.3), 1.6, seed_offset=3),
    ]
    merged = load_classifier(merge_ensemble(members, tmp_path / "ensemble.onnx"), threads=1)
    crops = synthetic_crops(12)
    got = Predictor(merged).classify_crops(crops)
    alone = [Predictor(load_classifier(m, threads=1)).classify_crops(crops) for m in members]
    assert np.abs(alone[0] - alone[1]).max() > 0.1  # the members disagree: the mean is not either one
    np.testing.assert_allclose(got, (alone[0] + alone[1]) / 2, atol=1e-5)
    assert merged.temperature == 1.0 and merged.image_size == 48
    meta = json.loads(
        {p.key: p.value for p in onnx.load(str(tmp_path / "ensemble.onnx")).metadata_props}[ONNX_META_KEY]
    )
    assert [m["temperature"] for m in meta["members"]] == [0.7, 1.6] and meta["format"] == "fer-onnx/1"


@pytest.mark.slow
def test_a_smaller_member_gets_the_face_resized_to_its_own_side(tmp_path):
    members = [
        member(tmp_path, "big", Preprocessing(64, 1, 0.5, 0.5), 1.0),
        member(tmp_path, "small", Preprocessing(48, 1, 0.5, 0.5), 1.0, seed_offset=5),
    ]
    merged = load_classifier(merge_ensemble(members, tmp_path / "ensemble.onnx"), threads=1)
    assert merged.image_size == 64  # the largest member's input; the small one resizes inside the file
    crops = synthetic_crops(12, size=128)
    got = Predictor(merged).classify_crops(crops)
    alone = [Predictor(load_classifier(m, threads=1)).classify_crops(crops) for m in members]
    expected = (alone[0] + alone[1]) / 2
    # the small member sees 128 -> 64 -> 48 px (linear, antialiased) instead of 128 -> 48 (area): close to the
    # mean, not identical (these tiny random networks react strongly to pixel changes)
    error, disagreement = np.abs(got - expected).mean(), np.abs(alone[0] - alone[1]).mean()
    assert error < disagreement / 3, (error, disagreement)


@pytest.mark.slow
def test_members_that_cannot_be_merged_are_named(tmp_path, capsys):
    grey = member(tmp_path, "grey", Preprocessing(48, 1, 0.5, 0.5), 1.0)
    colour = member(tmp_path, "colour", Preprocessing(48, 3, 0.5, 0.5), 1.0)
    out = f"out={tmp_path / 'out.onnx'}"
    assert main([f"ensemble={grey},{colour}", out]) == 1
    assert "input channels" in capsys.readouterr().err
    assert main([f"ensemble={grey}", out]) == 2
    assert "name two or more ONNX files" in capsys.readouterr().err
    assert not (tmp_path / "out.onnx").exists()
