"""`Recognizer`: face detection plus the expression classifier, on images, folders, video and cameras.

The class behind the Python API (`fer.Recognizer`, `fer.predict`; see fer/api.py) and behind infer.py.
Each face is a plain-JSON record: source, frame, time_s, face (its index, largest first), box
[x, y, w, h] in the image's pixels, label, score and probs (the seven probabilities by label).
"""

import logging
import os
import time
from collections.abc import Iterable, Iterator

import cv2

from fer.errors import BadValue
from fer.faces.detect import FaceDetector, detector_named
from fer.faces.image_io import UnreadableImage, to_grey_uint8
from fer.inference.calibrate import calibrate
from fer.inference.frames import CaptureFactory, Frame, FrameSource, as_frame, input_name, open_frames
from fer.inference.options import BASELINES, PEOPLE_MODES, RecognizerOptions, settings_doc
from fer.inference.outputs import records
from fer.inference.people import Identity, People
from fer.inference.people_file import PeopleFile
from fer.inference.predictor import FacePrediction, Predictor
from fer.inference.profile import Profile, References, file_sha256, load_references, profile_for_model, references_path
from fer.inference.runtime import load_classifier, weights_path
from fer.inference.video import ExactLoop, LiveLoop, check_live_options

log = logging.getLogger(__name__)
DEFAULTS = RecognizerOptions()


