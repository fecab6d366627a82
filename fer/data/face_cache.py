"""Decoded faces of a source, cached once as one memory-mapped uint8 array per source and size.

Decoding a JPEG and resizing it for every item of every epoch costs the loader workers as much CPU
as a compact CNN's training step, on machines where they share the cores with training. So each
source's faces are decoded (cropped where the source needs it) and resized to the model's input
size once, into `<cache>/faces/<key>.npy`; the workers then only augment. The key covers the
source's content (file digests, or the generator's settings), the crop policy and the size, so a
changed file or setting builds a new array and a stale one is never read. The array is memory-mapped
read-only in each process: memory stays flat in the dataset's size, and the page cache is shared by
the workers.
"""

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from fer.data.sample import FaceSample
from fer.data.sources.base import Source

log = logging.getLogger(__name__)
FORMAT = 1


class FaceArray:
    """A source's faces as rows of one (N, size, size) uint8 array; `load` is the source's own `load`,
    already resized (the train and eval transforms' first step, INTER_AREA, done once)."""

    def __init__(self, path: Path, rows: dict[str, int]) -> None:
        self.path, self.rows = path, rows
        self._array: np.ndarray | None = None

    def load(self, record: FaceSample) -> np.ndarray:
        if self._array is None:  # opened in the process that reads (each loader worker maps it itself)
            self._array = np.load(self.path, mmap_mode="r")
        return np.array(self._array[self.rows[record.key]])

    def __len__(self) -> int:
        return len(self.rows)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_array": None}  # never pickle the pixels into a worker


def face_array(
    source: Source, records: list[FaceSample], size: int, cache_dir: Path, crop_key: str | None = None
) -> FaceArray:
    """The cached array of these records of `source` at `size` x `size`, built on first use."""
    key = _key(source, records, size, crop_key)
    path = Path(cache_dir) / "faces" / f"{source.name}-{size}px-{key}.npy"
    rows = {record.key: row for row, record in enumerate(records)}
    if not path.is_file():
        _build(source, records, size, path)
    return FaceArray(path, rows)


def _key(source: Source, records: list[FaceSample], size: int, crop_key: str | None) -> str:
    # file digests, plus the box where one file holds several faces (the key's suffix); generated faces: their seed
    content = [(r.digest or r.path) + r.key.removeprefix(r.path) for r in records]
    cropped = source.needs_crop or any(r.box is not None for r in records)  # the crop policy shapes these faces
    spec = {
        "format": FORMAT,
        "source": type(source).__name__,
        "settings": source.pixel_settings(),
        "crop": crop_key if cropped else None,
        "size": size,
        "content": content,
    }
    return hashlib.sha1(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def _build(source: Source, records: list[FaceSample], size: int, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info("caching %d decoded %dpx faces of %s in %s (once)", len(records), size, source.name, path)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
    array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(records), size, size))

    def fill(row: int) -> None:
        grey = source.load(records[row])
        if grey.shape != (size, size):
            grey = cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA)
        array[row] = grey  # noqa: F821 (the enclosing function's memmap; ruff misreads the later `del array`)

    # OpenCV decodes without the GIL, so two threads use both cores of a small machine.
    with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
        list(pool.map(fill, range(len(records))))
    array.flush()
    del array
    os.replace(tmp, path)  # atomic: a killed run or a second rank never leaves half an array under the key
