"""Square face crops, as training caches them and inference classifies them.

`CropPolicy` says how an uncropped photo becomes a face crop (the detector's settings, the margin and
the side crops are stored at); `crop_square` cuts one box out of a frame. Training's face cache and the
predictor both go through them, so a model sees at inference the crops it was trained on.
"""

import hashlib
import json
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from fer.faces.detect import Box, HaarFaceDetector


@dataclass
class CropPolicy:
    """How uncropped photos become face crops; sources that ship crops pass through unchanged."""

    margin: float = 0.0  # Haar boxes with no margin match the tightness of CK+48 and FER2013
    size: int = 128  # cached crops are stored at this side, models resize from there
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_size: float = 0.1

    def key(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]

    def detector(self) -> HaarFaceDetector:
        return HaarFaceDetector(self.scale_factor, self.min_neighbors, self.min_size)


def crop_square(grey: np.ndarray, box: Box, margin: float, size: int) -> np.ndarray:
    """A square crop centred on the box, grown by `margin` of its side on each side, resized.

    Parts of the square outside the frame are filled by replicating the border, so faces near the
    edge keep their position in the crop.
    """
    x, y, w, h = box
    side = int(round(max(w, h) * (1 + 2 * margin)))
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    pad = max(0, -x0, -y0, x0 + side - grey.shape[1], y0 + side - grey.shape[0])
    if pad:
        grey = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0 = x0 + pad, y0 + pad
    crop = grey[y0 : y0 + side, x0 : x0 + side]
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)
