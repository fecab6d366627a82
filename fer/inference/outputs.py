"""Result writers: JSONL and CSV records (one per face per frame), annotated images and video.

Records are written and flushed as they come, so memory stays constant and a run that is stopped
keeps what it saw. A frame with no face still gets one record (face, box and label null).
"""

import csv
import json
from pathlib import Path

import cv2
import numpy as np

from fer.inference.frames import Frame
from fer.inference.predictor import FacePrediction
from fer.labels import LABELS


def records(frame: Frame, faces: list[FacePrediction]) -> list[dict]:
    base = {"source": frame.source, "frame": frame.index, "time_s": round(frame.time_s, 4)}
    if not faces:
        return [{**base, "face": None, "person": None, "box": None, "label": None, "score": None, "probs": None}]
    return [
        {
            **base,
            "face": i,
            "person": f.person,
            "box": list(map(int, f.box)) if f.box is not None else None,
            "label": f.label,
            "score": round(f.score, 6),
            "probs": {label: round(float(p), 6) for label, p in zip(LABELS, f.probs)},
        }
        for i, f in enumerate(faces)
    ]


def format_record(row: dict) -> str:
    """One line for people: the face's box, label and the seven probabilities."""
    if row["face"] is None:
        return f"{row['source']}: no face found"
    probs = " ".join(f"{label} {p:.3f}" for label, p in row["probs"].items())
    who = f" ({row['person']})" if row.get("person") else ""
    return f"{row['source']} face {row['face']}{who} box {row['box']}: {row['label']} {row['score']:.2f} | {probs}"


class JsonlWriter:
    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "w")

    def write(self, rows: list[dict]) -> None:
        for row in rows:
            self._file.write(json.dumps(row) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class CsvWriter:
    COLUMNS = ["source", "frame", "time_s", "face", "person", "x", "y", "w", "h", "label", "score", *LABELS]

    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "w", newline="")
        self._writer = csv.writer(self._file)
        self._writer.writerow(self.COLUMNS)

    def write(self, rows: list[dict]) -> None:
        for r in rows:
            box = r["box"] or [None] * 4
            probs = [r["probs"][label] for label in LABELS] if r["probs"] else [None] * len(LABELS)
            self._writer.writerow(
                [r["source"], r["frame"], r["time_s"], r["face"], r.get("person"), *box, r["label"], r["score"], *probs]
            )
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class AnnotatedImages:
    """Annotated copies of still images, named after the input (folder structure flattened)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def write(self, frame: Frame, image: np.ndarray) -> None:
        cv2.imwrite(str(self.folder / (Path(frame.source).stem + ".png")), image)

    def close(self) -> None:
        pass


class VideoOut:
    """An annotated video at the input's frame rate; opened on the first frame (its size and rate are
    known then). Cameras and streams state no rate: `default_fps` is used for them."""

    def __init__(self, path: str | Path, default_fps: float = 25.0) -> None:
        self.path, self.default_fps, self._writer = Path(path), default_fps, None
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, frame: Frame, image: np.ndarray) -> None:
        if self._writer is None:
            height, width = image.shape[:2]
            fps = frame.fps or self.default_fps
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
            if not self._writer.isOpened():
                raise OSError(f"output.video: cannot write {self.path} (try a .mp4 or .avi name)")
        self._writer.write(image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
