"""CK+48: one folder per label of 48x48 tight face crops, e.g. `anger/S010_004_00000017.png`."""

import re
from collections.abc import Iterator

from fer.data.sources.base import ListedFile, Source, image_files, label_folders

SUBJECT_PATTERN = re.compile(r"^(S\d+)_")


class CKPlus48(Source):
    labels_from_folders = True
    # Contempt is not one of the seven; map it (`label_map: {contempt: disgust}`) to keep it.
    default_label_map = {"contempt": None}

    def list_files(self) -> Iterator[ListedFile]:
        for folder in label_folders(self.root):
            for path in image_files(folder):
                match = SUBJECT_PATTERN.match(path.name)
                yield ListedFile(path, label_name=folder.name, subject=match[1] if match else None)
