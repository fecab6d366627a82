"""The shipped identity network (fer/assets/identity_model.onnx) through IdentityEncoder: shape, torch-free
loading, what it says about drawn faces, one-line errors; with the real data, people told apart on JAFFE
and the stored threshold reproduced; with the publisher's weights, the int8 file against the float network."""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer.errors import BadValue, MissingInput
from fer.inference.identity import IdentityEncoder, shipped_identity_model
from tests.conftest import DATA_DIR, ROOT, needs_data
from tests.test_light_inference import loaded_heavy

WEIGHTS_DIR = Path(os.environ.get("FER_WEIGHTS_DIR", ROOT.parent / "shared" / "weights")) / "mobileface"
needs_weights = pytest.mark.skipif(
    not (WEIGHTS_DIR / "MobileFace_Identification_V1-0000.params").is_file(),
    reason=f"MobileFace weights not found in {WEIGHTS_DIR} (set FER_WEIGHTS_DIR to the folder holding mobileface/)",
)
BOX = (65, 70, 170, 170)  # where the drawn face lies in drawn_frame's picture


@pytest.fixture(scope="module")
def encoder():
    return IdentityEncoder()


def drawn_frame(identity: int, dx: int = 0, dy: int = 0) -> np.ndarray:
    """A grey picture of one drawn person, moved by (dx, dy) pixels."""
    from fer.data.synthetic_faces import draw_face, sample_identity

    canvas = np.full((300, 300, 3), 190, np.uint8)
    canvas[50 + dy : 250 + dy, 50 + dx : 250 + dx] = draw_face(sample_identity(identity), 4, seed=0, size=200)
    return cv2.cvtColor(canvas, cv2.COLOR_BGR2GRAY)


def test_the_shipped_encoder_gives_unit_256_d_rows(encoder):
    rows = encoder.embed_boxes(drawn_frame(7), [BOX, (100, 100, 80, 80)])
    assert rows.shape == (2, 256) and rows.dtype == np.float32 and encoder.size == 256
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert encoder.embed_boxes(drawn_frame(7), []).shape == (0, 256)
    assert 0.3 < encoder.threshold < 0.95 and encoder.margin == encoder.meta["crop_margin"]
    assert encoder.meta["licence"] == "MIT, becauseofAI/MobileFace"


def test_a_face_moved_a_few_pixels_stays_the_same_person_and_another_does_not(encoder):
    for person, other in ((7, 8), (5, 6), (1, 2)):
        still, moved, stranger = (
            encoder.embed_boxes(frame, [BOX])[0]
            for frame in (drawn_frame(person), drawn_frame(person, 3, -2), drawn_frame(other))
        )
        same, different = encoder.similarity(still, moved), encoder.similarity(still, stranger)
        assert same > encoder.threshold > different, (person, same, different)
        assert same > different + 0.25, (person, same, different)


def test_crops_and_boxes_agree_and_similarity_takes_sets(encoder):
    from fer.faces.crop import crop_square

    frame = drawn_frame(5)
    crop = crop_square(frame, BOX, encoder.margin, 100)
    assert np.allclose(encoder.embed_crops([crop]), encoder.embed_boxes(frame, [BOX]), atol=1e-6)
    rows = encoder.embed_crops([crop, cv2.resize(crop, (60, 60))])
    matrix = encoder.similarity(rows, rows)
    assert matrix.shape == (2, 2) and np.allclose(np.diag(matrix), 1.0, atol=1e-5)


def test_the_encoder_imports_no_training_library():
    code = (
        "import numpy as np\nfrom fer.inference.identity import IdentityEncoder\n"
        "rows = IdentityEncoder().embed_boxes(np.full((120, 120), 128, np.uint8), [(10, 10, 100, 100)])\n"
        "assert rows.shape == (1, 256)"
    )
    assert loaded_heavy(code) == []


def test_a_missing_or_foreign_file_is_one_line_saying_what_to_do(tmp_path):
    with pytest.raises(MissingInput) as missing:
        IdentityEncoder(tmp_path / "gone.onnx")
    assert "gone.onnx" in str(missing.value) and "fer import-weights source=" in str(missing.value)
    assert "\n" not in str(missing.value)
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(BadValue, match="not a readable ONNX model"):
        IdentityEncoder(tmp_path / "junk.onnx")
    with pytest.raises(BadValue, match="no 'fer_identity' metadata"):
        IdentityEncoder(shipped_identity_model().with_name("default_model.onnx"))


# ------------------------------------------------------------------------------------------ real faces


@pytest.fixture(scope="module")
def jaffe():
    """JAFFE's faces cut as the encoder cuts them (importer and bench use the same cutting)."""
    from fer.export.identity import jaffe_faces

    return jaffe_faces(DATA_DIR, IdentityEncoder().margin)


@needs_data("jaffe")
def test_jaffe_nearest_neighbour_is_the_same_person(encoder, jaffe):
    from fer.faces.image_io import read_grey

    # the public path: each photo and its Haar box
    rows = np.concatenate(
        [
            encoder.embed_boxes(read_grey(DATA_DIR / "jaffe" / file), [box])
            for file, box in zip(jaffe.files, jaffe.boxes)
        ]
    )
    people = np.array(jaffe.ids)
    scores = rows @ rows.T
    np.fill_diagonal(scores, -1)
    assert len(rows) == 213
    assert np.mean(people[scores.argmax(axis=1)] == people) >= 0.95
    assert np.allclose(rows, encoder.embed_crops(jaffe.crops), atol=1e-6)


@needs_data("jaffe", "ckplus48")
def test_the_stored_threshold_is_this_files_false_accept_rate_of_1e_3(encoder, jaffe):
    from fer.export.identity import THRESHOLD_FAR, ckplus_faces, pair_scores, pooled, threshold_at

    batch, ids = pooled({"jaffe": jaffe, "ckplus48": ckplus_faces(DATA_DIR, encoder.margin)})
    _, impostor = pair_scores(encoder.embed_batch(batch), ids)
    assert threshold_at(impostor, THRESHOLD_FAR) == pytest.approx(encoder.threshold, abs=1e-4)
    assert np.mean(impostor > encoder.threshold) <= THRESHOLD_FAR


@needs_weights
@needs_data("jaffe")
def test_the_int8_file_agrees_with_the_publishers_float_network(encoder, jaffe):
    import torch

    from fer.export.identity import build_float_network
    from fer.inference.profile import file_sha256

    net = build_float_network(WEIGHTS_DIR)
    with torch.no_grad():
        reference = net(torch.from_numpy(jaffe.batch())).numpy()
    cosine = np.sum(encoder.embed_crops(jaffe.crops) * reference, axis=1)
    assert cosine.mean() >= 0.97 and cosine.min() >= 0.95, (cosine.mean(), cosine.min())
    assert encoder.meta["source"]["params_sha256"] == file_sha256(
        WEIGHTS_DIR / "MobileFace_Identification_V1-0000.params"
    )
