"""Where frames come from: an image, a folder of images, a video file or stream, or a camera.

Every source yields `Frame`s. An unreadable file yields a frame with `error` set instead of
stopping the run. Cameras and streams are read on their own thread that keeps only the newest
frame, so a slow model drops frames instead of building up lag; video files are read in order,
every frame, so outputs line up with the input, unless `realtime`: then a file plays as a camera
would show it, at its own frame rate, newest frame first.
"""

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fer.errors import BadValue, CannotOpen, MissingInput
from fer.faces.image_io import IMAGE_SUFFIXES, UnreadableImage, check_not_truncated, decode_grey, files_under

CaptureFactory = Callable[[int | str], "cv2.VideoCapture"]
log = logging.getLogger(__name__)
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}
STREAM_PREFIXES = ("rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://")


@dataclass
class Frame:
    source: str  # file name, video path or camera spec
    index: int  # frame number within the source (images: 0)
    time_s: float  # position in the video; seconds since start for cameras; 0 for images
    image: np.ndarray | None  # BGR (or grey) pixels; None when the file could not be read
    error: str | None = None
    video: bool = False  # one of a sequence of frames (video, camera, stream), not a still image
    fps: float | None = None  # the video's frame rate, where the file states one


@dataclass
class FrameSource:
    """The frames of one source, with what a progress display needs: its kind and, where known, its length."""

    frames: Iterator[Frame]
    kind: str  # images | video | camera (cameras and streams)
    total: int | None  # images in the folder, frames the video file states; None for cameras and streams

    def __iter__(self) -> Iterator[Frame]:
        return self.frames

    def __next__(self) -> Frame:
        return next(self.frames)


def open_frames(spec: str, capture_factory: CaptureFactory = cv2.VideoCapture, realtime: bool = False) -> FrameSource:
    """`webcam`, `webcam:N`, an image, a folder (recursive, linked folders followed), or anything
    cv2.VideoCapture opens. `realtime`: a video file plays at its frame rate, frames the consumer is
    too slow for are dropped (as with a camera)."""
    spec = str(spec)
    if spec == "webcam" or spec.startswith("webcam:"):
        index = _camera_index(spec)
        capture = _open_capture(capture_factory, index, f"camera {index} (source={spec})")
        return FrameSource(camera_frames(capture, spec), "camera", None)
    path = Path(spec).expanduser()
    if path.is_dir():
        return _folder(path)
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        return FrameSource(image_frames([path]), "images", 1)
    if path.is_file():
        capture = _open_capture(capture_factory, str(path), f"video file {path}")
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        frames = camera_frames(PacedCapture(capture), str(path)) if realtime else video_frames(capture, str(path))
        return FrameSource(frames, "video", count if count > 0 else None)
    if spec.startswith(STREAM_PREFIXES):
        return FrameSource(camera_frames(_open_capture(capture_factory, spec, f"stream {spec}"), spec), "camera", None)
    raise MissingInput(
        f"source={spec}: no such file or folder (use webcam, webcam:N, an image, a folder, "
        "a video file or a stream URL)"
    )


def _camera_index(spec: str) -> int:
    index = spec.partition(":")[2] or "0"
    if not index.isdigit():
        raise BadValue(f"source={spec}: a camera is webcam or webcam:N with N its number (0, 1, ...)")
    return int(index)


