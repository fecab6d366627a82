"""Small data trees in the publishers' layouts, generated for the adapter tests."""

from pathlib import Path

import cv2
import numpy as np

from fer.data.synthetic_faces import EXPRESSIONS, draw_face, sample_identity

FERG_CHARACTERS = ("aia", "bonnie", "jules", "malcolm", "mery", "ray")
FERG_EXPRESSIONS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")  # FERG's names
CKPLUS_CODES = {"neutral": 0, "anger": 1, "contempt": 2, "disgust": 3, "fear": 4, "happy": 5, "sadness": 6, "surprise": 7}


def make_ferg_tree(root: Path, per_expression: int = 2) -> Path:
    """FERG_DB_256/<character>/<character>_<expression>/<character>_<expression>_<n>.png"""
    db = root / "FERG_DB_256"
    for c, character in enumerate(FERG_CHARACTERS):
        identity = sample_identity(c)
        for e, expression in enumerate(FERG_EXPRESSIONS):
            folder = db / character / f"{character}_{expression}"
            folder.mkdir(parents=True, exist_ok=True)
            for n in range(per_expression):
                image = draw_face(identity, e, seed=n, size=64)
                if n == 0:  # FERG ships RGBA PNGs for some characters
                    image = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
                cv2.imwrite(str(folder / f"{character}_{expression}_{n + 1}.png"), image)
    return db


def make_ckplus_tree(root: Path, face: np.ndarray, subjects=("S005", "S010", "S011")) -> Path:
    """cohn-kanade-images/S005/001/S005_001_0000000N.png + Emotion/S005/001/..._emotion.txt.

    Each subject gets one labelled sequence per label in `CKPLUS_CODES[1:]` cycling, plus one
    sequence without an emotion file (CK+ labels only some sequences). `face` is pasted into a
    640x490 frame, so the detector has a real face to find.
    """
    images, emotions = root / "cohn-kanade-images", root / "Emotion"
    labelled = ["anger", "contempt", "disgust", "fear", "happy", "sadness", "surprise"]
    for s, subject in enumerate(subjects):
        for q in range(3):
            sequence = f"{q + 1:03d}"
            folder = images / subject / sequence
            folder.mkdir(parents=True, exist_ok=True)
            for frame in range(1, 5):
                # frames differ, as in a real sequence (identical bytes would be counted as duplicates)
                canvas = np.full((490, 640), 40 + 20 * s + 5 * q + frame, np.uint8)
                canvas[100:100 + face.shape[0], 200:200 + face.shape[1]] = face
                cv2.imwrite(str(folder / f"{subject}_{sequence}_{frame:08d}.png"), canvas)
            if q < 2:  # the third sequence stays unlabelled
                label = labelled[(s * 2 + q) % len(labelled)]
                label_dir = emotions / subject / sequence
                label_dir.mkdir(parents=True, exist_ok=True)
                (label_dir / f"{subject}_{sequence}_00000004_emotion.txt").write_text(f"   {CKPLUS_CODES[label]:.7e}\n")
    return root


def make_fer2013_csv(root: Path, rows_per_usage: int = 14) -> Path:
    """fer2013.csv with emotion,pixels,Usage rows for Training, PublicTest and PrivateTest."""
    rng = np.random.default_rng(0)
    lines = ["emotion,pixels,Usage"]
    for usage in ("Training", "PublicTest", "PrivateTest"):
        for i in range(rows_per_usage):
            pixels = rng.integers(0, 256, size=48 * 48)
            lines.append(f"{i % 7},{' '.join(map(str, pixels))},{usage}")
    root.mkdir(parents=True, exist_ok=True)
    (root / "fer2013.csv").write_text("\n".join(lines) + "\n")
    return root


FER2013_FOLDERS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


def make_fer2013_folders(root: Path, per_label: int = 3, twins: bool = False) -> Path:
    """The image-folder release (train/<label>/Training_n.jpg, test/<label>/PublicTest_n.jpg) of
    48 px generated faces. With `twins`, PublicTest_0 is a byte copy of a training image,
    PublicTest_1 a brighter, re-encoded copy of another, and PublicTest_2 a blank image."""
    def face(n: int, label: int) -> np.ndarray:
        return cv2.cvtColor(draw_face(sample_identity(n), label, seed=n, size=48), cv2.COLOR_BGR2GRAY)

    n = 0
    for split, prefix in (("train", "Training"), ("test", "PublicTest")):
        for label, folder in enumerate(FER2013_FOLDERS):
            (root / split / folder).mkdir(parents=True, exist_ok=True)
            for _ in range(per_label):
                cv2.imwrite(str(root / split / folder / f"{prefix}_{n}.jpg"), face(n, label))
                n += 1
    if twins:
        train = sorted((root / "train").rglob("*.jpg"), key=lambda p: int(p.stem.split("_")[1]))
        (root / "test/angry/PublicTest_0.jpg").write_bytes(train[3].read_bytes())
        brighter = cv2.add(cv2.imread(str(train[5]), cv2.IMREAD_GRAYSCALE), 6)
        cv2.imwrite(str(root / "test/angry/PublicTest_1.jpg"), brighter, [cv2.IMWRITE_JPEG_QUALITY, 60])
        cv2.imwrite(str(root / "test/angry/PublicTest_2.jpg"), np.full((48, 48), 128, np.uint8))
    return root


