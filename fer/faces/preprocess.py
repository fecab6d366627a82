"""Evaluation's preprocessing of a face crop, torch-free: resize to the model's input, scale and normalise.

Evaluation, inference and int8 calibration all prepare faces this way; training ends its augmentation in
`fer.data.transforms.to_tensor`, whose float32 operations `normalise` repeats in numpy.
"""

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class EvalResize:
    """Evaluation's one transform, a plain area resize, called as albumentations transforms are
    (`transform(image=grey)["image"]`). Not an `A.Compose([A.Resize(...)])`, which gives the same pixels
    but costs more a call (docs/inference.md, "What brought the live loop"): the live loop runs it on every
    face of every frame."""

    size: int

    def __call__(self, image: np.ndarray) -> dict[str, np.ndarray]:
        return {"image": cv2.resize(image, (self.size, self.size), interpolation=cv2.INTER_AREA)}


def eval_transform(size: int) -> EvalResize:
    return EvalResize(size)


def normalise(grey: np.ndarray, mean: float, std: float, channels: int) -> np.ndarray:
    """numpy twin of training's `fer.data.transforms.to_tensor` (same float32 operations, same order): no torch
    per frame."""
    x = (grey.astype(np.float32) / np.float32(255.0) - np.float32(mean)) / np.float32(std)
    return np.ascontiguousarray(np.broadcast_to(x, (channels, *x.shape)))
