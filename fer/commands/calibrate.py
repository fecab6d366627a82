"""`fer calibrate source=<folder> out=<profile.json>` (also `python -m fer calibrate`): a profile from
labelled photos of one person or camera.

    fer calibrate source=me/ out=me.profile.json            # me/happy/*.jpg, me/neutral/*.jpg, ...
    fer calibrate source=me/ out=me.profile.json method=bias weights=ensemble
    fer calibrate source=webcam out=me.profile.json            # a guided capture: seven expressions, neutral first

The folder holds one sub-folder per expression, named by any of the seven labels or an alias that
`fer.labels` knows (angry, happiness, ...). Each photo's largest face is found as infer.py finds it;
photos without a face are listed and skipped. `source=webcam` (or webcam:N) guides the person instead: each
expression is named with a countdown (`countdown=3` s), then `seconds=2` of frames are read and the 5
steadiest with a face kept; a window shows the camera where OpenCV has one (the pinned headless build has
none: the prompts are printed). Prints what it fitted: faces per expression and the method.
Then `infer.py profile=me.profile.json`, `fer.Recognizer(profile=...)`, `fer serve profile=...` and
`fer evaluate profile=...` apply it. Fitting is numpy only (fer.inference.profile).
"""

import sys
from pathlib import Path

import cv2
import numpy as np

from fer.errors import BadValue, MissingInput
from fer.faces.image_io import IMAGE_SUFFIXES
from fer.inference.calibrate import calibrate, guided_capture
from fer.inference.frames import open_frames
from fer.inference.profile import METHODS, REFERENCE
from fer.inference.recognizer import Recognizer
from fer.labels import ALIASES, LABELS, label_index
from fer.utils.commands import key_values, run_command

OPTIONS = {
    "source": None,
    "out": None,
    "weights": None,
    "method": None,
    "detector": "haar",
    "tta_flip": "true",
    "countdown": "3",
    "seconds": "2",
}
USAGE = (
    "usage: fer calibrate source=<folder with one sub-folder per expression, or webcam[:N]> out=<profile.json> "
    f"[weights=<model file or shipped name>] [method={'|'.join((*METHODS, REFERENCE))}] [detector=haar|yunet|none] "
    "[tta_flip=true|false] [countdown=3] [seconds=2]"
)


def images_by_label(folder: str | Path) -> dict[str, list[Path]]:
    """{label: photos} of a calibration folder; a clear error when its layout is off."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingInput(
            f"source={folder}: no such folder; pass a folder with one sub-folder per expression ({', '.join(LABELS)})"
        )
    found: dict[str, list[Path]] = {}
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir())
    if not subfolders:
        raise BadValue(
            f"source={folder}: no sub-folders; put each expression's photos in a sub-folder named by "
            f"it ({', '.join(LABELS)})"
        )
    for sub in subfolders:
        index = label_index(sub.name)
        if index is None:
            raise BadValue(
                f"source={folder}: sub-folder {sub.name!r} is not an expression; name it one of "
                f"{', '.join(LABELS)} (or {', '.join(sorted(ALIASES))})"
            )
        photos = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        found.setdefault(LABELS[index], []).extend(photos)
    if not any(found.values()):
        raise BadValue(f"source={folder}: its sub-folders hold no photos ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return found


def parse(argv: list[str]) -> dict:
    options = key_values(argv, OPTIONS, USAGE, required=("source", "out"))
    for key in ("countdown", "seconds"):
        try:
            if float(options[key]) < 0 or key == "seconds" and float(options[key]) <= 0:
                raise ValueError
        except ValueError:
            raise BadValue(f"{key}={options[key]}: expected a number of seconds (greater than 0)") from None
    if options["method"] and options["method"] not in (*METHODS, REFERENCE):
        raise BadValue(f"method={options['method']}: choose one of {', '.join((*METHODS, REFERENCE))}")
    if options["tta_flip"] not in ("true", "false"):
        raise BadValue(f"tta_flip={options['tta_flip']}: expected true or false")
    return options


def is_camera(source: str) -> bool:
    return source == "webcam" or source.startswith("webcam:")


def camera_photos(recognizer, options: dict, capture_factory=cv2.VideoCapture) -> dict[str, list[np.ndarray]]:
    """The guided capture from the camera `source` names (a window where OpenCV has one)."""
    from fer.inference.infer import window_available

    source = open_frames(options["source"], capture_factory)
    frames = iter(source)
    show = None
    if window_available():

        def show(image, prompt, box):
            canvas = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
            if box is not None:
                x, y, w, h = box
                cv2.rectangle(canvas, (x, y), (x + w, y + h), (80, 220, 80), 2)
            cv2.putText(canvas, prompt, (20, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
            cv2.imshow("fer calibrate", canvas)
            cv2.waitKey(1)

    try:
        return guided_capture(recognizer, frames, float(options["countdown"]), float(options["seconds"]), show=show)
    finally:
        frames.close()
        if show is not None:
            cv2.destroyAllWindows()


def fit_and_save(args: list[str], capture_factory=cv2.VideoCapture) -> str:
    options = parse(args)
    camera = is_camera(options["source"])
    photos = None if camera else images_by_label(options["source"])
    recognizer = Recognizer(
        options["weights"], options["detector"], faces="largest", tta_flip=options["tta_flip"] == "true"
    )
    if camera:
        photos = camera_photos(recognizer, options, capture_factory)
    profile = calibrate(recognizer, photos, options["method"])
    out = profile.save(options["out"])
    lines = [f"fer calibrate: {profile.describe()}"]
    if profile.skipped:
        lines.append(f"  skipped {len(profile.skipped)} photo(s): " + "; ".join(profile.skipped[:10]))
    return "\n".join([*lines, f"wrote {out} (for {profile.model_file}, sha256 {profile.model_sha256[:12]})"])


def main(argv: list[str] | None = None, capture_factory=cv2.VideoCapture) -> int:
    return run_command(argv, USAGE, "fer calibrate", lambda args: fit_and_save(args, capture_factory))


if __name__ == "__main__":
    sys.exit(main())
