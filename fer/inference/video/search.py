"""Window search: the live loop follows each known face between full scans by looking for it again in a small
window around its last box (`LocalSearch`)."""

from dataclasses import dataclass

import cv2
import numpy as np

from fer.faces.detect import Box, HaarFaceDetector


@dataclass
class LocalSearch:
    """Finds a known face again in a window around its last box, at a small scale.

    The window grows the box by `window` of its side on each side and is shrunk so the face in it
    is `face_px` pixels wide; a Haar cascade set for faces of about that size then scans a window image
    of `face_px / fill` pixels (41 at the defaults) instead of a frame. Haar whatever the full-frame detector is:
    it is the cheapest at this size, and the full-frame detector (a user's object, say) is never
    called from two threads at once. Of the faces found, the one of a similar size nearest the old
    box's centre gives the face's new centre; the box keeps its size, which full scans set, so
    crops stay as tight as the detector's full-frame boxes that training used.
    """

    # window and face_px: measured on bench/latency.py's moving faces against a larger face and window
    # (the cost a face and how often it is found: docs/inference.md, the live loop)
    window: float = 0.35
    face_px: int = 24  # the Haar cascade's own template size
    max_size_change: float = 1.25  # a new box more than this many times larger or smaller is another face

    def __post_init__(self) -> None:
        fill = 1 / (1 + 2 * self.window)  # the face's share of the window's side
        # a window holds one face, so fewer neighbours than a full scan keep it found while it moves
        self.detector = HaarFaceDetector(
            min_neighbors=2,
            min_size=fill / self.max_size_change,
            max_size=min(1.0, fill * self.max_size_change),
            max_side=int(round(self.face_px / fill)),
        )

    def find(self, grey: np.ndarray, box: Box) -> Box | None:
        x, y, w, h = box
        side = max(w, h) * (1 + 2 * self.window)
        cx, cy = x + w / 2, y + h / 2
        x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
        x1, y1 = min(grey.shape[1], int(cx + side / 2)), min(grey.shape[0], int(cy + side / 2))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        scale = min(1.0, self.face_px / max(w, h))
        window = grey[y0:y1, x0:x1]
        if scale < 1:
            window = cv2.resize(window, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        candidates = [
            (x0 + bx / scale, y0 + by / scale, bw / scale, bh / scale)
            for bx, by, bw, bh in self.detector.detect(window)
        ]
        candidates = [c for c in candidates if 1 / self.max_size_change <= c[2] / w <= self.max_size_change]
        if not candidates:
            return None
        bx, by, bw, bh = min(candidates, key=lambda c: (c[0] + c[2] / 2 - cx) ** 2 + (c[1] + c[3] / 2 - cy) ** 2)
        return int(round(bx + bw / 2 - w / 2)), int(round(by + bh / 2 - h / 2)), w, h
