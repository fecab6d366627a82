"""Saliency: a model trained on drawn faces looks where their action units are; infer.py writes the maps."""

import json

import cv2
import numpy as np
import pytest

from fer.api import Recognizer
from fer.data.synthetic_faces import EXPRESSIONS, draw_face, face_regions, sample_identity
from fer.faces.image_io import to_grey_uint8
from fer.inference.explain import occlusion_map, saliency
from tests.conftest import run_script
from tests.test_api import two_faces
from tests.tiny_models import make_model_file

FACES = 8  # per expression: 24 gave the same verdicts at three times the cost (occlusion maps are ~0.2 s each)
# where each expression's action units act (fer/data/synthetic_faces.py): AU1/2/4 move the brows,
# AU10/12/15/20/23/25/26 the lips and jaw; disgust's brows (AU4 at 0.45) are left out as too faint
BROW_EXPRESSIONS = ("anger", "fear", "sad", "surprise")
MOUTH_EXPRESSIONS = ("anger", "disgust", "fear", "happy", "sad", "surprise")
# Thresholds, and what trained models gave on two float paths of one AVX2 CPU (default kernels /
# ONEDNN_MAX_CPU_ISA=SSE41) against a model trained on permuted labels and an untrained one:
#   median brows/rest over BROW_EXPRESSIONS   5.2 / 5.3        permuted 2.4, untrained 1.4
#   median mouth/rest over MOUTH_EXPRESSIONS  5.5 / 5.5        permuted 1.7, untrained 1.2
#   least probability drop in the AU regions  0.035 / 0.028    permuted 0.0000, untrained 0.006
BROWS_OVER_REST = 3.0
MOUTH_OVER_REST = 3.0
LEAST_DROP = 0.01


@pytest.fixture(scope="module")
def drawn_face_model(default_run):
    """The model of the embedded default, `python train.py` as the README runs it (10 epochs of drawn faces)."""
    metrics = json.loads((default_run.folder / "metrics.json").read_text())
    assert metrics["test"]["test/acc"] > 0.8  # it learned the expressions: its saliency means something
    return default_run.model_file


def region_means(predictor, expression: int, method: str = "occlusion") -> np.ndarray:
    """(brows, mouth, rest of the image): mean saliency of `expression` over FACES drawn faces showing it,
    of people the model never saw."""
    side = predictor.classifier.image_size
    means = []
    for i in range(FACES):
        identity, seed = sample_identity(9_000 + i), 9_100 + i
        grey = to_grey_uint8(draw_face(identity, expression, seed=seed, size=side))
        heat = saliency(predictor, predictor.preprocess(grey), expression, method)
        masks = face_regions(identity, seed, size=side)
        rest = ~(masks["brows"] | masks["mouth"])
        means.append([heat[masks["brows"]].mean(), heat[masks["mouth"]].mean(), heat[rest].mean()])
    return np.mean(means, axis=0)


def action_unit_failures(predictor) -> list[str]:
    """The claims a model that reads expressions from their action units must meet; returns those it fails.

    Only what every such model shares is claimed, not one training run's detail: which of an angry face's
    cues (lowered brows, tightened lids, pressed lips) a model leans on differs between runs, and float32
    training takes another path on each CPU family. Occlusion maps are probability drops.
    - hiding the brows costs the expressions that move them more, per pixel, than hiding the rest;
    - the same for the mouth and the expressions that move it;
    - hiding where the action units act costs every expression a real share of its probability.
    """
    means = {name: region_means(predictor, EXPRESSIONS.index(name)) for name in MOUTH_EXPRESSIONS}
    brows = float(np.median([means[n][0] / means[n][2] for n in BROW_EXPRESSIONS]))
    mouth = float(np.median([means[n][1] / means[n][2] for n in MOUTH_EXPRESSIONS]))
    least = min(float(means[n][:2].mean()) for n in MOUTH_EXPRESSIONS)
    failed = []
    if not brows > BROWS_OVER_REST:
        failed.append(f"brows carry {brows:.2f} x the rest's saliency, not > {BROWS_OVER_REST}")
    if not mouth > MOUTH_OVER_REST:
        failed.append(f"the mouth carries {mouth:.2f} x the rest's saliency, not > {MOUTH_OVER_REST}")
    if not least > LEAST_DROP:
        failed.append(f"hiding the action units costs as little as {least:.4f} probability, not > {LEAST_DROP}")
    return failed


def test_occlusion_saliency_follows_the_action_units(drawn_face_model):
    failed = action_unit_failures(Recognizer(drawn_face_model, detector=None).predictor)
    assert not failed, failed


