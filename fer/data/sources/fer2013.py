"""FER2013 in either of its releases, always with the official splits.

- Image folders: `train/<label>/Training_*.jpg` and `test/<label>/PublicTest_*.jpg`. Validation is
  carved from train by the split step, since this release has no third part.
- The original `fer2013.csv` (emotion, pixels, Usage): Training -> train, PublicTest -> val,
  PrivateTest -> test. Its rows are written once as PNG files to the cache, so training reads
  files like every other source instead of holding 35,887 pixel strings in memory.
"""

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from fer.data.sources.base import ListedFile, Source, image_files, label_folders

CSV_CODES = {0: "anger", 1: "disgust", 2: "fear", 3: "happy", 4: "sad", 5: "surprise", 6: "neutral"}
CSV_USAGE = {"Training": "train", "PublicTest": "val", "PrivateTest": "test"}
FOLDER_SPLITS = {"train": "train", "test": "test"}


class FER2013(Source):
    labels_from_folders = True

    def __init__(self, *args, csv_file: str = "fer2013.csv", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.csv_file = csv_file
        self._extracted: Path | None = None

    @property
    def csv_path(self) -> Path:
        return self.root / self.csv_file

    def available(self) -> bool:
        return super().available() and (self.csv_path.is_file() or (self.root / "train").is_dir())

    def prepare(self, cache_dir: Path) -> None:
        if self.csv_path.is_file():
            self._extracted = extract_csv(self.csv_path, cache_dir / "fer2013_csv")

    def list_files(self) -> Iterator[ListedFile]:
        if self._extracted is not None:
            yield from self._list_tree(self._extracted, {s: s for s in ("train", "val", "test")})
        else:
            yield from self._list_tree(self.root, FOLDER_SPLITS)

    def _list_tree(self, root: Path, splits: dict[str, str]) -> Iterator[ListedFile]:
        for folder_name, split in splits.items():
            if (root / folder_name).is_dir():
                for label_dir in label_folders(root / folder_name):
                    for path in image_files(label_dir):
                        yield ListedFile(path, label_name=label_dir.name, split=split)


def csv_faces(csv_path: Path) -> Iterator[tuple[int, dict, np.ndarray]]:
    """(row number, row, square uint8 face) for each row of fer2013.csv (FER+'s votes align with these rows)."""
    with open(csv_path, newline="") as handle:
        for row_number, row in enumerate(csv.DictReader(handle)):
            pixels = np.array(row.pop("pixels").split(), dtype=np.uint8)
            side = int(round(len(pixels) ** 0.5))
            yield row_number, row, pixels.reshape(side, side)


def extract_csv(csv_path: Path, cache_root: Path) -> Path:
    """Write each row of fer2013.csv as `<split>/<label>/<row>.png` under a folder keyed by content."""
    digest = hashlib.sha1(csv_path.read_bytes()).hexdigest()[:16]
    out = cache_root / digest
    if (out / ".complete").exists():
        return out
    for row_number, row, face in csv_faces(csv_path):
        split, label = CSV_USAGE.get(row["Usage"]), CSV_CODES.get(int(row["emotion"]))
        if split is None or label is None:
            continue
        target = out / split / label / f"{row['Usage']}_{row_number:05d}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(target), face)
    (out / ".complete").touch()
    return out