class Recognizer:
    """Face detection plus the expression classifier, ready to call.

    Its keywords are the settings of `RecognizerOptions` (fer/inference/options.py), which hold each default and
    what it does (listed below); infer.py and `fer serve` read the same. Beyond what a config can write, `weights`
    may be a path object, `detector` None (every input is already a face crop) or any object with
    `detect(grey) -> boxes`, and `profile` a `fer.Profile`. `stream` and `frames` run the live loop for cameras
    and streams (the full-frame detector on its own thread: no frame waits for it) and the exact loop for video
    files (every `detect_every`-th frame waits for its own detection: a file gives the same records on every
    run); see `fer.inference.video`.
    """

    def __init__(
        self,
        weights: str | os.PathLike | None = DEFAULTS.weights,
        detector: str | FaceDetector | None = DEFAULTS.detector,
        faces: str = DEFAULTS.faces,
        tta_flip: bool = DEFAULTS.tta_flip,
        threads: int = DEFAULTS.threads,
        detect_every: int = DEFAULTS.detect_every,
        smoothing: float = DEFAULTS.smoothing,
        realtime: bool | str | None = DEFAULTS.realtime,
        max_unconfirmed: int = DEFAULTS.max_unconfirmed,
        local_search: bool = DEFAULTS.local_search,
        classify_per_frame: int = DEFAULTS.classify_per_frame,
        profile: "str | os.PathLike | Profile | None" = DEFAULTS.profile,
        profile_force: bool = DEFAULTS.profile_force,
        baseline: str = DEFAULTS.baseline,
        people: str = DEFAULTS.people,
    ) -> None:
        self.classifier = load_classifier(weights_path(weights), threads=threads)
        self.detector = make_detector(detector)
        self.predictor = Predictor(self.classifier, self.detector, faces=faces, tta_flip=tta_flip)
        self._model_sha256: str | None = None
        self.use_profile(profile, profile_force)
        self.predictor.baseline = baseline_references(baseline, self.classifier, self.model_sha256)
        check_live_options(detect_every, smoothing, max_unconfirmed, classify_per_frame)  # now, not at the first frame
        realtime = None if realtime == "auto" else realtime
        if realtime not in (None, True, False):
            raise BadValue(f"realtime={realtime!r}: choose auto, true or false")
        self.detect_every, self.smoothing, self.realtime = detect_every, smoothing, realtime
        self.max_unconfirmed, self.local_search = max_unconfirmed, local_search
        self.classify_per_frame = classify_per_frame
        self.people = people_mode(people)
        self._identity_encoder = None
        self._enrolled_profiles: dict[str, Profile] = {}  # set with `enrolled`, by _load_people_file
        self.enrolled = self._load_people_file()

    @classmethod
    def from_options(cls, options: RecognizerOptions, **given) -> "Recognizer":
        """A recognizer with these settings; `given` keywords on top (a detector object, say)."""
        return cls(**{**vars(options), **given})

    def new_people(self) -> People | None:
        """A fresh register of people for one source (ids start again at p1; the people file's are known from
        the start), or None when people is off or there is no detector (whole frames: nothing to tell apart)."""
        if self.people == "off" or self.detector is None:
            return None
        if self.enrolled is None:
            return People(self.identity_encoder)
        return People(self.identity_encoder, self.enrolled.persons(), profiles=self._enrolled_profiles)

    @property
    def identity_encoder(self):
        """The identity network (fer.inference.identity), loaded when first needed."""
        if self._identity_encoder is None:
            from fer.inference.identity import IdentityEncoder

            self._identity_encoder = IdentityEncoder()
        return self._identity_encoder

    def _load_people_file(self) -> PeopleFile | None:
        """people=<file>: its people, checked now (the identity network it was made with, and each profile
        against this model), so that a wrong file fails before the first frame."""
        if self.people in PEOPLE_MODES:
            return None
        enrolled = PeopleFile.load(self.people)
        enrolled.check_identity(file_sha256(self.identity_encoder.path), self.people)
        self._enrolled_profiles = {
            name: profile_for_model(
                profile, self.classifier.path.name, self.model_sha256, self.classifier.embedding_size
            )
            for name, profile in enrolled.profiles().items()
        }
        return enrolled

    @property
    def model_sha256(self) -> str:
        """The weights file's fingerprint, which a profile is fitted for."""
        if self._model_sha256 is None:
            self._model_sha256 = file_sha256(self.classifier.path)
        return self._model_sha256

    @property
    def profile(self) -> Profile | None:
        return self.predictor.profile

    def use_profile(self, profile: "str | os.PathLike | Profile | None", force: bool = False) -> None:
        """Apply a profile (a `Profile` or its file) to every face from now on; None: none."""
        self.predictor.profile = profile_for_model(
            profile, self.classifier.path.name, self.model_sha256, self.classifier.embedding_size, force
        )

    def calibrate(self, images_by_label: dict, method: str | None = None, rgb: bool = False, **params) -> Profile:
        """A profile fitted on labelled images of one person (or camera): {label: [images]}, any image input
        `predict` takes, labels by name (aliases such as angry or happiness too). The largest face of each
        image is used; images without a face are logged and skipped (`Profile.skipped` lists them). The
        profile is returned, not applied: `use_profile(profile)` applies it, `profile.save(path)` keeps it."""
        return calibrate(self, images_by_label, method, rgb, **params)

    def predict(self, image, rgb: bool = False) -> list[dict]:
        """One image -> one record per face found, largest first ([] when there is none). `person` is an
        enrolled person's name (people=<file>) or None: ids (p1, p2, ...) belong to a source (`stream`).

        `image`: a path, a numpy array (BGR by OpenCV's convention, RGB with `rgb=True`, or grey;
        uint8, uint16 or float in [0, 1]), a PIL image, or the bytes of an encoded image.
        """
        frame = as_frame(image, rgb)
        if self.enrolled is None or self.detector is None or self.people == "off":
            return face_records(frame, self.predictor.predict(frame.image))
        # one photo on its own: enrolled people are named (and read with their profile), others stay None
        people = People(self.identity_encoder, self.enrolled.persons(), profiles=self._enrolled_profiles, new_ids=False)
        return face_records(frame, self._frame_faces(frame, None, people)[0])

    def predict_many(self, images: Iterable, rgb: bool = False, batch_size: int = 64) -> list[list[dict]]:
        """Many images -> a list of face records per image, in order; faces of several images are
        classified in one batch. An input that cannot be read gets one record with `error` set (and
        no face), so one bad file never loses the others' results."""
        results: list[list[dict] | None] = []
        pending: list[tuple[int, Frame, list, list]] = []  # (index, frame, boxes, crops) not yet classified
        queued = 0
        for image in images:
            try:
                frame = as_frame(image, rgb)
            except (UnreadableImage, OSError) as err:
                results.append([error_record(Frame(input_name(image), 0, 0.0, None, error=str(err)))])
                continue
            grey = to_grey_uint8(frame.image, frame.source)
            if self.detector is None:  # the input is the face crop
                boxes, crops = [None], [grey]
            else:
                boxes = self.predictor.detect(grey)
                crops = self.predictor.crop_faces(grey, boxes)
            pending.append((len(results), frame, boxes, crops))
            results.append(None)
            queued += len(crops)
            if queued >= batch_size:
                self._classify_pending(pending, results)
                pending, queued = [], 0
        self._classify_pending(pending, results)
        failed = sum(1 for faces in results if faces and "error" in faces[0])
        if failed:
            log.warning(
                "predict_many: %d of %d input(s) could not be read (records with 'error')", failed, len(results)
            )
        return results

    def _classify_pending(self, pending: list, results: list) -> None:
        probs = self.predictor.classify_crops([crop for *_, crops in pending for crop in crops])
        start = 0
        for index, frame, boxes, crops in pending:
            faces = [
                FacePrediction(None if box is None else tuple(box), p)
                for box, p in zip(boxes, probs[start : start + len(crops)])
            ]
            results[index] = face_records(frame, faces)
            start += len(crops)

    def stream(
        self, source: str | os.PathLike | int, capture_factory: CaptureFactory = cv2.VideoCapture
    ) -> Iterator[list[dict]]:
        """Face records frame by frame for a video file, camera ("webcam", "webcam:N" or an index), stream
        URL, image or folder; video frames get the live loop's held boxes and smoothing."""
        for frame, faces, _ in self.frames(source, capture_factory):
            yield [error_record(frame)] if frame.image is None else face_records(frame, faces)

    def frames(
        self, source, capture_factory: CaptureFactory = cv2.VideoCapture
    ) -> Iterator[tuple[Frame, list[FacePrediction], dict]]:
        """(frame, faces, stage timings) for every frame of a source (a spec as for `stream`, or an
        opened `FrameSource`): the loop behind `stream` and infer.py.
        A frame that could not be read comes with `frame.image` None, `frame.error` set and no faces."""
        if not isinstance(source, FrameSource):
            source = open_frames(
                f"webcam:{source}" if isinstance(source, int) else str(source),
                capture_factory,
                realtime=self.realtime is True,
            )
        people = self.new_people()
        live = self.live_loop(source.kind, people)
        try:
            for frame in source:
                if frame.image is None:
                    yield frame, [], {}
                    continue
                yield (frame, *self._frame_faces(frame, live, people))
                if live is not None:  # the caller has drawn the frame: the live loop's threads may start
                    live.hand_off()
        finally:
            if live is not None:
                live.close()

    def live_loop(self, kind: str, people: People | None = None) -> ExactLoop | LiveLoop | None:
        """The loop for a source's video frames: tracked (detection off the frame path) for cameras and
        streams, and for video files with realtime=True; exact (`ExactLoop`) otherwise."""
        if self.detector is None:
            return None
        if kind == "camera" and self.realtime is not False or kind == "video" and self.realtime:
            return LiveLoop(
                self.predictor,
                self.detect_every,
                self.smoothing,
                self.max_unconfirmed,
                self.local_search,
                self.classify_per_frame,
                people=people,
            )
        return ExactLoop(self.predictor, self.detect_every, self.smoothing, people=people)

    def _frame_faces(
        self, frame: Frame, live: ExactLoop | LiveLoop | None, people: People | None = None
    ) -> tuple[list[FacePrediction], dict]:
        start = time.perf_counter()
        self.predictor.stage_ms.clear()
        grey = to_grey_uint8(frame.image, frame.source)
        # Held boxes and smoothing only make sense between consecutive frames of a video.
        if live is not None and frame.video:
            faces = live.step(grey)
        elif people is not None:  # photos of a folder: the same person in two photos gets the same id
            boxes = self.predictor.detect(grey)
            identities = [Identity() for _ in boxes]
            people.identify(grey, frame.index, boxes, identities, once=True)
            faces = self.predictor.classify_boxes(grey, boxes, profiles=people.profiles(identities))
            faces = [FacePrediction(f.box, f.probs, i.person) for f, i in zip(faces, identities)]
        else:
            faces = self.predictor.predict(grey)
        total_ms = (time.perf_counter() - start) * 1000
        return faces, {"fps": 1000.0 / max(total_ms, 1e-3), "ms": total_ms, **self.predictor.stage_ms}

    def __repr__(self) -> str:
        return f"Recognizer({self.classifier!r}, detector={type(self.detector).__name__ if self.detector else None})"