# FER+ vote rows (neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF)
# and what each must become; one of each case the adapter handles.
FERPLUS_VOTES = {
    "happy": [1, 7, 2, 0, 0, 0, 0, 0, 0, 0],  # clear plurality
    "sad": [4, 0, 0, 5, 0, 0, 0, 0, 1, 0],  # plurality, an "unknown" vote left out of the shares
    "tie": [0, 0, 5, 0, 0, 0, 5, 0, 0, 0],  # surprise 5 vs fear 5: dropped and counted
    "contempt": [2, 0, 0, 0, 1, 2, 0, 5, 0, 0],  # contempt wins: dropped, or disgust (7) when mapped
    "unknown": [2, 0, 0, 0, 0, 0, 0, 0, 8, 0],  # never a label
    "nf": [0, 0, 0, 0, 0, 0, 0, 0, 0, 10],  # not a face: never a label
}
FERPLUS_SPLITS = {"FER2013Train": "Training", "FER2013Valid": "PublicTest", "FER2013Test": "PrivateTest"}


def _ferplus_faces() -> list[np.ndarray]:
    """One distinct 48 px grey face per vote case and split (distinct bytes: none is a duplicate)."""
    count = len(FERPLUS_VOTES) * len(FERPLUS_SPLITS)
    return [cv2.cvtColor(draw_face(sample_identity(n), n % 7, seed=n, size=48), cv2.COLOR_BGR2GRAY)
            for n in range(count)]


def make_ferplus_folders(root: Path, box_file: str | None = None) -> Path:
    """FER+'s folder form: FER2013{Train,Valid,Test}/ferNNNNNNN.png + label.csv (file, box, ten votes).
    With `box_file`, that file (e.g. "fer0000001.png") is written at 64 px with the face at
    box (8, 8, 56, 56), as a non-trivial face box."""
    faces = iter(_ferplus_faces())
    row = 0
    for folder in FERPLUS_SPLITS:
        (root / folder).mkdir(parents=True, exist_ok=True)
        lines = []
        for votes in FERPLUS_VOTES.values():
            name, face, box = f"fer{row:07d}.png", next(faces), "(0, 0, 48, 48)"
            if name == box_file:
                canvas = np.zeros((64, 64), np.uint8)
                canvas[8:56, 8:56] = face
                face, box = canvas, "(8, 8, 56, 56)"
            cv2.imwrite(str(root / folder / name), face)
            lines.append(f'{name},"{box}",' + ",".join(map(str, votes)))
            row += 1
        (root / folder / "label.csv").write_text("\n".join(lines) + "\n")
    return root


def make_ferplus_csv(root: Path) -> Path:
    """FER+'s CSV form: fer2013new.csv (Usage, Image name, ten votes) row-aligned with fer2013.csv."""
    faces = iter(_ferplus_faces())
    pixel_lines, vote_lines = ["emotion,pixels,Usage"], ["Usage,Image name," + ",".join(FERPLUS_VOTE_NAMES)]
    row = 0
    for usage in FERPLUS_SPLITS.values():
        for votes in FERPLUS_VOTES.values():
            pixel_lines.append(f"{row % 7},{' '.join(map(str, next(faces).ravel()))},{usage}")
            vote_lines.append(f"{usage},fer{row:07d}.png," + ",".join(map(str, votes)))
            row += 1
    root.mkdir(parents=True, exist_ok=True)
    (root / "fer2013.csv").write_text("\n".join(pixel_lines) + "\n")
    (root / "fer2013new.csv").write_text("\n".join(vote_lines) + "\n")
    return root


FERPLUS_VOTE_NAMES = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt", "unknown", "NF")

__all__ = ["EXPRESSIONS", "FERPLUS_VOTES", "make_ckplus_tree", "make_fer2013_csv", "make_fer2013_folders", "make_ferg_tree",
           "make_ferplus_csv", "make_ferplus_folders"]
