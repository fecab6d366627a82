"""Read any face image the sources ship as one 8-bit greyscale array.

Every source goes through `read_grey`, so palette, 16-bit, RGBA and colour files all reach the
models the same way, and a broken file raises `UnreadableImage` (which scanning counts) instead of
surfacing as a crash in the middle of an epoch.
"""

import io
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

# the file suffixes read as images: by the data sources, by inference for folders, by int8 calibration
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp", ".pgm", ".ppm"}


class UnreadableImage(ValueError):
    """The file is empty, truncated, corrupt or not an image."""


def read_grey(path: str | Path) -> np.ndarray:
    return decode_grey(Path(path).read_bytes(), str(path))


def decode_grey(data: bytes, name: str = "<bytes>") -> np.ndarray:
    if not data:
        raise UnreadableImage(f"{name}: empty file")
    check_not_truncated(data, name)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        # OpenCV cannot read some TIFF/palette variants that Pillow can.
        image = _decode_with_pillow(data, name)
    return to_grey_uint8(image, name)


def to_grey_uint8(image: np.ndarray, name: str = "<array>") -> np.ndarray:
    if image.dtype == np.uint16:
        image = (image / 257.0).round().astype(np.uint8)
    elif image.dtype in (np.float32, np.float64):
        image = np.clip(image * (255.0 if image.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise UnreadableImage(f"{name}: unsupported pixel type {image.dtype}")
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        image = flatten_alpha(image)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    raise UnreadableImage(f"{name}: unsupported image shape {image.shape}")


def flatten_alpha(bgra: np.ndarray) -> np.ndarray:
    # Transparent pixels become white, as image viewers show them; black would invent a dark frame.
    alpha = bgra[:, :, 3:4].astype(np.float32) / 255.0
    bgr = bgra[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return bgr.round().astype(np.uint8)


def _decode_with_pillow(data: bytes, name: str) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if im.mode in ("P", "PA", "RGBA", "LA"):
                im = im.convert("RGBA")
                return cv2.cvtColor(np.asarray(im), cv2.COLOR_RGBA2BGRA)
            if im.mode.startswith("I;16") or im.mode == "I":
                return np.asarray(im, dtype=np.uint16) if im.mode.startswith("I;16") else np.asarray(im.convert("L"))
            return np.asarray(im.convert("L"))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise UnreadableImage(f"{name}: not a readable image ({err})") from err


def check_not_truncated(data: bytes, name: str) -> None:
    # OpenCV decodes a truncated JPEG or PNG into a half-grey image with only a console warning;
    # the end markers tell a complete file from a cut one.
    if data[:3] == b"\xff\xd8\xff" and b"\xff\xd9" not in data[-64:]:
        raise UnreadableImage(f"{name}: truncated JPEG (no end-of-image marker)")
    if data[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" not in data[-32:]:
        raise UnreadableImage(f"{name}: truncated PNG (no IEND chunk)")


def files_under(folder: Path) -> list[Path]:
    """Every file below `folder` (hidden ones left out), following linked folders, which `Path.rglob`
    does not before Python 3.13 (test sets are often assembled from links); each real folder is read
    once, so a link back up the tree cannot loop."""
    seen, found = set(), []
    for root, dirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [Path(root) / name for name in files if not name.startswith(".")]
    return sorted(found)
