"""The models behind the service: one recognizer per worker, a live loop per stream, and what a client is told.

Everything here runs on worker threads (`fer.serve.limits.WorkerPool`, a stream's own thread), never on the
event loop: decoding and the model take milliseconds to seconds of CPU.
"""

import base64
import itertools
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np

from fer.errors import BadValue
from fer.faces.detect import FaceDetector, HaarFaceDetector
from fer.faces.image_io import UnreadableImage
from fer.inference.explain import explain_face
from fer.inference.frames import Frame, decode_still
from fer.inference.predictor import Predictor
from fer.inference.profile import Profile, profile_for_model
from fer.inference.recognizer import Recognizer, baseline_references, face_records, make_detector
from fer.inference.runtime import weights_path, weights_version
from fer.inference.video import LiveLoop
from fer.serve.errors import ServeError
from fer.serve.limits import WorkerPool, image_size
from fer.serve.options import ServeOptions

log = logging.getLogger(__name__)
# At a stop, how long the service waits in all for its streams' threads (after uvicorn's graceful wait for the
# connections, fer.serve.__main__.GRACEFUL_SHUTDOWN_S): a frame and a loop's close take milliseconds
STOP_WAIT_S = 5.0
EXPLAIN = ("occlusion",)  # numpy on every runtime; Grad-CAM would need torch weights and torch
DetectorFactory = Callable[[], FaceDetector | None]


