"""What every dataset adapter shares: where it reads from, how it names labels, how it loads pixels.

An adapter only knows its publisher's layout: `list_files` yields (file, label name, subject,
official split). Reading, validating, de-duplicating and cropping are the same for all sources and
live in `fer.data.scan`.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fer.data.sample import HUMAN, FaceSample
from fer.errors import MissingInput
from fer.faces.detect import Box
from fer.faces.image_io import IMAGE_SUFFIXES, files_under, read_grey


@dataclass(frozen=True)
class ListedFile:
    path: Path
    label_name: str
    subject: str | None = None
    split: str | None = None
    target: tuple[float, ...] | None = None  # a soft target over LABELS (FER+ vote shares); None: one-hot
    skip: str | None = None  # a reason the adapter already knows this file gives no label (counted, not used)
    box: Box | None = None  # the face's box (x, y, w, h) where the publisher gives one; the scan crops it out


class Source:
    """Base class of the adapters. Subclasses set `needs_crop` and implement `list_files`."""

    needs_crop = False  # True for uncropped photos (head and shoulders), which go through the detector
    # Where labels are folder names, an unknown one is a layout or mapping mistake: stop and say so.
    # Where they come from file names or label files, an unknown one is counted and skipped.
    labels_from_folders = False
    default_label_map: dict[str, str | None] = {}

    def __init__(
        self,
        root: str | None = None,
        optional: bool = False,
        label_map: dict[str, str | None] | None = None,
        domain: str = HUMAN,
        fallback: "Source | None" = None,
    ) -> None:
        # Normalised ("../shared/data" -> absolute) so manifests and reports name files unambiguously.
        self.root = Path(os.path.abspath(os.path.expanduser(root))) if root is not None else None
        self.optional = optional
        # keys as the scan compares names: lower case, and strings even where a config wrote a number
        # (folders named 0-7, as re-packs of AffectNet have them)
        merged = {**self.default_label_map, **(label_map or {})}
        self.label_map = {str(key).strip().lower(): value for key, value in merged.items()}
        self.domain = domain
        self.fallback = fallback
        self.name = type(self).__name__.lower()  # the data config's key replaces this

    def available(self) -> bool:
        return self.root is not None and self.root.is_dir()

    def prepare(self, cache_dir: Path) -> None:
        """One-off work before listing (unpacking a CSV release); most sources need none."""

    def list_files(self) -> Iterator[ListedFile]:
        raise NotImplementedError

    def load(self, record: FaceSample) -> np.ndarray:
        """Greyscale uint8 pixels of a record (a cached crop where the source needed one)."""
        return read_grey(record.pixels_path)

    def pixel_settings(self) -> dict:
        """Settings besides file content that change the pixels `load` returns (keys the face cache)."""
        return {}

    def expect(self, path: Path, layout: str) -> Path:
        """`path` where it exists; else a one-line error naming it and the layout this source reads."""
        if not path.exists():
            raise MissingInput(f"data.sources.{self.name}: {path} not found; expected {layout}")
        return path

    def subject_id(self, raw: str | None) -> str | None:
        # Namespaced so that subject "S010" of one source never meets "S010" of another.
        return f"{self.name}/{raw}" if raw else None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(root={self.root})"


def image_files(folder: Path, recursive: bool = False) -> list[Path]:
    files = files_under(folder) if recursive else folder.glob("*")
    return sorted(p for p in files if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def label_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
