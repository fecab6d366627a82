"""Mixup and CutMix: train on blends of two faces with the loss split between their labels.

Both are regularisers the FER literature reports helping small CNNs on FER2013; they are off by
default (`model.mixing`) and apply to training batches only.
"""

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Mixing:
    # Beta(alpha, alpha) draws the share lam of the first face; 0 turns that method off.
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    # share of batches that are mixed at all; when both methods are on, each mixed batch picks one
    prob: float = 1.0

    def __post_init__(self) -> None:
        if self.mixup_alpha < 0 or self.cutmix_alpha < 0 or not 0 <= self.prob <= 1:
            raise ValueError(
                f"model.mixing: alphas must be >= 0 and prob in [0, 1], got {self.mixup_alpha}, "
                f"{self.cutmix_alpha}, {self.prob}"
            )

    @property
    def enabled(self) -> bool:
        return self.prob > 0 and (self.mixup_alpha > 0 or self.cutmix_alpha > 0)

    def __call__(self, images: torch.Tensor, labels: torch.Tensor):
        """(mixed images, first labels, second labels, lam): loss = lam*CE(a) + (1-lam)*CE(b).
        `labels` are class indices or soft targets (one row per image).
        Draws from the global generator, which the module reseeds per step, so resumes repeat."""
        if not self.enabled or torch.rand(()) >= self.prob:
            return images, labels, labels, 1.0
        order = torch.randperm(len(images))
        use_cutmix = self.cutmix_alpha > 0 and (self.mixup_alpha == 0 or torch.rand(()) < 0.5)
        alpha = self.cutmix_alpha if use_cutmix else self.mixup_alpha
        lam = float(torch.distributions.Beta(alpha, alpha).sample())
        if use_cutmix:
            images, lam = _paste_box(images, images[order], lam)
        else:
            images = lam * images + (1 - lam) * images[order]
        return images, labels, labels[order], lam


def _paste_box(images: torch.Tensor, others: torch.Tensor, lam: float) -> tuple[torch.Tensor, float]:
    """Paste a box of area share (1 - lam) from `others`; lam is recomputed from the clipped box."""
    height, width = images.shape[-2:]
    cut = (1 - lam) ** 0.5
    box_h, box_w = int(height * cut), int(width * cut)
    cy, cx = int(torch.randint(height, ())), int(torch.randint(width, ()))
    top, bottom = max(cy - box_h // 2, 0), min(cy + box_h // 2, height)
    left, right = max(cx - box_w // 2, 0), min(cx + box_w // 2, width)
    mixed = images.clone()
    mixed[..., top:bottom, left:right] = others[..., top:bottom, left:right]
    return mixed, 1 - (bottom - top) * (right - left) / (height * width)
