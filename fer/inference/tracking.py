"""Live-video helpers: which boxes each frame classifies, and smoothing of each face's probabilities.

Two loops, one per kind of source:

- `LiveFaces` (video files, by default): the detector runs on the frame itself every N frames and
  boxes are held in between. Every frame waits for its own detection, so a file gives the same
  records on every run and every machine.
- `TrackedFaces` (cameras and streams, and video files with `realtime=true`): no frame waits for a
  detection. The detector scans whole frames on its own thread, a second thread follows each known
  face with a cheap search in a window around its last box (`LocalSearch`), both `BackgroundWorker`s;
  the frame loop only classifies the tracked boxes of every frame, merging scans (by box overlap)
  and searches as they finish. A face no detection has confirmed for `max_unconfirmed` frames is dropped.
  The threads get a frame's work from `hand_off()`, between frames (after drawing), not during one.

Faces are matched from frame to frame by box overlap (IoU); a matched face's probabilities are an
exponential moving average, so labels do not flicker from one frame to the next.
"""

import os
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import cv2
import numpy as np

from fer.errors import BadValue
from fer.faces.detect import Box, FaceDetector, HaarFaceDetector, iou
from fer.inference.people import Identity, People
from fer.inference.predictor import FacePrediction, Predictor
from fer.inference.profile import RunningReference


def smooth(previous: np.ndarray | None, probs: np.ndarray, smoothing: float) -> np.ndarray:
    """Exponential moving average of one face's probabilities (previous None: the face is new)."""
    if previous is None or not smoothing:
        return probs
    mixed = smoothing * previous + (1 - smoothing) * probs
    return mixed / mixed.sum()


def check_live_options(detect_every: int, smoothing: float, max_unconfirmed: int = 1,
                       classify_per_frame: int = 0) -> None:
    if detect_every < 1 or not 0 <= smoothing < 1 or max_unconfirmed < 1 or classify_per_frame < 0:
        raise BadValue(f"detect_every={detect_every}, smoothing={smoothing}, max_unconfirmed={max_unconfirmed}, "
                       f"classify_per_frame={classify_per_frame}: detect_every and max_unconfirmed must be >= 1, "
                       "classify_per_frame >= 0 and smoothing in [0, 1)")


@dataclass
class HeldFace:
    """What the exact loop carries for a face from frame to frame, by its last box."""

    box: Box
    probs: np.ndarray | None = None  # its smoothed probabilities as of the last frame (None: new)
    reference: RunningReference = field(default_factory=RunningReference)  # baseline=auto
    identity: Identity = field(default_factory=Identity)  # who it is (people)


class LiveFaces:
    """The exact loop: detect on the frame itself every `detect_every` frames, hold boxes in between."""

    def __init__(self, predictor: Predictor, detect_every: int = 1, smoothing: float = 0.0, min_iou: float = 0.3,
                 people: People | None = None):
        check_live_options(detect_every, smoothing)
        self.predictor, self.detect_every, self.smoothing, self.min_iou = predictor, detect_every, smoothing, min_iou
        self.people = people
        self._frames = 0
        self._detected_at = 0  # the frame the held faces' boxes were detected in
        self._held: list[HeldFace] = []

    def step(self, grey: np.ndarray) -> list[FacePrediction]:
        frame = self._frames
        if frame % self.detect_every == 0:  # new boxes: each takes over the face it continues (between: held)
            self._held, self._detected_at = self._follow(self.predictor.detect(grey)), frame
        self._frames += 1
        held, boxes = self._held, [face.box for face in self._held]
        identities = [face.identity for face in held]
        if self.people is not None:
            self.people.identify(grey, frame, boxes, identities, found=[self._detected_at] * len(held))
        references = [face.reference for face in held] if self.predictor.baseline is not None else None
        profiles = self.people.profiles(identities) if self.people is not None else None
        faces = self.predictor.classify_boxes(grey, boxes, references=references, profiles=profiles)
        for face, predicted in zip(held, faces):
            face.probs = smooth(face.probs, predicted.probs, self.smoothing)
        return [FacePrediction(face.box, face.probs, face.identity.shown) for face in held]

    def hand_off(self) -> None:
        """Nothing runs beside the exact loop (see `TrackedFaces.hand_off`)."""

    def close(self) -> None:
        pass

    def _follow(self, boxes: list[Box]) -> list[HeldFace]:
        """Each new box takes over what the held face it overlaps most carried (each face's once, most overlap
        first); a box that overlaps none enough is a new face."""
        pairs = sorted(((iou(old.box, box), i, j) for i, box in enumerate(boxes)
                        for j, old in enumerate(self._held)), reverse=True)
        kept: list[HeldFace | None] = [None] * len(boxes)
        used: set[int] = set()
        for overlap, i, j in pairs:
            if overlap < self.min_iou:
                break
            if kept[i] is None and j not in used:
                used.add(j)
                kept[i] = self._held[j]
                kept[i].box = tuple(boxes[i])
        return [face or HeldFace(tuple(box)) for face, box in zip(kept, boxes)]