@pytest.mark.slow
def test_the_claims_fail_for_a_network_that_never_learnt_expressions(tmp_path):
    """The same claims on the same architecture, untrained (the model randomisation test of saliency
    sanity checks): they must fail, or they would prove nothing about the trained one."""
    untrained = make_model_file(tmp_path / "untrained.pt", backbone_kwargs={"widths": [32, 64, 128, 256]})
    assert len(action_unit_failures(Recognizer(untrained, detector=None).predictor)) >= 2


def test_occlusion_marks_the_pixels_a_hand_built_model_reads():
    """The mechanics, on a model with known weights: its anger logit reads the brows box and nothing else,
    so hiding the brows lowers anger and hiding anything further than a window away changes nothing."""
    side, window = 48, 8
    identity, seed = sample_identity(9_000), 9_100
    brows = face_regions(identity, seed, size=side)["brows"]
    face = np.where(brows, 1.0, -1.0).astype(np.float32)[None]
    anger = EXPRESSIONS.index("anger")

    def probabilities(batch: np.ndarray) -> np.ndarray:
        logits = np.zeros((len(batch), len(EXPRESSIONS)), np.float32)
        logits[:, anger] = 4 * batch[:, 0][:, brows].mean(axis=1)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)

    heat = occlusion_map(probabilities, face, anger, window=window, stride=window // 2)
    near = cv2.dilate(brows.astype(np.uint8), np.ones((2 * window + 1, 2 * window + 1), np.uint8)) > 0
    assert heat[brows].mean() > 0.01
    assert heat[~near].max() == 0.0


def test_gradcam_with_torch_weights_through_infer(drawn_face_model, tmp_path):
    image = two_faces(tmp_path / "faces.png")
    run_script(
        [
            "infer.py",
            f"source={image}",
            f"weights={drawn_face_model}",
            "explain=gradcam",
            f"output.dir={tmp_path / 'out'}",
            "display=false",
        ]
    )
    assert len(list((tmp_path / "out").glob("faces_face*_gradcam.png"))) == 2
    recognizer = Recognizer(drawn_face_model, detector=None)
    tops = []
    for i in range(12):  # unseen faces, each explained for the label the model gives, as infer.py does
        face = recognizer.predictor.preprocess(
            to_grey_uint8(draw_face(sample_identity(9_000 + i), i % 7, seed=i, size=48))
        )
        predicted = int(np.argmax(recognizer.predictor.probabilities(face[None])[0]))
        heat = saliency(recognizer.predictor, face, predicted, "gradcam")
        assert heat.shape == face.shape[-2:] and heat.min() >= 0
        tops.append(float(heat.max()))
    # scaled to [0, 1]; Grad-CAM's ReLU leaves an empty map where no channel speaks for the label
    assert all(top == pytest.approx(1.0) or top == 0.0 for top in tops)
    assert sum(top == pytest.approx(1.0) for top in tops) >= 6, tops


def test_occlusion_runs_on_the_shipped_int8_model_through_infer(tmp_path):
    image = two_faces(tmp_path / "faces.png")
    out = tmp_path / "out"
    run_script(
        [
            "infer.py",
            f"source={image}",
            "explain=true",
            f"output.dir={out}",
            f"output.jsonl={out / 'f.jsonl'}",
            "display=false",
        ]
    )
    rows = [json.loads(line) for line in (out / "f.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    assert sorted(p.name for p in out.glob("*_occlusion.png")) == [
        "faces_face0_occlusion.png",
        "faces_face1_occlusion.png",
    ]
    assert [row["saliency"] for row in rows] == [str(out / f"faces_face{i}_occlusion.png") for i in range(2)]


@pytest.mark.slow
def test_gradcam_needs_torch_weights_and_explain_needs_a_folder(tmp_path):
    image = two_faces(tmp_path / "faces.png")
    onnx = run_script(
        ["infer.py", f"source={image}", "explain=gradcam", f"output.dir={tmp_path}", "display=false"], check=False
    )
    assert onnx.returncode == 2 and "explain=gradcam needs torch weights" in onnx.stderr
    no_dir = run_script(["infer.py", f"source={image}", "explain=true", "display=false"], check=False)
    assert no_dir.returncode == 2 and "output.dir" in no_dir.stderr
    wrong = run_script(
        ["infer.py", f"source={image}", "explain=lime", f"output.dir={tmp_path}", "display=false"], check=False
    )
    assert wrong.returncode == 2 and "explain='lime'" in wrong.stderr
