"""The one predictor that inference, evaluation and tests share: a frame in, one prediction per face out.

    predictor = Predictor(load_classifier("model.onnx"), HaarFaceDetector(), faces="largest")
    for face in predictor.predict(bgr_frame):
        print(face.box, face.label, face.score)

Its pixels follow training exactly: grey via `to_grey_uint8`, a square Haar crop resized to the
128 px side that training caches uncropped photos at (`CropPolicy.size`), then the training eval
transform and normalisation. A model therefore sees at inference what it saw in evaluation.
"""

import time
from dataclasses import dataclass

import numpy as np

from fer.errors import BadValue
from fer.faces.crop import CropPolicy, crop_square
from fer.faces.detect import Box, FaceDetector
from fer.faces.image_io import to_grey_uint8
from fer.faces.preprocess import eval_transform, normalise
from fer.inference.profile import Profile, References, RunningReference, baseline_term, log_softmax
from fer.inference.runtime import Classifier, softmax
from fer.labels import LABELS

# Training crops uncropped photos to this side before the eval transform resizes them to the
# model's input; going through the same intermediate size gives the same pixels.
CROP_SIDE = CropPolicy().size
FACES = ("all", "largest")


@dataclass
class FacePrediction:
    box: Box | None  # x, y, w, h in the frame; None when the input is already a face crop
    probs: np.ndarray  # shape (7,), sums to 1, in the order of fer.labels.LABELS
    person: str | None = None  # who it is (fer.inference.people), where the loop knows; None: not known

    @property
    def label(self) -> str:
        return LABELS[int(np.argmax(self.probs))]

    @property
    def score(self) -> float:
        return float(np.max(self.probs))