class BackgroundWorker:
    """Runs `work(job)` on its own thread, one job at a time: the full-frame detector, or window searches.

    `submit` hands it a job when it is idle (a busy worker refuses, so it always works on a recent
    frame); `poll` returns the result of the last finished job once, with the index of the frame it
    belongs to. OpenCV and ONNX Runtime release the GIL while they compute, so the work runs beside
    the frame loop on the other core.
    """

    def __init__(self, work: Callable[[Any], Any], name: str) -> None:
        self.work = work
        self._job: tuple[int, Any] | None = None
        self._result: tuple[int, Any] | None = None
        self._error: BaseException | None = None
        self._busy = False
        self._closed = False
        self._condition = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, index: int, job: Any) -> bool:
        with self._condition:
            if self._busy or self._closed:
                return False
            self._job, self._busy = (index, job), True
            self._condition.notify_all()
            return True

    def poll(self) -> tuple[int, Any] | None:
        with self._condition:
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            result, self._result = self._result, None
            return result

    def wait(self, timeout_s: float = 5.0) -> None:
        """Block until the job under way (if any) has finished: for tests and shutdown."""
        with self._condition:
            self._condition.wait_for(lambda: not self._busy or self._closed, timeout=timeout_s)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        _lower_this_threads_priority()
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._job is not None or self._closed)
                if self._closed:
                    return
                (index, job), self._job = self._job, None
            try:
                result, error = self.work(job), None
            except Exception as err:  # handed to the frame loop by poll(), not lost on this thread
                result, error = None, err
            with self._condition:
                self._result = (index, result) if error is None else None
                self._error, self._busy = error, False
                self._condition.notify_all()