class Service:
    """Loads the model `workers` times at start (a bad weights file fails before the port opens)."""

    def __init__(self, options: ServeOptions, detector_factory: DetectorFactory | None = None) -> None:
        self.options = options
        self.make_detector = detector_factory or (lambda: service_detector(options))
        weights = weights_path(options.weights)
        # one ONNX Runtime thread each (fer.serve.options.SERVE_DEFAULTS): parallelism comes from the workers
        self.recognizers = [
            Recognizer.from_options(options.recognizer_options(), weights=weights, detector=self.make_detector())
            for _ in range(options.workers)
        ]
        # the service's profile: every request's and every stream's until a stream sets its own (checked now)
        self.profile = self._checked_profile(options.profile, options.profile_force)
        for recognizer in self.recognizers:
            recognizer.predictor.profile = self.profile
        base = self.recognizers[0]  # streams only: stills have no history
        self.baseline = baseline_references(options.baseline, base.classifier, base.model_sha256)
        self.pool = WorkerPool(self.recognizers, options.queue)
        self.weights = weights
        self.streams: set[LiveStream] = set()  # open ones, closed with the service if their connection has not
        self._streams_lock = threading.Lock()
        self._stopping = False

    def describe(self) -> dict:
        """/v1/model: what a client needs to read the answers (the weights by file name, never by path)."""
        classifier = self.recognizers[0].classifier
        return {
            "labels": list(classifier.labels),
            "version": weights_version(self.weights),
            "weights": self.weights.name,
            "runtime": classifier.runtime,
            "input_size": classifier.image_size,
            "channels": classifier.channels,
            "temperature": classifier.temperature,
            "detector": self.options.detector,
            "tta_flip": self.options.tta_flip,
            "profile": None if self.profile is None else self.profile.describe(),
            "baseline": self.options.baseline,
            "limits": {
                "max_body_mb": self.options.max_body_mb,
                "max_pixels": self.options.max_pixels,
                "stream_max_fps": self.options.stream_max_fps,
            },
        }

    async def predict(self, data: bytes, source: str, explain: str | None) -> dict:
        """/v1/predict's answer, less the total time (its caller adds it)."""
        if not data:
            raise ServeError(422, "the body is empty: send the image's bytes (or a multipart field named image)")
        image_size(data, self.options.max_pixels)  # the header only; before any decoding or queueing
        (faces, width, height, decode_ms, predict_ms), queue_ms = await self.pool.run(
            lambda recognizer: self._predict(recognizer, data, source, explain)
        )
        return {
            "faces": faces,
            "width": width,
            "height": height,
            "timing_ms": {"queue": round(queue_ms, 2), "decode": round(decode_ms, 2), "predict": round(predict_ms, 2)},
        }

    def _predict(self, recognizer: Recognizer, data: bytes, source: str, explain: str | None) -> tuple:
        start = time.perf_counter()
        image = decode(data, source)
        decoded = time.perf_counter()
        faces = recognizer.predictor.predict(image)
        rows = face_records(Frame(source, 0, 0.0, image), faces)
        if explain:  # `image` is grey already (decode)
            for row, face in zip(rows, faces):
                row["saliency_png"] = png_base64(explain_face(recognizer.predictor, image, face, explain))
        done = time.perf_counter()
        return rows, image.shape[1], image.shape[0], (decoded - start) * 1000, (done - decoded) * 1000

    async def calibrate(self, images: dict[str, list[bytes]], method: str | None) -> dict:
        """POST /v1/profile: a profile fitted on labelled images ({label: [image bytes]}), as JSON; not kept."""
        for blobs in images.values():
            for data in blobs:
                image_size(data, self.options.max_pixels)  # headers only, before any decoding
        try:
            profile, _ = await self.pool.run(lambda recognizer: recognizer.calibrate(images, method))
        except BadValue as err:
            raise ServeError(422, str(err)) from None
        return asdict(profile)

    def profile_for_stream(self, data: dict | None) -> Profile | None:
        """A stream's own profile from its JSON, checked against this service's model (ServeError 422)."""
        if data is None:
            return None
        try:
            profile = Profile(**data)
            profile.check()
            return self._checked_profile(profile)
        except (TypeError, ValueError) as err:  # BadValue is a ValueError
            raise ServeError(422, f"the profile was not accepted: {err}") from None

    def _checked_profile(self, profile: "str | Profile | None", force: bool = False) -> Profile | None:
        base = self.recognizers[0]  # its model file's sha256 is read once, not for every stream's message
        return profile_for_model(
            profile, base.classifier.path.name, base.model_sha256, base.classifier.embedding_size, force
        )

    def open_live(self) -> "LiveStream":
        """A stream connection's own loop on a thread of its own, which the service owns: its stop waits for
        that thread whether or not the connection has ended. Its detector loads on that thread (not the
        event loop); the classifier is shared (ONNX Runtime runs one session from many threads)."""
        base = self.recognizers[0]
        live = LiveStream(self._stream_predictor, base, self.options.max_pixels, self.options.stream_detect_every)
        with self._streams_lock:
            if self._stopping:
                live.close()
                raise ServiceStopping()
            self.streams.add(live)
        live.ended.add_done_callback(lambda _: self._forget(live))
        return live

    def _stream_predictor(self) -> Predictor:
        predictor = Predictor(
            self.recognizers[0].classifier, self.make_detector(), tta_flip=self.options.tta_flip, profile=self.profile
        )
        predictor.baseline = self.baseline
        return predictor

    def _forget(self, live: "LiveStream") -> None:
        with self._streams_lock:
            self.streams.discard(live)

    def close(self, wait_s: float = STOP_WAIT_S) -> bool:
        """At shutdown: the running jobs finish, and every stream's thread (its frame under way, then its loop's
        close, which joins the loop's own threads) ends before this returns, within `wait_s` seconds in all (a
        thread still inside OpenCV or ONNX Runtime as the interpreter exits can abort the process). True when
        every thread ended in time; the ones that did not are logged by name."""
        deadline = time.monotonic() + wait_s
        with self._streams_lock:
            self._stopping = True  # no stream opens from now on
            streams = list(self.streams)
        for live in streams:
            live.close()  # queued behind the frame under way; no frame after it
        self.pool.close()
        late = [live for live in streams if not live.join(deadline - time.monotonic())]
        for live in late:
            log.warning("stream thread %s was still running %g s after the stop began", live.thread.name, wait_s)
        return not late


class ServiceStopping(Exception):
    """A job for a stream of a service that is stopping."""


