"""KDEF (Karolinska Directed Emotional Faces): posed studio photos named by code, one folder per sitting.

    KDEF/AF01/AF01ANS.JPG    series A/B (the two photo series), sex F/M, person 01-35, expression, camera angle

Expressions AF/AN/DI/HA/NE/SA/SU (afraid, angry, disgusted, happy, neutral, sad, surprised); angles
FL/HL/S/HR/FR (full left, half left, straight, half right, full right), of which `angles` picks the
ones listed (straight only by default). The subject is sex + person (F01), so both series of one
person stay on one side of the subject-independent folds. The photos are uncropped: the face detector
crops them.
"""

import re
from collections.abc import Iterator

from fer.data.sources.base import ListedFile, Source, image_files, label_folders
from fer.errors import BadValue, MissingInput

NAME_PATTERN = re.compile(
    r"^(?P<series>[AB])(?P<sex>[FM])(?P<person>\d{2})(?P<code>AF|AN|DI|HA|NE|SA|SU)(?P<angle>FL|HL|S|HR|FR)$"
)
CODES = {"AF": "fear", "AN": "anger", "DI": "disgust", "HA": "happy", "NE": "neutral", "SA": "sad", "SU": "surprise"}
ANGLES = ("FL", "HL", "S", "HR", "FR")


class KDEF(Source):
    needs_crop = True  # 562 x 762 head-and-shoulder photos

    def __init__(self, *args, angles: tuple[str, ...] | list[str] = ("S",), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.angles = {a.upper() for a in angles}
        unknown = sorted(self.angles - set(ANGLES))
        if unknown or not self.angles:
            raise BadValue(
                f"data.sources.kdef.angles={list(angles)}: choose among {', '.join(ANGLES)} "
                "(S: straight; FL/FR: full left/right; HL/HR: half left/right)"
            )

    @property
    def db_root(self):
        # Accept both the KDEF folder itself and the folder it was unpacked into.
        nested = self.root / "KDEF"
        return nested if nested.is_dir() else self.root

    def list_files(self) -> Iterator[ListedFile]:
        sittings = label_folders(self.db_root)
        if not sittings:
            raise MissingInput(
                f"data.sources.kdef: no sitting folder in {self.db_root}; expected KDEF's "
                "<sitting>/<code>.JPG layout (KDEF/AF01/AF01ANS.JPG)"
            )
        for sitting in sittings:
            for path in image_files(sitting):
                listed = self._listed(path)
                if listed is not None:
                    yield listed

    def _listed(self, path) -> ListedFile | None:
        """The file's label and subject; None for an angle not asked for (left out, not counted)."""
        match = NAME_PATTERN.match(path.stem.upper())
        if match is None:
            # Counted as an unknown label by the scan, with the file named in the report.
            return ListedFile(path, label_name=f"unparsable name {path.name}")
        if match["angle"] not in self.angles:
            return None
        return ListedFile(path, label_name=CODES[match["code"]], subject=f"{match['sex']}{match['person']}")
