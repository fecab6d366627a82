"""FER+: the FER2013 faces relabelled by ten annotators each, in either of its published forms.

- Folders written by FER+'s `generate_training_data.py`: `FER2013Train/`, `FER2013Valid/`,
  `FER2013Test/`, each with PNGs and a `label.csv` whose rows are
  `fer0000000.png,"(0, 0, 48, 48)",n1,...,n10`: file, face box (left, top, right, bottom), then the
  vote counts in VOTE_NAMES order.
- `fer2013new.csv` beside the original `fer2013.csv`: `Usage,Image name,n1,...,n10`, row-aligned
  with fer2013.csv's pixels. Its rows are written once as PNG files to the cache, like FER2013's CSV.

Train/Valid/Test (Training/PublicTest/PrivateTest) are the official train/val/test splits.

Votes become a label as in the FER+ paper (`label_mode`):
- `majority`: the strict plurality of the ten votes; a tie for first place drops the face.
- `probability`: the same majority label (for metrics and balanced samplers) plus the vote
  distribution over the seven labels as the training target.
`unknown` and `NF` (not a face) never become a label: a face where one of them wins is dropped,
and their votes are left out of the distribution. `contempt` is dropped by default (its votes
left out; a face it wins is dropped) or mapped to a label (`contempt: disgust` adds its votes
there). Every dropped face is counted in the data report under its reason.
"""

import ast
import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from fer.data.sample import FaceSample
from fer.data.sources.base import ListedFile, Source
from fer.data.sources.fer2013 import csv_faces
from fer.faces.image_io import read_grey
from fer.labels import LABELS, label_index

VOTE_NAMES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")
NOT_LABELS = ("unknown", "NF")
FOLDERS = {"FER2013Train": "train", "FER2013Valid": "val", "FER2013Test": "test"}
USAGE = {"Training": "FER2013Train", "PublicTest": "FER2013Valid", "PrivateTest": "FER2013Test"}
LABEL_MODES = ("majority", "probability")
WHOLE_FACE = (0, 0, 48, 48)
# the seven vote columns that are labels, with their index in LABELS ("happiness" -> happy)
LABEL_OF_VOTE = {name: label_index(name) for name in VOTE_NAMES if label_index(name) is not None}
# skip reasons (fer.data.scan.SKIP_REASONS)
TIE, NOT_A_LABEL, DROPPED, UNKNOWN = "tie", "unknown or not a face", "dropped label", "unknown label"


def votes_to_label(votes: list[float], mode: str, contempt: str | None) -> tuple[str | None, tuple | None, str | None]:
    """(label name, soft target or None, skip reason or None) of one face's ten vote counts;
    `contempt` is the vote column its votes are added to, or None to keep them apart."""
    counts = dict(zip(VOTE_NAMES, (float(v) for v in votes)))
    if contempt is not None:  # mapped: its votes count for that label
        counts[contempt] += counts.pop("contempt")
    top = max(counts.values())
    winners = [name for name, count in counts.items() if count == top]
    if top <= 0:
        return None, None, UNKNOWN
    if len(winners) > 1:
        return None, None, TIE
    winner = winners[0]
    if winner in NOT_LABELS:
        return None, None, NOT_A_LABEL
    if winner == "contempt":
        return None, None, DROPPED
    label = LABELS[LABEL_OF_VOTE[winner]]
    if mode == "majority":
        return label, None, None
    emotion = np.zeros(len(LABELS))
    for name, index in LABEL_OF_VOTE.items():  # unknown, NF and unmapped contempt stay out
        emotion[index] = counts[name]
    return label, tuple(float(p) for p in emotion / emotion.sum()), None


def vote_column(label: str) -> str:
    """The FER+ vote column that counts for one of our labels (`disgust` -> `disgust`, `happy` -> `happiness`)."""
    index = label_index(label)
    if index is None:
        raise ValueError(
            f"data.sources.ferplus.contempt={label!r} is not a label; use one of {', '.join(LABELS)} or null"
        )
    return next(name for name, i in LABEL_OF_VOTE.items() if i == index)


def parse_box(text: str, path: Path) -> tuple[int, int, int, int]:
    """label.csv's face box "(left, top, right, bottom)"."""
    try:
        box = tuple(int(v) for v in ast.literal_eval(text))
    except (ValueError, SyntaxError, TypeError):
        box = ()
    if len(box) != 4 or box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"{path}: face box {text!r} is not (left, top, right, bottom)")
    return box


