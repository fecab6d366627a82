"""Any ImageFolder tree: `<root>/<label>/**/image`, with folder names mapped by `label_map`.

Subjects come from file names through `subject_pattern` (a regex whose first group is the id);
without one every image is its own group.
"""

import re
from collections.abc import Iterator

from fer.data.sources.base import ListedFile, Source, image_files, label_folders


class ImageFolder(Source):
    labels_from_folders = True

    def __init__(self, *args, subject_pattern: str | None = None, needs_crop: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.subject_pattern = re.compile(subject_pattern) if subject_pattern else None
        self.needs_crop = needs_crop

    def list_files(self) -> Iterator[ListedFile]:
        for folder in label_folders(self.root):
            for path in image_files(folder, recursive=True):
                match = self.subject_pattern.search(path.name) if self.subject_pattern else None
                yield ListedFile(path, label_name=folder.name, subject=match[1] if match else None)
