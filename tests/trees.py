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


__all__ = ["EXPRESSIONS", "make_ckplus_tree", "make_fer2013_csv", "make_fer2013_folders", "make_ferg_tree"]
