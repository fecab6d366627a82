"""A face's probabilities over frames: an exponential moving average of what each frame classified."""

import numpy as np


def smooth(previous: np.ndarray | None, probs: np.ndarray, smoothing: float) -> np.ndarray:
    """Exponential moving average of one face's probabilities (previous None: the face is new)."""
    if previous is None or not smoothing:
        return probs
    mixed = smoothing * previous + (1 - smoothing) * probs
    return mixed / mixed.sum()
