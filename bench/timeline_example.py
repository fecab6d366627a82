"""The example timeline of docs/summaries.md: three people over two minutes, from scripted records.

    python bench/timeline_example.py                      # docs/images/timeline_example.png
    python bench/timeline_example.py --report /tmp/people.html --summary /tmp/people.csv

No model runs: each person's expressions are scripted (which expression when, with the model's usual
noise on top) and the records are the ones infer.py writes at 10 frames a second. The thumbnails are drawn
faces (fer.data.synthetic_faces). Seeded: the same picture on every run.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fer.data.synthetic_faces import draw_face, sample_identity  # noqa: E402
from fer.inference.summary import PeopleSummary  # noqa: E402
from fer.inference.timeline import write_report, write_timeline  # noqa: E402
from fer.labels import LABELS  # noqa: E402

FPS = 10
LENGTH_S = 120
# person: (seen from, to), gaps (left the picture), [(from, to, expression)] over a neutral default
SCRIPT = {
    "Ana": ((0, 120), [], [(18, 34, "happy"), (61, 64, "surprise"), (80, 97, "happy")]),
    "p1": ((9, 72), [], [(28, 31, "surprise"), (38, 58, "happy"), (66, 72, "sad")]),
    "p2": ((44, 118), [(74, 86)], [(50, 70, "sad"), (99, 105, "anger"), (105, 110, "disgust")]),
}
UNASSIGNED_S = (3, 6)  # a face passing by that is never given a person


def scripted_label(time_s: float, moments: list) -> str:
    return next((label for start, end, label in moments if start <= time_s < end), "neutral")


def probabilities(label: str, rng: np.random.Generator) -> np.ndarray:
    """A softmax around the scripted expression: the top label stays clear, the others wander as a model's do."""
    logits = rng.normal(0.0, 0.55, len(LABELS))
    logits[LABELS.index(label)] += 2.6
    logits[LABELS.index("neutral")] += 0.8  # neutral is never far away for a model of faces
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()


def visible(time_s: float, seen: tuple, gaps: list) -> bool:
    return seen[0] <= time_s < seen[1] and not any(start <= time_s < end for start, end in gaps)


def frame_picture() -> tuple[np.ndarray, dict]:
    """One frame with the three drawn faces side by side, and each face's box."""
    canvas = np.full((360, 960, 3), 90, np.uint8)
    boxes = {}
    for i, (name, seed) in enumerate(zip(SCRIPT, (11, 23, 37))):
        face = draw_face(sample_identity(seed), LABELS.index("neutral"), seed=seed, size=200)
        x = 60 + i * 300
        canvas[80:280, x : x + 200] = face
        boxes[name] = [x + 30, 110, 140, 140]
    return canvas, boxes


def scripted_summary(seed: int = 0) -> PeopleSummary:
    rng = np.random.default_rng(seed)
    picture, boxes = frame_picture()
    summary = PeopleSummary()
    for frame in range(LENGTH_S * FPS):
        time_s = frame / FPS
        base = {"source": "meeting.mp4", "frame": frame, "time_s": round(time_s, 4)}
        faces = [
            (name, scripted_label(time_s, moments))
            for name, (seen, gaps, moments) in SCRIPT.items()
            if visible(time_s, seen, gaps)
        ]
        if UNASSIGNED_S[0] <= time_s < UNASSIGNED_S[1]:
            faces.append((None, "neutral"))
        rows = [
            record(base, i, name, probabilities(label, rng), boxes.get(name)) for i, (name, label) in enumerate(faces)
        ]
        summary.add(
            rows or [{**base, "face": None, "person": None, "box": None, "label": None, "score": None, "probs": None}],
            picture,
        )
    return summary


def record(base: dict, index: int, person: str | None, probs: np.ndarray, box) -> dict:
    top = int(np.argmax(probs))
    return {
        **base,
        "face": index,
        "person": person,
        "box": box or [0, 0, 60, 60],
        "label": LABELS[top],
        "score": float(probs[top]),
        "probs": {label: float(p) for label, p in zip(LABELS, probs)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "timeline_example.png")
    parser.add_argument("--report", type=Path, help="also the HTML report")
    parser.add_argument("--summary", type=Path, help="also the summary (.csv or .json)")
    args = parser.parse_args()
    summary = scripted_summary()
    print(f"timeline: {write_timeline(summary, args.out)}")
    if args.report:
        print(f"report: {write_report(summary, args.report)}")
    if args.summary:
        print(f"summary: {summary.write(args.summary)}")


if __name__ == "__main__":
    main()
