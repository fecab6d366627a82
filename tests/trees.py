"""Small data trees in the publishers' layouts, generated for the adapter tests."""

from pathlib import Path

import cv2
import numpy as np

from fer.data.synthetic_faces import EXPRESSIONS, draw_face, sample_identity

FERG_CHARACTERS = ("aia", "bonnie", "jules", "malcolm", "mery", "ray")
FERG_EXPRESSIONS = ("anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise")  # FERG's names
CKPLUS_CODES = {
    "neutral": 0,
    "anger": 1,
    "contempt": 2,
    "disgust": 3,
    "fear": 4,
    "happy": 5,
    "sadness": 6,
    "surprise": 7,
}


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
                canvas[100 : 100 + face.shape[0], 200 : 200 + face.shape[1]] = face
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
    return [
        cv2.cvtColor(draw_face(sample_identity(n), n % 7, seed=n, size=48), cv2.COLOR_BGR2GRAY) for n in range(count)
    ]


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


FERPLUS_VOTE_NAMES = (
    "neutral",
    "happiness",
    "surprise",
    "sadness",
    "anger",
    "disgust",
    "fear",
    "contempt",
    "unknown",
    "NF",
)


# ---- the in-the-wild benchmarks ----
# Each builder writes drawn faces in the publisher's layout with the publisher's own label numbers or
# names (written out here from each set's documentation, not imported from the adapters), and returns
# what it drew: {face key: expression}, the key being FaceSample.key (the file; plus its box where one
# photo holds several faces). `swap=(a, b)` writes a's faces with b's label and b's with a's, as a
# mislabelled copy would.

RAFDB_CODES = {"surprise": 1, "fear": 2, "disgust": 3, "happy": 4, "sad": 5, "anger": 6, "neutral": 7}
AFFECTNET_CODES = {"neutral": 0, "happy": 1, "sad": 2, "surprise": 3, "fear": 4, "disgust": 5, "anger": 6}
AFFECTNET_OTHER = {"contempt": 7, "none": 8, "uncertain": 9, "non-face": 10}
EXPW_CODES = {"anger": 0, "disgust": 1, "fear": 2, "happy": 3, "sad": 4, "surprise": 5, "neutral": 6}
SFEW_FOLDERS = {
    "anger": "Angry",
    "disgust": "Disgust",
    "fear": "Fear",
    "happy": "Happy",
    "neutral": "Neutral",
    "sad": "Sad",
    "surprise": "Surprise",
}
KDEF_CODES = {
    "fear": "AF",
    "anger": "AN",
    "disgust": "DI",
    "happy": "HA",
    "neutral": "NE",
    "sad": "SA",
    "surprise": "SU",
}


def swapped(table: dict, swap: tuple[str, str] | None) -> dict:
    """The label table with the labels of two expressions exchanged (a mislabelled copy)."""
    table = dict(table)
    if swap:
        a, b = swap
        table[a], table[b] = table[b], table[a]
    return table


def drawn_face(n: int, expression: str, size: int) -> np.ndarray:
    """Face number `n` (its own identity and seed, so no two files share bytes) showing `expression`, BGR."""
    return draw_face(sample_identity(n), EXPRESSIONS.index(expression), seed=n, size=size)