class FERPlus(Source):
    def __init__(
        self,
        *args,
        label_mode: str = "probability",
        contempt: str | None = None,
        csv_file: str = "fer2013new.csv",
        pixels_csv: str = "fer2013.csv",
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        if label_mode not in LABEL_MODES:
            raise ValueError(f"data.sources.ferplus.label_mode={label_mode!r}: choose from {', '.join(LABEL_MODES)}")
        # the column contempt's votes go to, resolved once (a bad name fails here, naming the option)
        self.label_mode, self.contempt = label_mode, vote_column(contempt) if contempt is not None else None
        self.csv_file, self.pixels_csv = csv_file, pixels_csv
        self._folders: Path | None = None  # where the FER2013{Train,Valid,Test}/ folders are
        self._boxes: dict[str, tuple[int, int, int, int]] = {}  # files whose box is not the whole image

    def available(self) -> bool:
        return super().available() and (self._has_folders(self.root) or (self.root / self.csv_file).is_file())

    @staticmethod
    def _has_folders(root: Path) -> bool:
        return any((root / folder / "label.csv").is_file() for folder in FOLDERS)

    def prepare(self, cache_dir: Path) -> None:
        if self._has_folders(self.root):
            self._folders = self.root
        else:
            self._folders = extract_csv(
                self.root / self.csv_file, self.root / self.pixels_csv, cache_dir / "ferplus_csv"
            )

    def list_files(self) -> Iterator[ListedFile]:
        for folder, split in FOLDERS.items():
            label_file = self._folders / folder / "label.csv"
            if not label_file.is_file():
                continue  # FER2013Test is held back in some copies: then there is no test part
            with open(label_file, newline="") as handle:
                for row in csv.reader(handle):
                    if not row:
                        continue
                    path = self._folders / folder / row[0]
                    box = parse_box(row[1], label_file)
                    label, target, skip = votes_to_label(row[2:12], self.label_mode, self.contempt)
                    if box != WHOLE_FACE:  # FER+ crops are whole 48 px images; keep only other boxes
                        self._boxes[str(path)] = box
                    yield ListedFile(path, label_name=label or "", split=split, target=target, skip=skip)

    def load(self, record: FaceSample) -> np.ndarray:
        grey = read_grey(record.pixels_path)
        box = self._boxes.get(record.path)
        if box is not None:
            left, top, right, bottom = box
            grey = grey[top:bottom, left:right]
            if grey.size == 0:
                raise ValueError(f"{record.path}: face box {box} lies outside the {grey.shape} image")
        return grey

    def pixel_settings(self) -> dict:
        # boxes change the pixels `load` returns; file digests alone do not cover them
        return {"boxes": sorted((path, box) for path, box in self._boxes.items())}


def extract_csv(votes_csv: Path, pixels_csv: Path, cache_root: Path) -> Path:
    """Write fer2013new.csv's faces in the folder form, pixels from the row-aligned fer2013.csv."""
    for path in (votes_csv, pixels_csv):
        if not path.is_file():
            raise FileNotFoundError(
                f"data.sources.ferplus: {path.name} not found in {path.parent}; the CSV form "
                f"needs fer2013new.csv beside the original fer2013.csv"
            )
    digest = hashlib.sha1(votes_csv.read_bytes() + pixels_csv.read_bytes()).hexdigest()[:16]
    out = cache_root / digest
    if (out / ".complete").exists():
        return out
    with open(votes_csv, newline="") as handle:
        vote_rows = list(csv.DictReader(handle))
    rows: dict[str, list[list[str]]] = {folder: [] for folder in FOLDERS}
    for row_number, row, pixels in csv_faces(pixels_csv):
        usage = row["Usage"]
        if row_number >= len(vote_rows):
            raise ValueError(
                f"{votes_csv}: {len(vote_rows)} rows, fewer than {pixels_csv.name}; they must be row-aligned"
            )
        votes = vote_rows[row_number]
        if votes["Usage"] != usage:
            raise ValueError(
                f"{votes_csv}: row {row_number + 2} is {votes['Usage']}, {pixels_csv.name} says {usage}: "
                "the two files must be row-aligned"
            )
        name = (votes.get("Image name") or "").strip() or f"fer{row_number:07d}.png"
        folder = USAGE[usage]
        (out / folder).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out / folder / name), pixels)
        side = pixels.shape[0]
        rows[folder].append([name, f"(0, 0, {side}, {side})", *(votes[v] for v in VOTE_NAMES)])
    for folder, folder_rows in rows.items():
        if folder_rows:
            with open(out / folder / "label.csv", "w", newline="") as handle:
                csv.writer(handle).writerows(folder_rows)
    (out / ".complete").touch()
    return out
