"""Drawing results on frames: a box and label per face, a bar per expression, FPS and stage timings."""

import functools

import cv2
import numpy as np

from fer.faces.image_io import flatten_alpha
from fer.inference.predictor import FacePrediction
from fer.labels import LABELS

GREEN, WHITE, BLACK = (80, 200, 80), (255, 255, 255), (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX
BAR_WIDTH, BAR_HEIGHT, BAR_PITCH = 120, 12, 14  # pixels; 2 black rows between bars


def draw(
    image: np.ndarray, faces: list[FacePrediction], stats: dict[str, float] | None = None, in_place: bool = False
) -> np.ndarray:
    """The annotated frame: a copy, or `image` itself with `in_place` (a BGR frame nobody reads after
    drawing, as in infer.py: copying a 1080p frame costs about as much as drawing on it; docs/inference.md)."""
    if image.ndim == 2 or image.shape[2] == 1:
        canvas = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:  # transparency onto white, as the model saw the image
        canvas = flatten_alpha(image)
    else:
        canvas = image if in_place and image.flags.writeable else image.copy()
    for face in faces:
        if face.box is None:
            _bars(canvas, face.probs, 4, 4)
            continue
        x, y, w, h = face.box
        cv2.rectangle(canvas, (x, y), (x + w, y + h), GREEN, 2)
        _text(canvas, f"{face.label} {face.score:.2f}", x, max(14, y - 6), 0.55)
        _bars(
            canvas, face.probs, x + w + 6 if x + w + BAR_WIDTH + 10 < canvas.shape[1] else max(0, x - BAR_WIDTH - 10), y
        )
    if stats:
        line = "  ".join(f"{k} {v:.1f}" for k, v in stats.items())
        _text(canvas, line, 6, canvas.shape[0] - 8, 0.45)
    return canvas


@functools.cache
def _bar_charts() -> tuple[np.ndarray, np.ndarray]:
    """The bar chart drawn once with every bar empty (black) and once with every bar full (green), the
    labels written on both: a frame copies each bar's filled part from the second and the rest from the
    first, instead of drawing 21 rectangles and labels a face on every frame (docs/inference.md, "What brought
    the live loop")."""
    charts = []
    for fill in (BLACK, GREEN):
        chart = np.zeros((len(LABELS) * BAR_PITCH, BAR_WIDTH, 3), np.uint8)
        for i, label in enumerate(LABELS):
            top = i * BAR_PITCH
            chart[top : top + BAR_HEIGHT] = fill
            cv2.putText(chart, label[:8], (2, top + 9), FONT, 0.33, WHITE, 1, cv2.LINE_AA)
        charts.append(chart)
    return charts[0], charts[1]


def _bars(canvas: np.ndarray, probs: np.ndarray, x: int, y: int) -> None:
    empty, full = _bar_charts()
    chart = empty.copy()
    for i, p in enumerate(probs.tolist()):
        rows, filled = slice(i * BAR_PITCH, i * BAR_PITCH + BAR_HEIGHT), int(round(BAR_WIDTH * min(max(p, 0.0), 1.0)))
        chart[rows, :filled] = full[rows, :filled]
    x0, y0 = max(x, 0), max(y, 0)  # the chart clipped to the frame
    x1, y1 = min(x + BAR_WIDTH, canvas.shape[1]), min(y + len(chart), canvas.shape[0])
    if x0 < x1 and y0 < y1:
        canvas[y0:y1, x0:x1] = chart[y0 - y : y1 - y, x0 - x : x1 - x]


def _text(canvas: np.ndarray, text: str, x: int, y: int, scale: float) -> None:
    """White text on a black box, legible on any frame. Not an outline of thick anti-aliased text: that
    was the largest part of drawing a frame; the box and one thin line cost a small fraction of it."""
    (w, h), baseline = cv2.getTextSize(text, FONT, scale, 1)
    cv2.rectangle(canvas, (x - 2, y - h - 2), (x + w + 2, y + baseline), BLACK, -1)
    cv2.putText(canvas, text, (x, y), FONT, scale, WHITE, 1, cv2.LINE_AA)