class JobThread:
    """One thread that runs the jobs given to it one at a time, in order (a stream's frames).

    `close(last)` queues `last` as the final job, after those already queued; the thread then ends, and any
    later `submit` fails with ServiceStopping. `ended` is a future that is done when the thread has ended, so
    the event loop can wait for it without blocking; `join(timeout)` waits from another thread.
    """

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._lock, self._closed = threading.Lock(), False
        self.ended: Future = Future()
        self.thread = threading.Thread(target=self._run, name=name)
        self.thread.start()

    @property
    def name(self) -> str:
        return self.thread.name

    def submit(self, function: Callable, *args) -> Future:
        future: Future = Future()
        with self._lock:
            if self._closed:
                future.set_exception(ServiceStopping())
            else:
                self._jobs.put((future, function, args))
        return future

    def close(self, last: Callable | None = None) -> None:
        """Once; a second call (the connection and the service's stop may both close) does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if last is not None:
                self._jobs.put((Future(), self._logged, (last,)))
            self._jobs.put(None)

    def _logged(self, last: Callable) -> None:
        try:
            last()
        except Exception:  # nobody waits for the last job's answer: its failure goes to the log
            log.exception("the last job of %s failed", self.name)

    def join(self, timeout: float) -> bool:
        self.thread.join(max(0.0, timeout))
        return not self.thread.is_alive()

    def _run(self) -> None:
        try:
            while (job := self._jobs.get()) is not None:
                future, function, args = job
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(function(*args))
                    except BaseException as err:  # handed to whoever waits for this job
                        future.set_exception(err)
        finally:
            self.ended.set_result(None)


class LiveStream:
    """The frames of one stream connection, one at a time on its own thread: tracking and smoothing carry over
    its frames as they do for a camera in infer.py (`LiveLoop`); detector=none classifies each whole frame.
    Full-frame scans come every `detect_every` frames (more apart than infer.py's: a server runs many streams,
    and the scans, the costliest step, are what finds new faces; window searches follow known ones)."""

    _count = itertools.count()

    def __init__(
        self, make_predictor: Callable[[], Predictor], base: Recognizer, max_pixels: int, detect_every: int
    ) -> None:
        self.max_pixels, self.started = max_pixels, time.perf_counter()
        self.predictor: Predictor | None = None
        self.loop: LiveLoop | None = None
        self.thread = JobThread(f"fer-serve-stream_{next(self._count)}")
        self.ended = self.thread.ended
        self.opened = self.thread.submit(self._open, make_predictor, base, detect_every)

    def _open(self, make_predictor: Callable[[], Predictor], base: Recognizer, detect_every: int) -> None:
        self.predictor = predictor = make_predictor()
        if predictor.detector is not None:
            # a stream's people are its own (ids from p1), never another connection's
            self.loop = LiveLoop(
                predictor,
                detect_every,
                base.smoothing,
                base.max_unconfirmed,
                base.local_search,
                base.classify_per_frame,
                people=base.new_people(),
            )

    def set_profile(self, profile: Profile | None) -> Future:
        """This stream's profile from its next frame on (None: the service's), set on the stream's thread."""
        return self.thread.submit(self._set_profile, profile)

    def _set_profile(self, profile: Profile | None) -> None:
        self.predictor.profile = profile

    def submit(self, index: int, data: bytes) -> Future:
        """Frame `index`'s answer, as a future: see `process`."""
        return self.thread.submit(self.process, index, data)

    def process(self, index: int, data: bytes) -> dict:
        """Frame `index`'s answer (the caller adds `server_ms` and `dropped`), or an error message."""
        try:
            image_size(data, self.max_pixels)
            image = decode(data, "frame")
        except ServeError as err:
            return {"type": "error", "frame": index, "error": err.message}
        if self.loop is None:  # `image` is grey already (decode)
            faces = self.predictor.predict(image)
        else:
            faces = self.loop.step(image)
            self.loop.hand_off()  # the answer is made: the loop's scan and searches may start
        frame = Frame("stream", index, time.perf_counter() - self.started, image, video=True)
        return {
            "type": "frame",
            "frame": index,
            "faces": face_records(frame, faces),
            "width": image.shape[1],
            "height": image.shape[0],
        }

    def close(self) -> None:
        """After the frame under way, if any: the loop's threads are joined, then this stream's thread ends."""
        self.thread.close(self._close_loop)

    def _close_loop(self) -> None:
        if self.loop is not None:
            self.loop.close()

    def join(self, timeout: float) -> bool:
        return self.thread.join(timeout)


def service_detector(options: ServeOptions) -> FaceDetector | None:
    """The detector each worker and stream gets. Haar is set for a service's frames: faces of at least
    `min_face` of the frame, sizes `scale_step` apart: coarser than infer.py's, a third of the scan's cost for
    boxes that agree to a few pixels (docs/serve.md, "Options")."""
    if options.detector == "haar":
        return HaarFaceDetector(scale_factor=options.scale_step, min_size=options.min_face)
    return make_detector(options.detector)


def decode(data: bytes, source: str) -> np.ndarray:
    """The image in grey, which is all the detector and the classifier read (no colour conversion)."""
    try:
        return decode_still(data, Path(source), grey=True)
    except UnreadableImage as err:
        raise ServeError(422, f"the image could not be read ({err}): send a complete JPEG or PNG file") from None


def png_base64(image: np.ndarray) -> str:
    ok, encoded = cv2.imencode(".png", image)
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit BGR image
        raise RuntimeError("PNG encoding failed")
    return base64.b64encode(encoded.tobytes()).decode("ascii")


def source_label(filename: str | None) -> str:
    """An uploaded file's name as a plain label: the last part of any path, printable, at most 200
    characters; "upload" when there is none. It names the records; it is never opened."""
    name = re.split(r"[\\/]", filename or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()[:200]
    return name or "upload"
