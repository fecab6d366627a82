"""FERG-DB: animated characters, `FERG_DB_256/<character>/<character>_<expression>/*.png`.

The character is the subject, so splits never put one character in both train and test.
"""

from collections.abc import Iterator

from fer.data.sample import ANIMATED
from fer.data.sources.base import ListedFile, Source, image_files, label_folders


class FERG(Source):
    labels_from_folders = True

    def __init__(self, *args, domain: str = ANIMATED, **kwargs) -> None:
        super().__init__(*args, domain=domain, **kwargs)

    @property
    def db_root(self):
        # Accept both the FERG_DB_256 folder itself and the folder it was unpacked into.
        nested = self.root / "FERG_DB_256"
        return nested if nested.is_dir() else self.root

    def available(self) -> bool:
        return super().available() and any(label_folders(self.db_root))

    def list_files(self) -> Iterator[ListedFile]:
        for character_dir in label_folders(self.db_root):
            character = character_dir.name
            for expression_dir in label_folders(character_dir):
                expression = expression_dir.name.removeprefix(f"{character}_")
                for path in image_files(expression_dir):
                    yield ListedFile(path, label_name=expression, subject=character)
