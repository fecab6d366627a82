"""Live-video helpers: detect every N frames, hold boxes in between, smooth each face's probabilities.

Faces are matched from frame to frame by box overlap (IoU); a matched face's probabilities are an
exponential moving average, so labels do not flicker from one frame to the next.
"""

import numpy as np

from fer.detect import Box
from fer.errors import BadValue
from fer.predictor import FacePrediction, Predictor


def iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    return inter / float(aw * ah + bw * bh - inter) if inter else 0.0


class LiveFaces:
    def __init__(self, predictor: Predictor, detect_every: int = 1, smoothing: float = 0.0, min_iou: float = 0.3):
        if detect_every < 1 or not 0 <= smoothing < 1:
            raise BadValue(f"detect_every={detect_every}, smoothing={smoothing}: detect_every must be >= 1 and "
                           "smoothing in [0, 1)")
        self.predictor, self.detect_every, self.smoothing, self.min_iou = predictor, detect_every, smoothing, min_iou
        self._frames = 0
        self._boxes: list[Box] = []
        self._previous: list[FacePrediction] = []

    def step(self, grey: np.ndarray) -> list[FacePrediction]:
        if self._frames % self.detect_every == 0:
            self._boxes = self.predictor.detect(grey)
        self._frames += 1
        faces = self.predictor.classify_boxes(grey, self._boxes)
        if self.smoothing:
            faces = [self._smooth(face) for face in faces]
        self._previous = faces
        return faces

    def _smooth(self, face: FacePrediction) -> FacePrediction:
        best = max(self._previous, key=lambda p: iou(p.box, face.box), default=None)
        if best is None or iou(best.box, face.box) < self.min_iou:
            return face
        probs = self.smoothing * best.probs + (1 - self.smoothing) * face.probs
        return FacePrediction(face.box, probs / probs.sum())