def background(shape: tuple[int, int], n: int) -> np.ndarray:
    """A textured BGR photo of (height, width), different for every `n`, for faces to be pasted into."""
    noise = np.random.default_rng(n).integers(60, 200, (*shape, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (9, 9), 0)


def in_photo(face: np.ndarray, shape: tuple[int, int], at: tuple[int, int], n: int) -> np.ndarray:
    """`face` pasted at (x, y) into a photo of (height, width), as uncropped photos hold faces."""
    photo, (x, y) = background(shape, n), at
    photo[y : y + face.shape[0], x : x + face.shape[1]] = face
    return photo


def face_key(path: Path, box: tuple[int, int, int, int] | None = None) -> str:
    return str(path) if box is None else f"{path}#box={','.join(map(str, box))}"


def make_rafdb_tree(
    root: Path,
    train_per_class: int = 3,
    test_per_class: int = 1,
    images: str = "aligned",
    swap: tuple[str, str] | None = None,
) -> dict[str, str]:
    """EmoLabel/list_patition_label.txt and, for `images="aligned"`, Image/aligned/<name>_aligned.jpg
    (64 px faces) or, for "original", Image/original/<name>.jpg (96 px faces in 200 x 160 photos)."""
    codes = swapped(RAFDB_CODES, swap)
    folder = root / "Image" / images
    folder.mkdir(parents=True, exist_ok=True)
    lines, drawn, n = [], {}, 0
    for split, count, digits in (("train", train_per_class, 5), ("test", test_per_class, 4)):
        for i in range(count * len(EXPRESSIONS)):
            expression = EXPRESSIONS[i % len(EXPRESSIONS)]
            name = f"{split}_{i + 1:0{digits}d}"
            if images == "aligned":
                path, image = folder / f"{name}_aligned.jpg", drawn_face(n, expression, 64)
            else:
                path, image = folder / f"{name}.jpg", in_photo(drawn_face(n, expression, 96), (200, 160), (32, 52), n)
            cv2.imwrite(str(path), image)
            lines.append(f"{name}.jpg {codes[expression]}")
            drawn[face_key(path)] = expression
            n += 1
    (root / "EmoLabel").mkdir(exist_ok=True)
    (root / "EmoLabel" / "list_patition_label.txt").write_text("\n".join(lines) + "\n")
    return drawn


AFFECTNET_HEADER = (
    "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"
)


def make_affectnet_tree(
    root: Path, train_per_class: int = 3, test_per_class: int = 1, swap: tuple[str, str] | None = None
) -> dict[str, str]:
    """training.csv, validation.csv and Manually_Annotated_Images/<sub>/<hash>.jpg: each 56 px face in a
    96 x 120 photo at the CSV's box. training.csv also has one row of each of 7-10 (contempt, none,
    uncertain, non-face), drawn as neutral faces; they are not in the returned faces."""
    codes = swapped(AFFECTNET_CODES, swap)
    images = root / "Manually_Annotated_Images"
    drawn, n = {}, 0
    for csv_name, count in (("training.csv", train_per_class), ("validation.csv", test_per_class)):
        rows = [AFFECTNET_HEADER]
        faces = [(EXPRESSIONS[i % len(EXPRESSIONS)], None) for i in range(count * len(EXPRESSIONS))]
        if csv_name == "training.csv":
            faces += [("neutral", code) for code in AFFECTNET_OTHER.values()]
        for expression, other_code in faces:
            sub, box = f"{100 + n % 3}", (10 + n % 20, 6 + n % 30, 56, 56)
            path = images / sub / f"{n:08x}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), in_photo(drawn_face(n, expression, 56), (96, 120), box[:2], n))
            landmarks = ";".join(f"{v:.2f}" for v in np.linspace(box[0], box[0] + 56, 136))
            code = codes[expression] if other_code is None else other_code
            rows.append(f"{sub}/{path.name},{','.join(map(str, box))},{landmarks},{code},0.5,-0.25")
            if other_code is None:
                drawn[face_key(path, box)] = expression
            n += 1
        (root / csv_name).write_text("\n".join(rows) + "\n")
    return drawn


def make_affectnet_repack(root: Path, per_class: int = 2) -> dict[str, str]:
    """The common re-pack of AffectNet as one folder per expression number, train/<0-7>/<n>.jpg, of 64 px
    faces; folder 7 (contempt) holds one face, not in the returned faces."""
    drawn, n = {}, 0
    for expression, code in [*AFFECTNET_CODES.items(), ("neutral", AFFECTNET_OTHER["contempt"])]:
        folder = root / "train" / str(code)
        folder.mkdir(parents=True, exist_ok=True)
        for _ in range(per_class if code < 7 else 1):
            path = folder / f"{n:05d}.jpg"
            cv2.imwrite(str(path), drawn_face(n, expression, 64))
            if code < 7:
                drawn[face_key(path)] = expression
            n += 1
    return drawn


def make_expw_tree(root: Path, photos_per_class: int = 2, swap: tuple[str, str] | None = None) -> dict[str, str]:
    """label/label.lst and image/origin/<name>.jpg: 88 x 168 photos holding two 64 px faces each (a face of
    one expression left, of the next right), one line per face. A last line's inverted box holds no face."""
    codes = swapped(EXPW_CODES, swap)
    images = root / "image" / "origin"
    images.mkdir(parents=True, exist_ok=True)
    lines, drawn = [], {}
    for n in range(photos_per_class * len(EXPRESSIONS)):
        path = images / f"photo_{n:03d}.jpg"
        photo = background((88, 168), n)
        for face_id, left in enumerate((12, 92)):
            expression = EXPRESSIONS[(n + face_id) % len(EXPRESSIONS)]
            top, size = 12, 64
            photo[top : top + size, left : left + size] = drawn_face(2 * n + face_id, expression, size)
            # image_name face_id top left right bottom confidence label
            lines.append(f"{path.name} {face_id} {top} {left} {left + size} {top + size} 42.5 {codes[expression]}")
            drawn[face_key(path, (left, top, size, size))] = expression
        cv2.imwrite(str(path), photo, [cv2.IMWRITE_JPEG_QUALITY, 95])
    lines.append(f"photo_000.jpg 2 70 40 20 50 3.1 {codes['happy']}")  # right < left: no face
    (root / "label").mkdir(exist_ok=True)
    (root / "label" / "label.lst").write_text("\n".join(lines) + "\n")
    return drawn


def make_sfew_tree(
    root: Path, train_per_class: int = 3, val_per_class: int = 1, swap: tuple[str, str] | None = None
) -> dict[str, str]:
    """Train/<Class>/<movie>_<frame>.png and Val/<Class>/..., 64 px aligned faces."""
    folders = swapped(SFEW_FOLDERS, swap)
    drawn, n = {}, 0
    for part, count in (("Train", train_per_class), ("Val", val_per_class)):
        for expression in EXPRESSIONS:
            folder = root / part / folders[expression]
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                path = folder / f"Movie{n % 4}_{n:09d}_{i:08d}.png"
                cv2.imwrite(str(path), drawn_face(n, expression, 64))
                drawn[face_key(path)] = expression
                n += 1
    return drawn


def make_kdef_tree(
    root: Path, people=("F01", "M02", "F03"), angles=("S", "HL"), swap: tuple[str, str] | None = None
) -> dict[str, str]:
    """KDEF/<series><sex><nn>/<series><sex><nn><expression><angle>.JPG: every person in series A and B,
    every expression at every angle in `angles`, each a 96 px face in a 200 x 160 photo (the detector crops)."""
    codes = swapped(KDEF_CODES, swap)
    drawn, n = {}, 0
    for person_index, person in enumerate(people):
        for series in "AB":
            sitting = root / "KDEF" / f"{series}{person}"
            sitting.mkdir(parents=True, exist_ok=True)
            for expression in EXPRESSIONS:
                for angle in angles:
                    path = sitting / f"{series}{person}{codes[expression]}{angle}.JPG"
                    face = draw_face(sample_identity(person_index), EXPRESSIONS.index(expression), seed=n, size=96)
                    cv2.imwrite(str(path), in_photo(face, (200, 160), (32, 52), n))
                    drawn[face_key(path)] = expression
                    n += 1
    return drawn


__all__ = [
    "EXPRESSIONS",
    "FERPLUS_VOTES",
    "make_affectnet_repack",
    "make_affectnet_tree",
    "make_ckplus_tree",
    "make_expw_tree",
    "make_fer2013_csv",
    "make_fer2013_folders",
    "make_ferg_tree",
    "make_ferplus_csv",
    "make_ferplus_folders",
    "make_kdef_tree",
    "make_rafdb_tree",
    "make_sfew_tree",
]
