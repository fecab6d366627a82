"""AffectNet's manually annotated part, each face cropped out of its annotated box.

    training.csv, validation.csv        header: subDirectory_filePath, face_x, face_y, face_width,
                                        face_height, facial_landmarks, expression, valence, arousal
    Manually_Annotated_Images/<subDirectory_filePath>

training.csv is the train split and validation.csv the test split (AffectNet's own test set is not
public); validation is carved from train by the split step. AffectNet names no people, so every
image is its own group there.

Expressions 0-6 are our seven; 7 (contempt) is dropped by default and can be mapped
(`label_map: {contempt: disgust}`); 8 (none), 9 (uncertain) and 10 (non-face) never become a label
and are counted.
"""

import csv
from collections.abc import Iterator
from pathlib import Path

from fer.data.sources.base import ListedFile, Source
from fer.errors import BadValue

CODES = {0: "neutral", 1: "happy", 2: "sad", 3: "surprise", 4: "fear", 5: "disgust", 6: "anger", 7: "contempt"}
NOT_LABELS = {8: "none", 9: "uncertain", 10: "non-face"}
CSV_SPLITS = {"training.csv": "train", "validation.csv": "test"}
BOX_COLUMNS = ("face_x", "face_y", "face_width", "face_height")
COLUMNS = ("subDirectory_filePath", *BOX_COLUMNS, "expression")
IMAGES = "Manually_Annotated_Images"
LISTS = "Manually_Annotated_file_lists"  # where the release keeps the two CSVs; the root itself also works
NOT_A_LABEL = "unknown or not a face"  # a skip reason of fer.data.scan


class AffectNet(Source):
    default_label_map = {"contempt": None}

    def list_files(self) -> Iterator[ListedFile]:
        images = self.expect(self.root / IMAGES, f"AffectNet's image folder ({IMAGES}/<subfolder>/<image>)")
        for csv_name, split in CSV_SPLITS.items():
            for line_number, row in read_rows(self._csv(csv_name)):
                yield listed_face(images, row, split, f"{csv_name}:{line_number}")

    def _csv(self, name: str) -> Path:
        nested = self.root / LISTS / name
        if nested.is_file():
            return nested
        return self.expect(self.root / name, f"AffectNet's annotation CSV (in the root or {LISTS}/)")


def read_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, row) of an annotation CSV, after checking that its header has the columns used."""
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise BadValue(
                f"{path}: no column {', '.join(missing)} in its header; expected AffectNet's {', '.join(COLUMNS)}, ..."
            )
        for row in reader:
            yield reader.line_num, row


def listed_face(images: Path, row: dict, split: str, where: str) -> ListedFile:
    path = images / row["subDirectory_filePath"]
    try:
        code = int(row["expression"])
        box = tuple(int(float(row[c])) for c in BOX_COLUMNS)
    except (TypeError, ValueError):
        values = ", ".join(f"{c}={row.get(c)!r}" for c in (*BOX_COLUMNS, "expression"))
        raise BadValue(f"{where}: the face box and expression must be numbers ({values})") from None
    if code in NOT_LABELS:
        return ListedFile(path, label_name=NOT_LABELS[code], split=split, skip=NOT_A_LABEL)
    return ListedFile(path, label_name=CODES.get(code, f"code {code}"), split=split, box=box)
