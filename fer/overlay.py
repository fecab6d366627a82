"""Drawing results on frames: a box and label per face, a bar per expression, FPS and stage timings."""

import cv2
import numpy as np

from fer.labels import LABELS
from fer.predictor import FacePrediction

GREEN, WHITE, BLACK = (80, 200, 80), (255, 255, 255), (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def draw(image: np.ndarray, faces: list[FacePrediction], stats: dict[str, float] | None = None) -> np.ndarray:
    canvas = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    for face in faces:
        if face.box is None:
            _bars(canvas, face.probs, 4, 4)
            continue
        x, y, w, h = face.box
        cv2.rectangle(canvas, (x, y), (x + w, y + h), GREEN, 2)
        _text(canvas, f"{face.label} {face.score:.2f}", x, max(14, y - 6), 0.55)
        _bars(canvas, face.probs, x + w + 6 if x + w + 130 < canvas.shape[1] else max(0, x - 130), y)
    if stats:
        line = "  ".join(f"{k} {v:.1f}" for k, v in stats.items())
        _text(canvas, line, 6, canvas.shape[0] - 8, 0.45)
    return canvas


def _bars(canvas: np.ndarray, probs: np.ndarray, x: int, y: int) -> None:
    for i, (label, p) in enumerate(zip(LABELS, probs)):
        top = y + i * 14
        cv2.rectangle(canvas, (x, top), (x + 120, top + 11), BLACK, -1)
        cv2.rectangle(canvas, (x, top), (x + int(120 * float(p)), top + 11), GREEN, -1)
        cv2.putText(canvas, label[:8], (x + 2, top + 9), FONT, 0.33, WHITE, 1, cv2.LINE_AA)


def _text(canvas: np.ndarray, text: str, x: int, y: int, scale: float) -> None:
    """White text on a black box, legible on any frame. Not an outline of thick anti-aliased text: that
    cost ~1 ms a line, the largest part of drawing a frame; the box and one thin line cost ~0.07 ms."""
    (w, h), baseline = cv2.getTextSize(text, FONT, scale, 1)
    cv2.rectangle(canvas, (x - 2, y - h - 2), (x + w + 2, y + baseline), BLACK, -1)
    cv2.putText(canvas, text, (x, y), FONT, scale, WHITE, 1, cv2.LINE_AA)
