"""`fer enroll name=<name> source=<photos> [people=people.json] [profile=<calibration>]` (also `python -m
fer enroll`): add a person to a people file, so that `people=<file>` names their face in video and applies their
calibration profile to it alone.

    fer enroll name=ana source=ana/ people=people.json                    # a folder (or one photo) of ana alone
    fer enroll name=ana source=webcam people=people.json profile=ana.profile.json
    fer enroll forget=ana people=people.json                              # removes ana (and all that was kept of her)

Each photo must show one face: photos with no face or with several faces are listed and left out (an
error when none is left). `source=webcam` (or webcam:N) reads `seconds=3` of frames and keeps those with
exactly one face. Only identity embeddings (and the profile's statistics) are written, never an image;
docs/people.md says what the file holds.
"""

import logging
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from fer.errors import BadValue, MissingInput
from fer.faces.detect import HaarFaceDetector
from fer.faces.image_io import IMAGE_SUFFIXES, UnreadableImage, files_under, to_grey_uint8
from fer.inference.frames import as_frame, input_name, open_frames
from fer.inference.identity import IdentityEncoder
from fer.inference.people_file import PeopleFile
from fer.inference.profile import Profile, file_sha256
from fer.utils.commands import key_values, run_command

OPTIONS = {
    "name": None,
    "source": None,
    "people": "people.json",
    "profile": None,
    "forget": None,
    "replace": "false",
    "seconds": "3",
}
USAGE = (
    "usage: fer enroll name=<name> source=<photo, folder of photos, or webcam[:N]> [people=people.json] "
    "[profile=<calibration profile>] [replace=true] [seconds=3]\n"
    "       fer enroll forget=<name> [people=people.json]"
)


def parse(argv: list[str]) -> dict:
    options = key_values(argv, OPTIONS, USAGE)
    if not options["forget"]:
        for key in ("name", "source"):
            if not options[key]:
                raise BadValue(f"{key}= is missing\n{USAGE}")
    if options["replace"] not in ("true", "false"):
        raise BadValue(f"replace={options['replace']}: expected true or false")
    return options


def photo_inputs(source: str) -> list[Path]:
    path = Path(source)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise MissingInput(f"source={source}: no such photo or folder")
    photos = [p for p in files_under(path) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not photos:
        raise BadValue(f"source={source}: no photos in it ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return photos


def single_faces(images, detector, encoder: IdentityEncoder) -> tuple[np.ndarray, list[str]]:
    """Identity embeddings of the images that show exactly one face, and a line for each that does not."""
    embeddings, left_out = [], []
    for image in images:
        try:
            frame = as_frame(image)
        except (UnreadableImage, OSError) as err:
            left_out.append(f"{input_name(image)} (unreadable: {err})")
            continue
        grey = to_grey_uint8(frame.image, frame.source)
        boxes = detector.detect(grey)
        if len(boxes) != 1:
            left_out.append(f"{input_name(image)} ({'no face' if not boxes else f'{len(boxes)} faces'})")
            continue
        embeddings.append(encoder.embed_boxes(grey, boxes)[0])
    return np.array(embeddings, np.float32).reshape(len(embeddings), encoder.size), left_out


def camera_frames(source: str, seconds: float, capture_factory=cv2.VideoCapture) -> list[np.ndarray]:
    frames = iter(open_frames(source, capture_factory))
    images, start = [], time.monotonic()
    try:
        while time.monotonic() - start < seconds:
            frame = next(frames, None)
            if frame is None:
                break
            if frame.image is not None:
                images.append(frame.image)
    finally:
        frames.close()
    return images[:: max(1, len(images) // 30)]  # ~30 frames spread over the capture are plenty


def enroll(options: dict, capture_factory=cv2.VideoCapture) -> tuple[Path, str]:
    path = Path(options["people"])
    encoder = IdentityEncoder()
    identity_sha256 = file_sha256(encoder.path)
    people = PeopleFile.load(path) if path.is_file() else PeopleFile(identity_sha256)
    people.check_identity(identity_sha256, path)
    if options["forget"]:
        people.forget(options["forget"])
        people.save(path)
        return path, f"forgot {options['forget']}; {len(people.people)} enrolled"
    source = options["source"]
    camera = source == "webcam" or source.startswith("webcam:")
    images = camera_frames(source, float(options["seconds"]), capture_factory) if camera else photo_inputs(source)
    embeddings, left_out = single_faces(images, HaarFaceDetector(), encoder)
    for line in left_out:
        logging.warning("fer enroll: left out %s", line)
    if not len(embeddings):
        raise BadValue(
            f"source={source}: no photo shows exactly one face ({len(left_out)} left out: "
            f"{'; '.join(left_out[:5])}); use photos of the person alone, face clearly visible"
        )
    profile = Profile.load(options["profile"]) if options["profile"] else None
    people.enroll(options["name"], embeddings, profile, replace=options["replace"] == "true")
    people.save(path)
    return path, (
        f"enrolled {options['name']} from {len(embeddings)} face(s)"
        + (f", {len(left_out)} left out" if left_out else "")
        + (f", with profile {Path(options['profile']).name}" if profile else "")
        + f"; {len(people.people)} enrolled"
    )


def main(argv: list[str] | None = None, capture_factory=cv2.VideoCapture) -> int:
    def enroll_and_say(args: list[str]) -> str:
        path, said = enroll(parse(args), capture_factory)
        return f"fer enroll: {said}; wrote {path}"

    return run_command(argv, USAGE, "fer enroll", enroll_and_say)


if __name__ == "__main__":
    sys.exit(main())
