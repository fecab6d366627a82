"""Turn a source's file listing into validated records, counting every file that is not used.

One pass per source: map the label, read the file (unreadable files are counted, never raised),
drop byte-identical duplicates from training data, and crop each face: out of the box the publisher
gives where there is one (AffectNet, ExpW), else through the face detector for uncropped photos,
caching crops on disk keyed by file content, box and crop parameters.
"""

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2

from fer.data.sample import FaceSample
from fer.data.sources.base import Source
from fer.faces.crop import CropPolicy, crop_square
from fer.faces.detect import Box
from fer.faces.image_io import UnreadableImage, decode_grey
from fer.labels import LABELS, label_index

SKIP_REASONS = ("unreadable", "no face", "unknown label", "dropped label", "tie", "unknown or not a face", "duplicate")


class DataConfigError(ValueError):
    """A data option or folder is wrong; the message names it and says what to do."""


@dataclass
class SourceReport:
    source: str
    found: int = 0
    used: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)  # a few file names per skip reason

    def skip(self, reason: str, what: str) -> None:
        self.skipped[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < 5:
            self.examples[reason].append(what)

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "found": self.found,
            "used": self.used,
            "skipped": {r: self.skipped.get(r, 0) for r in SKIP_REASONS},
            "examples": self.examples,
        }


def scan_source(source: Source, crop: CropPolicy, cache_dir: Path) -> tuple[list[FaceSample], SourceReport]:
    report = SourceReport(source.name)
    if getattr(source, "generated", False):
        records = source.records()
        report.found = report.used = len(records)
        return records, report

    source.prepare(cache_dir)
    cropper = _Cropper(crop, cache_dir)
    seen: set[tuple] = set()
    records = []
    for listed in source.list_files():
        report.found += 1
        if listed.skip:  # the adapter's own verdict (FER+ votes: a tie, unknown, not a face)
            report.skip(listed.skip, listed.path.name)
            continue
        label = label_index(listed.label_name, source.label_map)
        if label is None:
            _count_label(source, listed, report)
            continue
        try:
            data = listed.path.read_bytes()
            digest = hashlib.sha1(data).hexdigest()
            # Byte-identical copies are dropped from training data. Official evaluation splits stay
            # whole, so their figures compare with published ones (the audit measures overlap).
            # The box is part of a face's identity: one photo may hold several faces (ExpW).
            if listed.split in (None, "train"):
                if (listed.split, digest, listed.box) in seen:
                    report.skip("duplicate", listed.path.name)
                    continue
                seen.add((listed.split, digest, listed.box))
            image_file = _face_file(source, cropper, listed, data, digest)
        except (UnreadableImage, OSError) as err:
            report.skip("unreadable", f"{listed.path.name}: {err}")
            continue
        if image_file is False:
            report.skip("no face", listed.path.name)
            continue
        records.append(
            FaceSample(
                path=str(listed.path),
                label=label,
                domain=source.domain,
                subject=source.subject_id(listed.subject),
                source=source.name,
                split=listed.split,
                image=image_file,
                digest=digest,
                target=listed.target,
                box=listed.box,
            )
        )
    report.used = len(records)
    return records, report


def _count_label(source: Source, listed, report: SourceReport) -> None:
    name = listed.label_name.strip().lower()
    if name in source.label_map:  # mapped to null on purpose, like CK+'s contempt
        report.skip("dropped label", listed.path.name)
    elif source.labels_from_folders:
        raise DataConfigError(
            f"{source.name}: unknown label folder '{listed.label_name}' ({listed.path.parent}). "
            f"Known labels: {', '.join(LABELS)}. Map it with "
            f"data.sources.{source.name}.label_map={{{listed.label_name}: <label or null>}}."
        )
    else:
        report.skip("unknown label", f"{listed.path.name}: {listed.label_name}")


def _face_file(source: Source, cropper: "_Cropper", listed, data: bytes, digest: str) -> str | bool | None:
    """The file holding the face's pixels: a cached crop (False: no face there), or None for the file itself."""
    if listed.box is not None:
        return cropper.crop_box(data, digest, listed.box, listed.path)
    if source.needs_crop:
        return cropper.crop(data, digest, listed.path)
    return _validate(data, listed.path)


def _validate(data: bytes, path: Path) -> None:
    decode_grey(data, str(path))  # raises UnreadableImage; pixels are read again at train time
    return None


class _Cropper:
    """Detect (or take the given box) and crop once per file content; later runs read the cached crop."""

    def __init__(self, policy: CropPolicy, cache_dir: Path) -> None:
        self.policy = policy
        self.folder = cache_dir / "crops" / policy.key()
        self._detector = None

    def crop(self, data: bytes, digest: str, path: Path) -> str | bool:
        target = self.folder / digest[:2] / f"{digest}.png"
        no_face = target.with_suffix(".noface")
        if target.exists():
            return str(target)
        if no_face.exists():
            return False
        grey = decode_grey(data, str(path))
        self._detector = self._detector or self.policy.detector()
        boxes = self._detector.detect(grey)
        target.parent.mkdir(parents=True, exist_ok=True)
        if not boxes:
            no_face.touch()
            return False
        return self._write(crop_square(grey, boxes[0], self.policy.margin, self.policy.size), target)

    def crop_box(self, data: bytes, digest: str, box: Box, path: Path) -> str | bool:
        """The face at a given box, cropped as detected faces are (square, the policy's margin and size);
        False where the box is empty or lies outside the image."""
        target = self.folder / "boxes" / digest[:2] / f"{digest}-{'_'.join(map(str, box))}.png"
        if target.exists():
            return str(target)
        grey = decode_grey(data, str(path))
        x, y, w, h = box
        if w <= 0 or h <= 0 or x >= grey.shape[1] or y >= grey.shape[0] or x + w <= 0 or y + h <= 0:
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        return self._write(crop_square(grey, box, self.policy.margin, self.policy.size), target)

    @staticmethod
    def _write(face, target: Path) -> str:
        tmp = target.with_suffix(".tmp.png")
        cv2.imwrite(str(tmp), face)
        tmp.replace(target)  # atomic, so a killed run or a parallel worker never leaves half a crop
        return str(target)
