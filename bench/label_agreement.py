"""How often FER2013's original label equals FER+'s majority label on the same faces (PublicTest = FER+ Valid).

    python bench/label_agreement.py [--data ../shared/data]

Explains the FER2013-labels figure of a model trained on FER+ votes: it cannot agree with the
original labels more often than the two label sets agree with each other. FER2013's JPEGs and FER+'s
PNGs of a face differ by JPEG rounding only, so each FER2013 face is paired with its nearest FER+
face by pixels (the distance of the pairs is printed, to show they are the same faces). Majority as
in fer.data.sources.FERPlus: strict plurality of the seven labels; ties, contempt, unknown/NF left out.
"""

import argparse
from pathlib import Path

import cv2
import numpy as np

from fer.data.sources.fer2013 import FER2013
from fer.data.sources.ferplus import FERPlus
from fer.labels import label_index

SAME_FACE_RMS = 8.0  # JPEG rounding of the same face stays far below this; different faces lie far above


def faces(paths: list[Path]) -> np.ndarray:
    return np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE).astype(np.float32).ravel() for p in paths])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    data = Path(parser.parse_args().data)
    original = [f for f in FER2013(root=str(data / "fer2013")).list_files() if f.split == "test"]
    ferplus = FERPlus(root=str(data / "ferplus"))
    ferplus.prepare(
        Path.home() / ".cache" / "fer"
    )  # the folder form needs nothing written; the CSV form is extracted there
    plus = [f for f in ferplus.list_files() if f.split == "val"]
    x13, xplus = faces([f.path for f in original]), faces([f.path for f in plus])
    nearest, distance = [], []
    for start in range(0, len(x13), 256):
        d = (
            (x13[start : start + 256] ** 2).sum(1)[:, None]
            + (xplus**2).sum(1)[None]
            - 2 * x13[start : start + 256] @ xplus.T
        )
        nearest.append(d.argmin(1))
        distance.append(np.sqrt(np.clip(d.min(1), 0, None) / x13.shape[1]))
    nearest, distance = np.concatenate(nearest), np.concatenate(distance)
    same = distance <= SAME_FACE_RMS
    pairs = [
        (label_index(o.label_name), label_index(plus[j].label_name))
        for o, j, paired in zip(original, nearest, same)
        if paired and plus[j].skip is None
    ]
    agree = np.mean([a == b for a, b in pairs])
    print(
        f"{len(original)} FER2013 PublicTest faces, {same.sum()} paired with a FER+ Valid face (RMS pixel distance "
        f"<= {SAME_FACE_RMS}: median {np.median(distance[same]):.2f} of 255; {(~same).sum()} without one); "
        f"{len(pairs)} of the pairs have a FER+ majority label, and the original label is it on {100 * agree:.2f} %"
    )


if __name__ == "__main__":
    main()
