"""The original CK+ release: frame sequences with one emotion file per labelled sequence.

    cohn-kanade-images/S005/001/S005_001_00000011.png
    Emotion/S005/001/S005_001_00000011_emotion.txt   (one float: the label code of the peak frame)

The labelled frame is the peak of the sequence; `first_frame_neutral` adds each labelled
sequence's first (onset) frame as neutral, as many CK+ papers do. Unlabelled sequences are skipped.
"""

from collections.abc import Iterator

from fer.data.sources.base import ListedFile, Source, image_files

CODES = {0: "neutral", 1: "anger", 2: "contempt", 3: "disgust", 4: "fear", 5: "happy", 6: "sadness", 7: "surprise"}


class CKPlus(Source):
    needs_crop = True  # 640x490 frames
    default_label_map = {"contempt": None}

    def __init__(self, *args, peak_frames: int = 1, first_frame_neutral: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.peak_frames = peak_frames
        self.first_frame_neutral = first_frame_neutral

    def available(self) -> bool:
        return super().available() and (self.root / "cohn-kanade-images").is_dir()

    def list_files(self) -> Iterator[ListedFile]:
        images, emotions = self.root / "cohn-kanade-images", self.root / "Emotion"
        for sequence in sorted(p for p in images.glob("*/*") if p.is_dir()):
            subject, frames = sequence.parent.name, image_files(sequence)
            if not frames:
                continue
            label_files = sorted((emotions / subject / sequence.name).glob("*_emotion.txt"))
            if not label_files:
                yield ListedFile(frames[-1], label_name="unlabelled sequence", subject=subject)
                continue
            label_name = _read_label(label_files[0])
            for frame in frames[-self.peak_frames :]:
                yield ListedFile(frame, label_name=label_name, subject=subject)
            if self.first_frame_neutral:
                yield ListedFile(frames[0], label_name="neutral", subject=subject)


def _read_label(path) -> str:
    try:
        code = int(float(path.read_text().strip()))
    except ValueError:
        return f"unreadable label file {path.name}"
    return CODES.get(code, f"code {code}")
