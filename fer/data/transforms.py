"""Training's image pipeline: albumentations augmentation, then `to_tensor`.

Evaluation and inference resize with `fer.faces.preprocess.eval_transform` instead of augmenting, and
every path ends in the same scaling and normalisation (`to_tensor` here, its numpy twin
`fer.faces.preprocess.normalise` at inference), so a model sees identical preprocessing in training,
evaluation and inference.
"""

from dataclasses import dataclass

import albumentations as A
import cv2
import numpy as np
import torch


@dataclass
class Augment:
    """Train-time augmentation strengths; 0 (or p=0) turns one off."""

    hflip: float = 0.5
    shift: float = 0.08  # fraction of the side
    scale: float = 0.1
    rotate: float = 12.0  # degrees
    affine_p: float = 0.8
    brightness: float = 0.25
    contrast: float = 0.25
    brightness_contrast_p: float = 0.7
    blur_p: float = 0.1
    noise_p: float = 0.1
    erase_p: float = 0.25  # one random rectangle blanked: makes models use more than one feature


def train_transform(size: int, augment: Augment | dict | None) -> A.Compose:
    a = Augment(**augment) if isinstance(augment, dict) else augment or Augment()
    return A.Compose(
        [
            A.Resize(size, size, interpolation=cv2.INTER_AREA),
            A.HorizontalFlip(p=a.hflip),
            A.Affine(
                translate_percent=(-a.shift, a.shift),
                scale=(1 - a.scale, 1 + a.scale),
                rotate=(-a.rotate, a.rotate),
                border_mode=cv2.BORDER_REPLICATE,
                p=a.affine_p,
            ),
            A.RandomBrightnessContrast(a.brightness, a.contrast, p=a.brightness_contrast_p),
            A.GaussianBlur(blur_limit=(3, 3), p=a.blur_p),
            A.GaussNoise(std_range=(0.02, 0.06), p=a.noise_p),
            A.CoarseDropout(
                num_holes_range=(1, 1),
                hole_height_range=(0.15, 0.3),
                hole_width_range=(0.15, 0.3),
                fill="random_uniform",
                p=a.erase_p,
            ),
        ]
    )


def to_tensor(grey: np.ndarray, mean: float, std: float, channels: int) -> torch.Tensor:
    """uint8 HxW greyscale -> float CxHxW, normalised; grey is repeated for 3-channel backbones."""
    x = torch.from_numpy(np.ascontiguousarray(grey)).float().div_(255.0).sub_(mean).div_(std)
    return x.unsqueeze(0).expand(channels, -1, -1).contiguous() if channels > 1 else x.unsqueeze(0)