class Predictor:
    def __init__(
        self,
        classifier: Classifier,
        detector: FaceDetector | None = None,
        faces: str = "all",
        crop_margin: float = 0.0,
        tta_flip: bool = False,
        profile: Profile | None = None,
    ) -> None:
        if faces not in FACES:
            raise BadValue(f"faces={faces!r}: choose one of {', '.join(FACES)}")
        if tuple(classifier.labels) != LABELS:
            # Every consumer reads probs in LABELS order; a model with other labels would be read wrongly.
            raise BadValue(f"weights: {classifier.path}: labels {list(classifier.labels)} differ from {list(LABELS)}")
        self.classifier = classifier
        self.detector = detector
        self.faces = faces
        self.crop_margin = crop_margin
        # classify each face and its mirror image in one batch and average the logits (as
        # training's model.tta_flip does): steadier probabilities for about 1.5x the classify time
        self.tta_flip = tta_flip
        self.profile = profile  # calibration to a person or camera (fer.inference.profile); None: the base model
        # baseline=auto: references of the "mean" kind; each tracked face in video then builds its own reference
        # (`classify_boxes(..., references=)`); None: off
        self.baseline: References | None = None
        self._resize = eval_transform(classifier.image_size)
        # Milliseconds of the last call per stage (detect, preprocess, classify), for overlays and benchmarks.
        self.stage_ms: dict[str, float] = {}

    def predict(self, frame: np.ndarray) -> list[FacePrediction]:
        """BGR, BGRA or grey frame -> one prediction per face, largest first; [] when no face is found."""
        grey = to_grey_uint8(frame, "frame")
        if self.detector is None:
            return [FacePrediction(None, self.classify_crops([grey])[0])]
        return self.classify_boxes(grey, self.detect(grey))

    def detect(self, grey: np.ndarray) -> list[Box]:
        start = time.perf_counter()
        boxes = self.detector.detect(grey)
        self.stage_ms["detect"] = (time.perf_counter() - start) * 1000
        return boxes[:1] if self.faces == "largest" else boxes

    def classify_boxes(
        self,
        grey: np.ndarray,
        boxes: list[Box],
        mirrored: list[bool] | None = None,
        references: list[RunningReference] | None = None,
        profiles: list[Profile | None] | None = None,
    ) -> list[FacePrediction]:
        """Classify given face boxes of a grey frame (live video reuses boxes between detections);
        `mirrored`: see `classify_crops`; `references`: each face's running reference (baseline=auto);
        `profiles`: each face's own profile (an enrolled person's), None for the predictor's `profile`."""
        probs = self.classify_crops(self.crop_faces(grey, boxes), mirrored, references, profiles)
        return [FacePrediction(tuple(box), p) for box, p in zip(boxes, probs)]

    def crop_faces(self, grey: np.ndarray, boxes: list[Box]) -> list[np.ndarray]:
        """The crops `classify_crops` takes: square, at training's intermediate side."""
        return [crop_square(grey, box, self.crop_margin, CROP_SIDE) for box in boxes]

    def classify_crops(
        self,
        crops: list[np.ndarray],
        mirrored: list[bool] | None = None,
        references: list[RunningReference] | None = None,
        profiles: list[Profile | None] | None = None,
    ) -> np.ndarray:
        """Grey uint8 face crops -> (N, 7) probabilities, in one batched call to the classifier.

        `mirrored` (one flag per crop) classifies each crop in one pass, as it is or as its mirror image,
        whatever `tta_flip` says: the live loop alternates the two views of a face from frame to frame
        and its smoothing averages them, so video gets the flip's steadiness at one pass's cost.
        """
        if not crops:
            return np.zeros((0, len(LABELS)), np.float32)
        start = time.perf_counter()
        batch = np.stack([self.preprocess(crop) for crop in crops])
        middle = time.perf_counter()
        probs = self.probabilities(batch, mirrored, references, profiles)
        self.stage_ms["preprocess"] = (middle - start) * 1000
        self.stage_ms["classify"] = (time.perf_counter() - middle) * 1000
        return probs

    def probabilities(
        self,
        batch: np.ndarray,
        mirrored: list[bool] | None = None,
        references: list[RunningReference] | None = None,
        profiles: list[Profile | None] | None = None,
    ) -> np.ndarray:
        """Preprocessed faces (N x C x H x W) -> (N, 7), mirror-averaged when tta_flip is on; with
        `mirrored` (one flag per face), one pass of each face as it is or as its mirror image. With a
        profile (each face's own in `profiles`, else the predictor's), its calibration is applied to the
        model's calibrated log-probabilities."""
        each = [self.profile] * len(batch) if profiles is None else [p or self.profile for p in profiles]
        baseline = self.baseline is not None and references is not None
        needs_embedding = baseline or any(p is not None and p.needs_embedding for p in each)
        logits, embeddings = self.outputs(batch, mirrored, embedding=needs_embedding)
        if all(p is None for p in each) and not baseline:
            return softmax(logits, self.classifier.temperature)
        log_probs = log_softmax(np.asarray(logits, np.float64) / self.classifier.temperature)
        for profile in {id(p): p for p in each if p is not None}.values():  # each profile once, on its faces
            mine = np.array([p is profile for p in each])
            log_probs[mine] = profile.adjust(log_probs[mine], None if embeddings is None else embeddings[mine])
        if baseline:
            log_probs = log_softmax(log_probs + baseline_term(embeddings, references, self.baseline))
        return np.exp(log_probs).astype(np.float32)

    def outputs(
        self, batch: np.ndarray, mirrored: list[bool] | None = None, embedding: bool = True
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """(logits, embeddings or None) of preprocessed faces, each mirror-averaged or single-pass as in
        `probabilities` (calibration fits on what inference will read)."""
        if mirrored is not None:
            flip = np.asarray(mirrored, bool).reshape(len(batch), 1, 1, 1)  # one flag per face, or an error
            return self.classifier.outputs(np.where(flip, batch[..., ::-1], batch), embedding)
        if not self.tta_flip:
            return self.classifier.outputs(batch, embedding)
        logits, embeddings = self.classifier.outputs(np.concatenate([batch, batch[..., ::-1]]), embedding)
        n = len(batch)
        return (logits[:n] + logits[n:]) / 2, None if embeddings is None else (embeddings[:n] + embeddings[n:]) / 2

    def preprocess(self, grey_crop: np.ndarray) -> np.ndarray:
        """A face crop -> C x H x W float32: the training eval transform, then `to_tensor` in numpy."""
        resized = self._resize(image=to_grey_uint8(grey_crop, "crop"))["image"]
        return normalise(resized, self.classifier.mean, self.classifier.std, self.classifier.channels)
