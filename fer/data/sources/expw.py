"""ExpW (Expression in-the-Wild): web photos, one line per face, each face cropped out of its box.

    label/label.lst    lines `image_name face_id_in_image face_box_top face_box_left face_box_right
                       face_box_bottom face_box_cofidence expression_label`
    image/origin/<image_name>

A photo may hold several faces, each with its own box and label. ExpW has no official split and
names no people: the subject-independent folds group by photo, so faces of one photo never straddle
train and test.
"""

from collections.abc import Iterator
from pathlib import Path

from fer.data.sources.base import ListedFile, Source
from fer.errors import BadValue

LABEL_FILE = "label/label.lst"
IMAGES = "image/origin"
CODES = {0: "anger", 1: "disgust", 2: "fear", 3: "happy", 4: "sad", 5: "surprise", 6: "neutral"}
FIELDS = 8


class ExpW(Source):
    def list_files(self) -> Iterator[ListedFile]:
        label_file = self.expect(self.root / LABEL_FILE, "ExpW's face list (one line per face)")
        images = self.expect(self.root / IMAGES, "ExpW's photos (image/origin/<image_name>)")
        with open(label_file) as handle:
            for line_number, line in enumerate(handle, 1):
                if line.strip():
                    yield listed_face(images, line, f"{label_file}:{line_number}")


def listed_face(images: Path, line: str, where: str) -> ListedFile:
    fields = line.split()
    try:
        if len(fields) != FIELDS:
            raise ValueError
        top, left, right, bottom = (int(float(v)) for v in fields[2:6])
        code = int(fields[7])
    except ValueError:
        raise BadValue(
            f"{where}: {line.strip()!r} is not `image_name face_id top left right bottom confidence label`"
        ) from None
    # an empty or inverted box gives w or h <= 0, which the crop step counts as "no face"
    box = (left, top, right - left, bottom - top)
    return ListedFile(images / fields[0], label_name=CODES.get(code, f"code {code}"), box=box)