def _folder(path: Path) -> FrameSource:
    """The images of a folder; its video files are not played (name one as source= to run it)."""
    files = files_under(path)
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        videos = [p.name for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
        hint = (
            f"; it holds video files ({', '.join(videos[:3])}): pass one as source=<file>"
            if videos
            else f" ({len(files)} file(s), none with an image suffix: {', '.join(sorted(IMAGE_SUFFIXES))})"
        )
        raise MissingInput(f"source={path}: the folder holds no image{hint}")
    if len(images) < len(files):
        others = len(files) - len(images)
        log.info("source=%s: %d image(s); %d other file(s) left out (not images)", path, len(images), others)
    return FrameSource(image_frames(images), "images", len(images))


def _open_capture(factory: CaptureFactory, target, what: str):
    # OpenCV prints its own warnings for a camera it cannot open; the error below says it in one line
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        capture = factory(target)
    finally:
        cv2.utils.logging.setLogLevel(level)
    if not capture.isOpened():
        raise CannotOpen(f"source: could not open {what}: check that it exists, is connected and is not in use")
    return capture


def image_frames(paths: list[Path]) -> Iterator[Frame]:
    for path in paths:
        try:
            yield Frame(str(path), 0, 0.0, decode_still(path.read_bytes(), path))
        except (UnreadableImage, OSError) as err:
            yield Frame(str(path), 0, 0.0, None, error=str(err))


def decode_still(data: bytes, path: Path, grey: bool = False) -> np.ndarray:
    """Colour where OpenCV can decode it (for annotated copies), or grey with `grey=True` (OpenCV decodes a
    JPEG straight to grey, several times faster than decoding colour); otherwise the training
    reader's grey result, so inference accepts every file training accepts and rejects the same broken ones."""
    if not data:
        raise UnreadableImage(f"{path}: empty file")
    check_not_truncated(data, str(path))
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
    return image if image is not None else decode_grey(data, str(path))


def video_frames(capture, name: str) -> Iterator[Frame]:
    index, fps = 0, capture.get(cv2.CAP_PROP_FPS) or None
    try:
        while True:
            ok, image = capture.read()
            if not ok:
                return
            yield Frame(name, index, capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, image, video=True, fps=fps)
            index += 1
    finally:
        capture.release()


def camera_frames(capture, name: str, timeout_s: float = 5.0) -> Iterator[Frame]:
    reader = LatestFrameReader(capture)
    reader.start()
    start = time.monotonic()
    try:
        while True:
            item = reader.next_frame(timeout_s)
            if item is None:  # the camera or stream stopped delivering frames
                return
            index, image = item
            yield Frame(name, index, time.monotonic() - start, image, video=True)
    finally:
        reader.stop()


class PacedCapture:
    """A video file's capture that delivers each frame no sooner than its time: the file plays as a camera."""

    def __init__(self, capture, default_fps: float = 30.0) -> None:
        self.capture = capture
        self.period = 1.0 / (capture.get(cv2.CAP_PROP_FPS) or default_fps)
        self._due: float | None = None

    def read(self):
        now = time.monotonic()
        self._due = now if self._due is None else self._due + self.period
        time.sleep(max(0.0, self._due - now))
        return self.capture.read()

    def release(self) -> None:
        self.capture.release()


class LatestFrameReader:
    """Reads a capture on a thread and keeps only the newest frame."""

    def __init__(self, capture) -> None:
        self.capture = capture
        self.dropped = 0
        self._latest: tuple[int, np.ndarray] | None = None
        self._ended = False
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        index = 0
        while not self._ended:
            ok, image = self.capture.read()
            with self._condition:
                if not ok:
                    self._ended = True
                else:
                    self.dropped += self._latest is not None  # the consumer never saw the previous one
                    self._latest = (index, image)
                    index += 1
                self._condition.notify_all()

    def next_frame(self, timeout_s: float) -> tuple[int, np.ndarray] | None:
        """The newest unseen frame; None once the capture has ended (or gave nothing for timeout_s)."""
        with self._condition:
            self._condition.wait_for(lambda: self._latest is not None or self._ended, timeout=timeout_s)
            item, self._latest = self._latest, None
            return item

    def stop(self) -> None:
        with self._condition:
            self._ended = True
        self._thread.join(timeout=2.0)
        self.capture.release()


def as_frame(image, rgb: bool = False) -> Frame:
    """Any accepted image input -> a Frame with BGR (or grey) pixels."""
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"image: no such file: {path}")
        return Frame(str(path), 0, 0.0, decode_still(path.read_bytes(), path))
    if isinstance(image, (bytes, bytearray, memoryview)):
        return Frame("<bytes>", 0, 0.0, decode_still(bytes(image), Path("<bytes>")))
    if isinstance(image, np.ndarray):
        pixels = image
    elif hasattr(image, "convert") and hasattr(image, "mode"):  # a PIL image, without importing PIL here
        pixels, rgb = np.asarray(image.convert("RGB")), True
    else:
        raise TypeError(f"image: expected a path, numpy array, PIL image or bytes, got {type(image).__name__}")
    if rgb and pixels.ndim == 3 and pixels.shape[2] in (3, 4):
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR if pixels.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)
    return Frame(input_name(image), 0, 0.0, pixels)


def input_name(image) -> str:
    if isinstance(image, (str, os.PathLike)):
        return str(image)
    return "<bytes>" if isinstance(image, (bytes, bytearray, memoryview)) else f"<{type(image).__name__}>"
