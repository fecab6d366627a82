"""Who is who: a face-identity embedding, so that faces of one person can be matched across frames.

    encoder = IdentityEncoder()                          # the shipped fer/assets/identity_model.onnx
    vectors = encoder.embed_boxes(grey, boxes)           # N x 256 float32, unit rows
    same = encoder.similarity(vectors[0], vectors[1]) > encoder.threshold

The network is MobileFace Identification V1 (MIT, becauseofAI/MobileFace), the publisher's face-recognition
network unchanged, quantised to int8 (`fer import-weights`, docs/people.md). It tells people
apart; it knows nothing of expressions. Runs on numpy, OpenCV and ONNX Runtime only (no torch).
"""

import json
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from fer.errors import BadValue, MissingInput
from fer.faces.crop import crop_square
from fer.faces.image_io import to_grey_uint8
from fer.faces.preprocess import normalise

IDENTITY_MODEL = "identity_model.onnx"  # in fer/assets
META_KEY = "fer_identity"  # not the classifiers' `fer_meta`: the expression runtime refuses this file by name
FORMAT = "fer-identity/1"
INPUT_NAME, OUTPUT_NAME = "input", "embedding"
IMAGE_SIZE = 100  # the publisher's input: 1 x 100 x 100 grey
MEAN, STD = 0.5, 0.5  # the publisher's (x - 127.5) / 127.5 on 0-255 pixels, as (x / 255 - 0.5) / 0.5
# Margin of the square crop around a Haar box, as a fraction of its side; negative cuts inside the box.
# -0.1 (a square of 0.8 x the box's side, same centre) verifies best of the margins measured
# (bench/identity.py --margins; the figures: docs/people.md, "The crop"): the publisher trained on faces aligned
# tightly on their landmarks, and every margin outwards adds hair and background, which vary with the
# recording, not with the person.
CROP_MARGIN = -0.1
REGENERATE = "fer import-weights source=<folder with the MobileFace_Identification_V1 files>"


class IdentityEncoder:
    """Face crops in, 256-D unit embeddings out; two faces whose cosine similarity is above `threshold`
    are taken as one person (the threshold the file stores, set at a false accept rate of 1e-3)."""

    def __init__(self, path: str | Path | None = None, threads: int = 1) -> None:
        self.path = Path(path) if path is not None else shipped_identity_model()
        self.session, meta = _open(self.path, threads)
        self.meta = meta
        self.size: int = int(meta["embedding_size"])
        self.threshold: float = float(meta["threshold"])
        self.margin: float = float(meta["crop_margin"])
        self.image_size: int = int(meta["image_size"])
        self.mean, self.std = float(meta["mean"]), float(meta["std"])
        self.channels: int = int(meta["channels"])

    def embed_boxes(self, grey: np.ndarray, boxes) -> np.ndarray:
        """One embedding per (x, y, w, h) box of a frame, each face cut as a square around its box."""
        frame = to_grey_uint8(np.asarray(grey), "frame")
        crops = [crop_square(frame, tuple(int(v) for v in box), self.margin, self.image_size) for box in boxes]
        return self.embed_crops(crops)

    def embed_crops(self, crops) -> np.ndarray:
        """One embedding per face crop (any size; resized to the network's side), N x size float32."""
        faces = [prepare_crop(crop, self.image_size, self.mean, self.std, self.channels) for crop in crops]
        if not faces:
            return np.zeros((0, self.size), np.float32)
        return self.embed_batch(np.stack(faces))

    def embed_batch(self, batch: np.ndarray) -> np.ndarray:
        """Embeddings of already normalised inputs, N x channels x side x side float32."""
        if len(batch) == 0:  # ONNX Runtime rejects empty batches
            return np.zeros((0, self.size), np.float32)
        feed = {INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)}
        return unit_rows(self.session.run([OUTPUT_NAME], feed)[0])

    @staticmethod
    def similarity(a: np.ndarray, b: np.ndarray) -> float | np.ndarray:
        """Cosine similarity: a number for two vectors, a len(a) x len(b) matrix for two sets of rows."""
        a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
        scores = unit_rows(np.atleast_2d(a)) @ unit_rows(np.atleast_2d(b)).T
        return float(scores[0, 0]) if a.ndim == 1 and b.ndim == 1 else scores

    def __repr__(self) -> str:
        return f"IdentityEncoder({self.path.name}, {self.size}-D, threshold={self.threshold:.3f})"


def prepare_crop(
    crop: np.ndarray, size: int = IMAGE_SIZE, mean: float = MEAN, std: float = STD, channels: int = 1
) -> np.ndarray:
    """A face crop as the network takes it: grey, size x size, normalised (channels x size x size float32)."""
    crop = to_grey_uint8(np.asarray(crop), "face crop")
    if crop.shape != (size, size):
        # area averaging to shrink (no aliasing), bilinear to enlarge: what crop_square does
        shrink = max(crop.shape) > size
        crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return normalise(crop, mean, std, channels)


def unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), np.float32(1e-12))


def shipped_identity_model() -> Path:
    return Path(str(resources.files("fer") / "assets" / IDENTITY_MODEL))


def _open(path: Path, threads: int):
    """(session, metadata) of an identity file; a missing or foreign file is one line saying what to do."""
    import onnxruntime as ort

    if not path.is_file():
        raise MissingInput(
            f"identity model: no such file: {path}; reinstall the package or rebuild it with {REGENERATE}"
        )
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # idle ONNX Runtime threads would otherwise spin and take the detector's CPU between calls
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types for unreadable models
        raise BadValue(
            f"identity model: {path} is not a readable ONNX model ({' '.join(str(err).split())[:200]}); "
            f"rebuild it with {REGENERATE}"
        ) from err
    props = session.get_modelmeta().custom_metadata_map
    if META_KEY not in props:
        raise BadValue(
            f"identity model: {path} has no '{META_KEY}' metadata (not an identity model of this "
            f"package); rebuild it with {REGENERATE}"
        )
    return session, json.loads(props[META_KEY])
