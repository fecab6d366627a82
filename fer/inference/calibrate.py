"""Calibration inputs to a profile: labelled images of one person (or camera) -> their faces -> `fit_profile`.

`Recognizer.calibrate`, `fer calibrate` (fer/commands/calibrate.py) and fer serve's POST /v1/profile all come here:
each image's largest face is found as the recognizer finds faces, classified as it classifies them (mirror-
averaged when its tta_flip is on), and the profile is fitted on what inference will read. Images without a
face are logged and listed in `Profile.skipped`.
"""

import logging
import time

import numpy as np

from fer.errors import BadValue, CannotOpen
from fer.faces.image_io import UnreadableImage, to_grey_uint8
from fer.inference.frames import as_frame, input_name
from fer.inference.profile import (
    DEFAULT_METHOD,
    REFERENCE,
    Profile,
    fit_profile,
    fit_reference_profile,
    fit_summary,
    load_references,
    log_softmax,
    references_path,
)
from fer.labels import LABELS, label_index

log = logging.getLogger(__name__)
NEUTRAL = LABELS.index("neutral")
_said_bias_only: set[str] = set()


# the guided capture's order: neutral first (the easiest to hold, and what the others are read against)
GUIDE_ORDER = ("neutral", "happy", "surprise", "sad", "anger", "disgust", "fear")


def guided_capture(
    recognizer, frames, countdown_s: float = 3.0, seconds: float = 2.0, keep: int = 5, show=None, say=print
) -> dict[str, list[np.ndarray]]:
    """A person's photos of the seven expressions from a camera's frames (an iterator of `Frame`): each
    expression is named with a countdown, then `seconds` of frames are read and the `keep` steadiest with a
    face are kept (the face box moved least since the frame before: no blur, no expression on its way).
    `show(image, prompt, box)` draws each frame (a window where there is one); `say` prints the prompts."""
    photos: dict[str, list[np.ndarray]] = {}

    def next_frame():
        frame = next(frames, None)
        if frame is None:
            raise CannotOpen("the camera stopped delivering frames during the calibration; nothing was written")
        return frame

    for label in GUIDE_ORDER:
        start = time.monotonic()
        told = None
        while (left := countdown_s - (time.monotonic() - start)) > 0:  # frames keep flowing: a live preview
            if told != int(left) + 1:
                told = int(left) + 1
                say(f"show: {label} in {told}")
            frame = next_frame()
            if show is not None:
                show(frame.image, f"{label} in {told}", None)
        say(f"show: {label} (hold it)")
        candidates, previous, start = [], None, time.monotonic()
        # a slow machine reads fewer frames in `seconds`: it reads on (up to 3x as long) until it has `keep`
        while time.monotonic() - start < seconds or len(candidates) < keep and time.monotonic() - start < 3 * seconds:
            frame = next_frame()
            grey = to_grey_uint8(frame.image, frame.source)
            boxes = recognizer.predictor.detect(grey)[:1]
            box = boxes[0] if boxes else None
            if show is not None:
                show(frame.image, f"{label}: hold it", box)
            if box is not None and previous is not None:
                moved = sum(abs(a - b) for a, b in zip(box, previous)) / max(box[2], 1)
                candidates.append((moved, len(candidates), frame.image.copy()))
            previous = box
        steadiest = sorted(candidates)[:keep]
        photos[label] = [image for _, _, image in sorted(steadiest, key=lambda c: c[1])]
        say(f"  {label}: {len(photos[label])} photo(s) kept" + ("" if photos[label] else " (no face seen)"))
    return photos


def reference_profile(recognizer, embeddings: np.ndarray, labels: np.ndarray) -> Profile:
    """The person's neutral faces as their reference, against the model's references (learnt from other people)."""
    classifier = recognizer.classifier
    references = load_references(classifier.path, recognizer.model_sha256, "neutral")
    if references is None:
        raise BadValue(
            f"calibration from neutral faces needs {references_path(classifier.path).name} beside "
            f"{classifier.path.name} (python bench/calibration.py --weights <model> --write-references); "
            "or add photos of other expressions"
        )
    neutral = labels == NEUTRAL
    if not neutral.any():
        raise BadValue("method=reference needs photos of the neutral expression (the person's reference)")
    return fit_reference_profile(
        embeddings[neutral], references, recognizer.model_sha256, classifier.path.name, labels=labels[neutral]
    )


def calibrate(recognizer, images: dict, method: str | None = None, rgb: bool = False, **params) -> Profile:
    """The profile of labelled images ({label: [image inputs]}) for `recognizer`'s model; see
    `Recognizer.calibrate`."""
    classifier, predictor = recognizer.classifier, recognizer.predictor
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
        raise BadValue(
            f"calibration: no face was found in any of the {len(skipped)} image(s); use photos where "
            "the face is clearly visible (or detector=none for face crops)"
        )
    labels = np.array(labels)
    # neutral faces alone: the person's reference against the differences other people's expressions make
    method = method or (REFERENCE if set(labels.tolist()) == {NEUTRAL} else DEFAULT_METHOD)
    if not classifier.embedding_size and method != "bias":
        if classifier.path.name not in _said_bias_only:
            log.warning(
                "%s has no embedding output: calibration uses method=bias (the output-level method); "
                "add it with fer export embedding=<the model file> for the others",
                classifier.path.name,
            )
            _said_bias_only.add(classifier.path.name)
        method = "bias"
    batch = np.stack([predictor.preprocess(crop) for crop in crops])
    logits, embeddings = predictor.outputs(batch, embedding=method != "bias")
    log_probs = log_softmax(np.asarray(logits, np.float64) / classifier.temperature)
    if method == REFERENCE:
        profile = reference_profile(recognizer, embeddings, labels)
    else:
        profile = fit_profile(
            log_probs,
            embeddings,
            labels,
            recognizer.model_sha256,
            method=method,
            model_file=classifier.path.name,
            **params,
        )
    profile.skipped = skipped
    profile.fit = fit_summary(profile, log_probs, embeddings, labels)
    return profile
