"""Calibration inputs to a profile: labelled images of one person (or camera) -> their faces -> `fit_profile`.

`Recognizer.calibrate`, `fer calibrate` (fer/calibrate.py) and fer serve's POST /v1/profile all come here:
each image's largest face is found as the recognizer finds faces, classified as it classifies them (mirror-
averaged when its tta_flip is on), and the profile is fitted on what inference will read. Images without a
face are logged and listed in `Profile.skipped`.
"""

import logging

import numpy as np

from fer.errors import BadValue
from fer.faces.image_io import UnreadableImage, to_grey_uint8
from fer.inference.frames import as_frame, input_name
from fer.inference.profile import DEFAULT_METHOD, Profile, fit_profile, log_softmax
from fer.labels import LABELS, label_index

log = logging.getLogger(__name__)
_said_bias_only: set[str] = set()


def calibrate(recognizer, images: dict, method: str | None = None, rgb: bool = False, **params) -> Profile:
    """The profile of labelled images ({label: [image inputs]}) for `recognizer`'s model; see
    `Recognizer.calibrate`."""
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
                skipped.append(f"{input_name(image)} (unreadable: {err})")
                continue
            grey = to_grey_uint8(frame.image, frame.source)
            boxes = [None] if recognizer.detector is None else predictor.detect(grey)[:1]
            if not boxes:
                skipped.append(f"{input_name(image)} (no face found)")
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


