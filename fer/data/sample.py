"""The unit every dataset adapter yields: one labelled face image and where it came from."""

from dataclasses import dataclass

from fer.faces.detect import Box

HUMAN = "human"
ANIMATED = "animated"
DOMAINS: tuple[str, ...] = (HUMAN, ANIMATED)


@dataclass(frozen=True)
class FaceSample:
    path: str  # the original file (or "synthetic:<index>"), as listed in the split manifest
    label: int  # index into fer.labels.LABELS
    domain: str  # "human" or "animated"
    subject: str | None  # person or character id, namespaced by source; None when unknown
    source: str  # adapter name in the data config
    split: str | None = None  # official split ("train", "val", "test") when the source has one
    image: str | None = None  # file to read pixels from when it differs from `path` (a cached crop)
    digest: str | None = None  # SHA-1 of the file's bytes; keys the decoded-face cache
    target: tuple[float, ...] | None = None  # soft target over LABELS (annotators' vote shares); None: one-hot of label
    # the face's box (x, y, w, h) in `path` where the publisher gives one (AffectNet, ExpW); `image` is its crop
    box: Box | None = None

    @property
    def pixels_path(self) -> str:
        return self.image or self.path

    @property
    def key(self) -> str:
        """Names one face: its file, plus its box where there is one, since one photo can hold several faces."""
        return self.path if self.box is None else f"{self.path}#box={','.join(map(str, self.box))}"
