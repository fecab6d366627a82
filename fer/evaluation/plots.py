"""Pictures for people, drawn with OpenCV (no plotting library needed): the confusion matrix."""

from pathlib import Path

import cv2
import numpy as np
import torch

from fer.labels import LABELS


def confusion_image(matrix: torch.Tensor | np.ndarray, title: str = "", cell: int = 64) -> np.ndarray:
    """Row-normalised confusion matrix (rows: true label) with counts, as a BGR image."""
    counts = np.asarray(matrix, dtype=np.int64)
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    n, left, top = len(LABELS), 90, 60
    image = np.full((top + n * cell + 10, left + n * cell + 10, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(image, title, (8, 20), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    for i in range(n):
        cv2.putText(image, LABELS[i][:8], (4, top + i * cell + cell // 2 + 5), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.putText(image, LABELS[i][:4], (left + i * cell + 10, top - 10), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        for j in range(n):
            shade = int(255 * (1 - share[i, j]))
            x, y = left + j * cell, top + i * cell
            cv2.rectangle(image, (x, y), (x + cell - 2, y + cell - 2), (255, shade, shade), -1)
            ink = (255, 255, 255) if share[i, j] > 0.5 else (0, 0, 0)
            cv2.putText(image, f"{share[i, j]:.2f}", (x + 8, y + cell // 2 - 2), font, 0.42, ink, 1, cv2.LINE_AA)
            cv2.putText(image, str(counts[i, j]), (x + 8, y + cell // 2 + 16), font, 0.38, ink, 1, cv2.LINE_AA)
    return image


def save_confusion_image(matrix, path: Path, title: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), confusion_image(matrix, title))
    return path