def _lower_this_threads_priority(niceness: int = 10) -> None:
    """Where the OS allows it (Linux: a thread is a task of its own), the scheduler prefers the frame loop
    to the scan when both want the same core."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError):  # no per-thread priority here (macOS, Windows): the scan runs at the same priority
        pass


class OpenCVOneThread:
    """OpenCV's thread count is one setting for the whole process: it is 1 while any live loop is open, and
    the setting from before the first one comes back when the last one closes (a server's streams open and
    close in any order)."""

    def __init__(self) -> None:
        self._lock, self._open, self._saved = threading.Lock(), 0, 0

    def enter(self) -> None:
        with self._lock:
            if self._open == 0:
                self._saved = cv2.getNumThreads()
                cv2.setNumThreads(1)
            self._open += 1

    def leave(self) -> None:
        with self._lock:
            self._open -= 1
            if self._open == 0:
                cv2.setNumThreads(self._saved)


_opencv_one_thread = OpenCVOneThread()


@dataclass
class LocalSearch:
    """Finds a known face again in a window around its last box, at a small scale.

    The window grows the box by `window` of its side on each side and is shrunk so the face in it
    is `face_px` pixels wide; a Haar cascade set for faces of about that size then scans a ~60 px
    image instead of a frame: a fraction of a millisecond. Haar whatever the full-frame detector is:
    it is the cheapest at this size, and the full-frame detector (a user's object, say) is never
    called from two threads at once. Of the faces found, the one of a similar size nearest the old
    box's centre gives the face's new centre; the box keeps its size, which full scans set, so
    crops stay as tight as the detector's full-frame boxes that training used.
    """

    # measured on moving faces (bench/latency.py's videos): 0.5-0.7 ms a face, found in 115-119 of
    # 119 frames; a 32 px face in a 1.8x window cost 1.1-1.2 ms for no more faces found
    window: float = 0.35
    face_px: int = 24  # the Haar cascade's own template size
    max_size_change: float = 1.25  # a new box more than this many times larger or smaller is another face

    def __post_init__(self) -> None:
        fill = 1 / (1 + 2 * self.window)  # the face's share of the window's side
        # a window holds one face, so fewer neighbours than a full scan keep it found while it moves
        self.detector = HaarFaceDetector(min_neighbors=2, min_size=fill / self.max_size_change,
                                         max_size=min(1.0, fill * self.max_size_change),
                                         max_side=int(round(self.face_px / fill)))

    def find(self, grey: np.ndarray, box: Box) -> Box | None:
        x, y, w, h = box
        side = max(w, h) * (1 + 2 * self.window)
        cx, cy = x + w / 2, y + h / 2
        x0, y0 = max(0, int(cx - side / 2)), max(0, int(cy - side / 2))
        x1, y1 = min(grey.shape[1], int(cx + side / 2)), min(grey.shape[0], int(cy + side / 2))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        scale = min(1.0, self.face_px / max(w, h))
        window = grey[y0:y1, x0:x1]
        if scale < 1:
            window = cv2.resize(window, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        candidates = [(x0 + bx / scale, y0 + by / scale, bw / scale, bh / scale)
                      for bx, by, bw, bh in self.detector.detect(window)]
        candidates = [c for c in candidates if 1 / self.max_size_change <= c[2] / w <= self.max_size_change]
        if not candidates:
            return None
        bx, by, bw, bh = min(candidates, key=lambda c: (c[0] + c[2] / 2 - cx) ** 2 + (c[1] + c[3] / 2 - cy) ** 2)
        return int(round(bx + bw / 2 - w / 2)), int(round(by + bh / 2 - h / 2)), w, h


@dataclass
class Track:
    box: Box
    confirmed: int  # the last frame a detection (full scan or local search) found this face in
    # the loop's frame when the track was made: a scan slower than max_unconfirmed frames (a loaded
    # machine, a busy server) still gives its new faces their full grace period
    born: int = 0
    probs: np.ndarray | None = None  # its smoothed probabilities as of its last classification
    classified: int = -1  # the frame of that classification
    mirror_next: bool = False  # which view of the face its next classification takes (alternating flip)
    reference: RunningReference = field(default_factory=RunningReference)  # its own, for baseline=auto
    identity: Identity = field(default_factory=Identity)  # who it is (people)


class TrackedFaces:
    """The live loop: no frame waits for a full-frame detection (see the module's docstring).

    Every `detect_every` frames (or as soon as the previous scan is done, if later) the newest frame
    goes to the background detector. The first frames have no face until the first scan returns.
    """

    def __init__(self, predictor: Predictor, detect_every: int = 3, smoothing: float = 0.0,
                 max_unconfirmed: int = 10, local_search: bool = True, classify_per_frame: int = 2,
                 min_iou: float = 0.3, searches_per_frame: int = 2, people: People | None = None):
        check_live_options(detect_every, smoothing, max_unconfirmed, classify_per_frame)
        self.people = people
        if predictor.detector is None:
            raise BadValue("the live loop needs a face detector (detector=none classifies whole frames)")
        self.predictor, self.detect_every, self.smoothing = predictor, detect_every, smoothing
        self.max_unconfirmed, self.min_iou, self.searches_per_frame = max_unconfirmed, min_iou, searches_per_frame
        self.classify_per_frame = classify_per_frame
        # OpenCV's parallel loops would spread each scan over every core and stall the frame loop beside
        # it: while the live loop runs, OpenCV runs one thread (the scan one core, the frame loop the
        # other; one A/B on the noisy 2-core test machine: p95 6.7 against 10.7 ms). Restored by close().
        _opencv_one_thread.enter()
        self._closed = False
        self.background = BackgroundWorker(predictor.detector.detect, "fer-face-detector")
        self.search = LocalSearch() if local_search else None
        self._frame_search: LocalSearch | None = None  # the frame path's own, made when first needed (_merge)
        # window searches take ~1 ms a face: on a thread of their own they leave the frame path too
        # (a search's result lands a frame or two later; faces move a few pixels in that time)
        self.follower = BackgroundWorker(self._search, "fer-face-follower") if local_search else None
        self.tracks: list[Track] = []
        self._frame = -1
        self._last_submit = -detect_every
        self._pending: np.ndarray | None = None  # the frame whose scan and searches await hand_off()

    def step(self, grey: np.ndarray) -> list[FacePrediction]:
        """This frame's faces. Its scan and window searches wait for `hand_off()`, which the caller makes
        once it has drawn the frame (or the next step makes, if the caller doesn't)."""
        self.hand_off()  # the last frame's work, if its caller did not hand it off
        self._frame += 1
        self._pending = grey
        scan = self.background.poll()
        if scan is not None:
            self._merge(*scan, grey)
        if self.follower is not None:
            self._adopt_searches()
        self._prune()
        tracks = self.tracks[:1] if self.predictor.faces == "largest" else self.tracks
        if self.people is not None:
            self.people.identify(grey, self._frame, [t.box for t in tracks], [t.identity for t in tracks],
                                 found=[t.confirmed for t in tracks])
        due = self._due(tracks)
        # test-time flip in video: a face and its mirror image on alternate classifications, which the
        # smoothing averages (one pass a face instead of two: ~1 ms less a frame). Without smoothing
        # nothing would average them, so each classification takes both views.
        alternate = self.predictor.tta_flip and self.smoothing > 0
        mirrored = [t.mirror_next for t in due] if alternate else None
        references = [t.reference for t in due] if self.predictor.baseline is not None else None
        profiles = self.people.profiles([t.identity for t in due]) if self.people is not None else None
        for track, face in zip(due, self.predictor.classify_boxes(grey, [t.box for t in due], mirrored, references,
                                                                  profiles)):
            track.probs, track.classified = smooth(track.probs, face.probs, self.smoothing), self._frame
            track.mirror_next = alternate and not track.mirror_next
        return [FacePrediction(tuple(t.box), t.probs, t.identity.shown) for t in tracks]

    def hand_off(self) -> None:
        """Give the threads the last frame's full scan (when one is due) and window searches.

        Called between frames, once the frame is drawn, while the loop waits for the camera: a thread
        woken in the middle of a frame takes the CPU and the GIL from it. Measured on the 2-core test
        machine (640x480, one face, 30 fps): handing off inside `step` gave p50 / p95 3.98-4.41 / 5.5-7.8 ms
        a frame, frames that started a scan ~1 ms slower; handing off after drawing 3.49-3.75 / 4.4-4.6."""
        if self._pending is None:
            return
        grey, self._pending = self._pending, None
        if self._frame - self._last_submit >= self.detect_every and self.background.submit(self._frame, grey):
            self._last_submit = self._frame
        if self.follower is not None:
            self._submit_searches(grey)

    def _due(self, tracks: list[Track]) -> list[Track]:
        """The faces this frame classifies: new faces, then those classified longest ago, at most
        `classify_per_frame` in all (0: every face). The others show their last probabilities at their
        current box: with five faces a frame costs two faces' classification, and each face is still
        classified every few frames (12 times a second at 30 fps with the default of 2)."""
        if not self.classify_per_frame:
            return tracks
        new = [t for t in tracks if t.probs is None]
        seen = sorted((t for t in tracks if t.probs is not None), key=lambda t: t.classified)
        return new + seen[:max(0, self.classify_per_frame - len(new))]

    def close(self) -> None:
        if self._closed:
            return
        self._closed, self._pending = True, None
        self.background.close()
        if self.follower is not None:
            self.follower.close()
        _opencv_one_thread.leave()

    def _merge(self, index: int, boxes: list[Box], grey: np.ndarray) -> None:
        """A finished full scan of frame `index`: confirm the tracks it found, start tracks for new faces.
        A new face from a scan more than a frame old is first looked for again in this frame (a window search
        on the frame path, ~1 ms, only then), so that a slow scan does not show a face where it was frames ago."""
        unmatched = list(self.tracks)
        for box in boxes:
            best = max(unmatched, key=lambda t: iou(t.box, box), default=None)
            if best is not None and iou(best.box, box) >= self.min_iou:
                unmatched.remove(best)
                if best.confirmed < index:  # the scan is newer than the track's own last sighting
                    best.box, best.confirmed = tuple(box), index
                else:  # the window search saw it since: keep that centre, take the scan's size
                    x, y, w, h = best.box
                    best.box = (int(round(x + (w - box[2]) / 2)), int(round(y + (h - box[3]) / 2)), box[2], box[3])
            else:
                box, confirmed = tuple(box), index
                moved = self._find_again(grey, box) if self._frame - index > 1 else None
                if moved is not None:
                    box, confirmed = moved, self._frame
                self.tracks.append(Track(box, confirmed, born=self._frame))

    def _find_again(self, grey: np.ndarray, box: Box) -> Box | None:
        """`box`'s face in this frame, on the frame path: with a cascade of its own, since the follower's
        may be searching at the same moment. None without local search or where it is not found."""
        if self.search is None:
            return None
        if self._frame_search is None:
            self._frame_search = LocalSearch()
        return self._frame_search.find(grey, box)

    def _adopt_searches(self) -> None:
        """The boxes of the window searches that finished, unless a newer scan has confirmed the track since."""
        found = self.follower.poll()
        if found is not None:
            index, results = found
            for track, box in results:
                if box is not None and track.confirmed < index:
                    track.box, track.confirmed = box, index

    def _submit_searches(self, grey: np.ndarray) -> None:
        """Hand the follower this frame's searches for the faces seen longest ago, at most
        `searches_per_frame` a job: with many faces each is searched every few frames, and each search's
        result stays fresh."""
        oldest = sorted(self.tracks, key=lambda t: t.confirmed)[:self.searches_per_frame]
        if oldest:
            self.follower.submit(self._frame, (grey, [(track, track.box) for track in oldest]))

    def _search(self, job: tuple[np.ndarray, list[tuple[Track, Box]]]) -> list[tuple[Track, Box | None]]:
        """On the follower's thread: each face's box found again in `grey` (None where it was not)."""
        grey, searches = job
        return [(track, self.search.find(grey, box)) for track, box in searches]

    def _prune(self) -> None:
        """Drop faces no detection has confirmed for too long (a new face: counted from when its track was
        made) and tracks that ended up on the same face; largest first."""
        alive = [t for t in self.tracks if self._frame - max(t.confirmed, t.born) <= self.max_unconfirmed]
        alive.sort(key=lambda t: t.confirmed, reverse=True)  # on overlap, keep the freshest sighting
        kept: list[Track] = []
        for track in alive:
            if all(iou(track.box, other.box) < 0.5 for other in kept):
                kept.append(track)
        self.tracks = sorted(kept, key=lambda t: t.box[2] * t.box[3], reverse=True)
