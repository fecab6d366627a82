"""The annotated example of docs/results.md: generated faces through infer.py and the shipped model."""

import shutil
import sys
from pathlib import Path

from . import checkout
from .commands import run

EXAMPLE_LABELS = ("happy", "surprise", "anger", "sad")


def example_image(work: Path) -> Path:
    """Generated faces only (the shared data may not be published), annotated by infer.py and the shipped model."""
    source = work / "example.png"
    _draw_faces(source)
    run(["infer.py", f"source={source}", f"output.dir={work / 'annotated'}", "display=false"])
    annotated = checkout.docs_folder() / "example_annotated.png"
    shutil.copy(work / "annotated" / "example.png", annotated)
    return annotated


def _draw_faces(path: Path) -> None:
    sys.path.insert(0, str(checkout.ROOT))  # this checkout's fer, not another installed copy
    import cv2
    import numpy as np

    from fer.data.synthetic_faces import draw_face, sample_identity
    from fer.labels import LABELS

    canvas = np.full((560, 760, 3), (200, 190, 180), np.uint8)
    for i, label in enumerate(EXAMPLE_LABELS):  # a 2 x 2 grid: room for each face's bars
        face = draw_face(sample_identity(100 + i), LABELS.index(label), seed=7 + i, size=200)
        y, x = 30 + (i // 2) * 270, 20 + (i % 2) * 380
        canvas[y : y + 200, x : x + 200] = face
    cv2.imwrite(str(path), canvas)
