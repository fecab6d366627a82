"""RAF-DB, the basic-emotion set, with its official train/test split.

    EmoLabel/list_patition_label.txt         lines `train_00001.jpg 5`, `test_0001.jpg 4`
    Image/aligned/train_00001_aligned.jpg    100 px aligned faces (`images: aligned`, the default)
    Image/original/train_00001.jpg           the photos, cropped by the face detector (`images: original`)

The split is the name's prefix (train, test); validation is carved from train by the split step.
RAF-DB names no people, so every image is its own group there.
"""

from collections.abc import Iterator
from pathlib import Path

from fer.data.sources.base import ListedFile, Source
from fer.errors import BadValue

LABEL_FILE = "EmoLabel/list_patition_label.txt"  # sic: the publisher's spelling
CODES = {1: "surprise", 2: "fear", 3: "disgust", 4: "happy", 5: "sad", 6: "anger", 7: "neutral"}
IMAGE_KINDS = ("aligned", "original")
SPLITS = ("train", "test")


class RAFDB(Source):
    def __init__(self, *args, images: str = "aligned", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if images not in IMAGE_KINDS:
            raise BadValue(f"data.sources.rafdb.images={images!r}: choose from {', '.join(IMAGE_KINDS)}")
        self.images = images
        self.needs_crop = images == "original"  # aligned faces are crops already

    def list_files(self) -> Iterator[ListedFile]:
        label_file = self.expect(self.root / LABEL_FILE, "RAF-DB's label list (lines like `train_00001.jpg 5`)")
        folder = self.expect(self.root / "Image" / self.images, f"RAF-DB's {self.images} images folder")
        for line_number, name, code in read_label_lines(label_file):
            split = name.split("_", 1)[0]
            if split not in SPLITS:
                raise BadValue(f"{label_file}:{line_number}: {name!r} starts with neither train_ nor test_")
            yield ListedFile(self._image(folder, name), label_name=CODES.get(code, f"code {code}"), split=split)

    def _image(self, folder: Path, name: str) -> Path:
        if self.images == "aligned":
            return folder / f"{Path(name).stem}_aligned{Path(name).suffix}"
        return folder / name


def read_label_lines(path: Path) -> Iterator[tuple[int, str, int]]:
    """(line number, image name, label code) of each `name code` line; blank lines are skipped."""
    with open(path) as handle:
        for line_number, line in enumerate(handle, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) != 2 or not fields[1].isdigit():
                raise BadValue(f"{path}:{line_number}: {line.strip()!r} is not `<image name> <label 1-7>`")
            yield line_number, fields[0], int(fields[1])
