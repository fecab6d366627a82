"""`fer calibrate source=<folder> out=<profile.json>`: a profile from labelled photos of one person or camera.

    fer calibrate source=me/ out=me.profile.json            # me/happy/*.jpg, me/neutral/*.jpg, ...
    python -m fer.calibrate source=me/ out=me.profile.json method=bias weights=ensemble

The folder holds one sub-folder per expression, named by any of the seven labels or an alias that
`fer.labels` knows (angry, happiness, ...). Each photo's largest face is found as infer.py finds it;
photos without a face are listed and skipped. Prints what it fitted: faces per expression and the method.
Then `infer.py profile=me.profile.json`, `fer.Recognizer(profile=...)`, `fer serve profile=...` and
`python -m fer.evaluate profile=...` apply it. Fitting is numpy only (fer.inference.profile).
"""

import logging
import sys
from pathlib import Path

import numpy as np

from fer.errors import BadValue, MissingInput, UserError, report_and_exit
from fer.faces.image_io import IMAGE_SUFFIXES, UnreadableImage, to_grey_uint8
from fer.inference.profile import DEFAULT_METHOD, METHODS, Profile, fit_profile, log_softmax
from fer.labels import ALIASES, LABELS, label_index

log = logging.getLogger(__name__)
OPTIONS = {"source": None, "out": None, "weights": None, "method": None, "detector": "haar", "tta_flip": "true"}
USAGE = ("usage: fer calibrate source=<folder with one sub-folder per expression> out=<profile.json> "
         f"[weights=<model file or shipped name>] [method={'|'.join(METHODS)}] [detector=haar|yunet|none] "
         "[tta_flip=true|false]")
_said_bias_only: set[str] = set()


def images_by_label(folder: str | Path) -> dict[str, list[Path]]:
    """{label: photos} of a calibration folder; a clear error when its layout is off."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingInput(f"source={folder}: no such folder; pass a folder with one sub-folder per expression "
                           f"({', '.join(LABELS)})")
    found: dict[str, list[Path]] = {}
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir())
    if not subfolders:
        raise BadValue(f"source={folder}: no sub-folders; put each expression's photos in a sub-folder named by "
                       f"it ({', '.join(LABELS)})")
    for sub in subfolders:
        index = label_index(sub.name)
        if index is None:
            raise BadValue(f"source={folder}: sub-folder {sub.name!r} is not an expression; name it one of "
                           f"{', '.join(LABELS)} (or {', '.join(sorted(ALIASES))})")
        photos = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        found.setdefault(LABELS[index], []).extend(photos)
    if not any(found.values()):
        raise BadValue(f"source={folder}: its sub-folders hold no photos ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return found


def calibrate(recognizer, images: dict, method: str | None = None, rgb: bool = False, **params) -> Profile:
    """The profile of labelled images ({label: [image inputs]}) for `recognizer`'s model; see
    `Recognizer.calibrate`."""
    from fer.inference.recognizer import as_frame  # the recognizer's module imports this one

    classifier, predictor = recognizer.classifier, recognizer.predictor
    method = method or DEFAULT_METHOD
    if not classifier.embedding_size and method != "bias":
        if classifier.path.name not in _said_bias_only:
            log.warning("%s has no embedding output: calibration uses method=bias (the output-level method); "
                        "re-export the model with python -m fer.export for the others", classifier.path.name)
            _said_bias_only.add(classifier.path.name)
        method = "bias"
    crops, labels, skipped = [], [], []
    for name, inputs in images.items():
        index = label_index(str(name))
        if index is None:
            raise BadValue(f"calibration label {name!r} is not an expression; use one of {', '.join(LABELS)}")
        for image in inputs:
            try:
                frame = as_frame(image, rgb)
            except (UnreadableImage, OSError) as err:
                skipped.append(f"{frame_name(image)} (unreadable: {err})")
                continue
            grey = to_grey_uint8(frame.image, frame.source)
            boxes = [None] if recognizer.detector is None else predictor.detect(grey)[:1]
            if not boxes:
                skipped.append(f"{frame_name(image)} (no face found)")
                continue
            crops += [grey] if boxes[0] is None else predictor.crop_faces(grey, boxes)
            labels.append(index)
    for line in skipped:
        log.warning("calibration: skipped %s", line)
    if not crops:
        raise BadValue(f"calibration: no face was found in any of the {len(skipped)} image(s); use photos where "
                       "the face is clearly visible (or detector=none for face crops)")
    batch = np.stack([predictor.preprocess(crop) for crop in crops])
    logits, embeddings = predictor.outputs(batch, embedding=method != "bias")
    log_probs = log_softmax(np.asarray(logits, np.float64) / classifier.temperature)
    profile = fit_profile(log_probs, embeddings, np.array(labels), recognizer.model_sha256, method=method,
                          model_file=classifier.path.name, **params)
    profile.skipped = skipped
    return profile


def frame_name(image) -> str:
    return str(image) if isinstance(image, (str, Path)) else f"<{type(image).__name__}>"


def parse(argv: list[str]) -> dict:
    options = dict(OPTIONS)
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise BadValue(f"{arg!r} is not key=value\n{USAGE}")
        if key not in OPTIONS:
            raise BadValue(f"unknown option {key!r}; options: {', '.join(OPTIONS)}\n{USAGE}")
        options[key] = value
    for key in ("source", "out"):
        if not options[key]:
            raise BadValue(f"{key}= is missing\n{USAGE}")
    if options["source"] == "webcam":
        raise BadValue("source=webcam: the guided webcam capture is not built yet; photograph each expression "
                       "and pass the folder")
    if options["method"] and options["method"] not in METHODS:
        raise BadValue(f"method={options['method']}: choose one of {', '.join(METHODS)}")
    if options["tta_flip"] not in ("true", "false"):
        raise BadValue(f"tta_flip={options['tta_flip']}: expected true or false")
    return options


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if any(arg in ("-h", "--help", "help") for arg in args):
        print(USAGE)
        return 0
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        options = parse(args)
        from fer.inference.recognizer import Recognizer

        photos = images_by_label(options["source"])
        recognizer = Recognizer(options["weights"], options["detector"], faces="largest",
                                tta_flip=options["tta_flip"] == "true")
        profile = calibrate(recognizer, photos, options["method"])
        out = profile.save(options["out"])
    except UserError as err:
        report_and_exit(err, code=2, prefix="fer calibrate")
    print(f"fer calibrate: {profile.describe()}")
    if profile.skipped:
        print(f"  skipped {len(profile.skipped)} photo(s): " + "; ".join(profile.skipped[:10]))
    print(f"wrote {out} (for {profile.model_file}, sha256 {profile.model_sha256[:12]})")
    return 0
