"""JAFFE: one flat folder of 256x256 head-and-shoulder TIFFs, e.g. `KA.AN1.39.tiff`."""

import re
from collections.abc import Iterator

from fer.data.sources.base import ListedFile, Source, image_files

# Subject, expression code, repeat, running index.
NAME_PATTERN = re.compile(r"^(?P<subject>[A-Z]{2})\.(?P<code>[A-Z]{2})\d+\.\d+$")
CODES = {"AN": "anger", "DI": "disgust", "FE": "fear", "HA": "happy", "NE": "neutral", "SA": "sad", "SU": "surprise"}


class JAFFE(Source):
    needs_crop = True

    def list_files(self) -> Iterator[ListedFile]:
        for path in image_files(self.root):
            match = NAME_PATTERN.match(path.stem)
            if match is None:
                # Counted as an unknown label by the scan, with the file named in the report.
                yield ListedFile(path, label_name=f"unparsable name {path.name}")
                continue
            code = match["code"]
            yield ListedFile(path, label_name=CODES.get(code, code), subject=match["subject"])