Recognizer.__doc__ += settings_doc()


def people_mode(people) -> str:
    """auto, off, or the path of a people file (enrolled names)."""
    if isinstance(people, bool) or people is None:  # YAML reads a bare off as false
        return "auto" if people else "off"
    people = str(people)
    if people not in PEOPLE_MODES and not people.endswith(".json"):
        raise BadValue(f"people={people!r}: choose auto, off or a people file (.json, from fer enroll)")
    return people


def baseline_references(baseline: str, classifier, model_sha256: str) -> References | None:
    """The references baseline=auto reads, or None for off; a clear error where the model has none."""
    baseline = {False: "off", True: "auto", None: "off"}.get(baseline, baseline)  # YAML reads a bare off as false
    if baseline not in BASELINES:
        raise BadValue(f"baseline={baseline!r}: choose off or auto")
    if baseline == "off":
        return None
    references = load_references(classifier.path, model_sha256, "mean") if classifier.embedding_size else None
    if references is None:
        raise BadValue(
            f"baseline=auto needs {classifier.path.name}'s embedding output and "
            f"{references_path(classifier.path).name} beside it (python bench/calibration.py --weights "
            "<model> --write-references)"
        )
    return references


def make_detector(detector: str | FaceDetector | None) -> FaceDetector | None:
    """A detector by name (`fer.faces.detect.DETECTORS`), None, or a detector object as it is."""
    if detector is None:
        return None
    if isinstance(detector, str):
        return detector_named(detector)
    if not callable(getattr(detector, "detect", None)):
        raise TypeError(f"detector: {detector!r} has no detect(grey) method")
    return detector


def face_records(frame: Frame, faces: list[FacePrediction]) -> list[dict]:
    return records(frame, faces) if faces else []


def error_record(frame: Frame) -> dict:
    """The no-face record of an input that could not be read, with why (`frame.error`)."""
    return {**records(frame, [])[0], "error": frame.error}


_default: Recognizer | None = None


def predict(image, rgb: bool = False) -> list[dict]:
    """`fer.predict(image)`: `Recognizer().predict(image)` with the shipped model, loaded once."""
    global _default
    if _default is None:
        _default = Recognizer()
    return _default.predict(image, rgb)
