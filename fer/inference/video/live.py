"""The live loop (cameras and streams, and video files with `realtime=true`): no frame waits for a
detection. The detector scans whole frames on its own thread, a second thread follows each known face with a
cheap search in a window around its last box (`LocalSearch`), both `BackgroundWorker`s; the frame loop only
classifies the tracked boxes of every frame, merging scans (by box overlap) and searches as they finish. A
face no detection has confirmed for `max_unconfirmed` frames is dropped. The threads get a frame's work from
`hand_off()`, between frames (after drawing), not during one."""

from dataclasses import dataclass, field

import numpy as np

from fer.errors import BadValue
from fer.faces.detect import Box, iou
from fer.inference.people import Identity, People
from fer.inference.predictor import FacePrediction, Predictor
from fer.inference.profile import RunningReference
from fer.inference.video.options import check_live_options
from fer.inference.video.search import LocalSearch
from fer.inference.video.smoothing import smooth
from fer.inference.video.workers import BackgroundWorker, opencv_one_thread


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


class LiveLoop:
    """The live loop: no frame waits for a full-frame detection (see the module's docstring).

    Every `detect_every` frames (or as soon as the previous scan is done, if later) the newest frame
    goes to the background detector. The first frames have no face until the first scan returns.
    """

    def __init__(
        self,
        predictor: Predictor,
        detect_every: int = 3,
        smoothing: float = 0.0,
        max_unconfirmed: int = 10,
        local_search: bool = True,
        classify_per_frame: int = 2,
        min_iou: float = 0.3,
        searches_per_frame: int = 2,
        people: People | None = None,
    ):
        check_live_options(detect_every, smoothing, max_unconfirmed, classify_per_frame)
        self.people = people
        if predictor.detector is None:
            raise BadValue("the live loop needs a face detector (detector=none classifies whole frames)")
        self.predictor, self.detect_every, self.smoothing = predictor, detect_every, smoothing
        self.max_unconfirmed, self.min_iou, self.searches_per_frame = max_unconfirmed, min_iou, searches_per_frame
        self.classify_per_frame = classify_per_frame
        # OpenCV's parallel loops would spread each scan over every core and stall the frame loop beside
        # it: while the live loop runs, OpenCV runs one thread (the scan one core, the frame loop the
        # other; measured: docs/inference.md, the live loop). Restored by close().
        opencv_one_thread.enter()
        self._closed = False
        self.background = BackgroundWorker(predictor.detector.detect, "fer-face-detector")
        self.search = LocalSearch() if local_search else None
        self._frame_search: LocalSearch | None = None  # the frame path's own, made when first needed (_merge)
        # window searches (their cost a face: docs/inference.md) on a thread of their own leave the frame path too
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
            self.people.identify(
                grey,
                self._frame,
                [t.box for t in tracks],
                [t.identity for t in tracks],
                found=[t.confirmed for t in tracks],
            )
        due = self._due(tracks)
        # test-time flip in video: a face and its mirror image on alternate classifications, which the
        # smoothing averages (one pass a face instead of two; the time saved: docs/inference.md). Without smoothing
        # nothing would average them, so each classification takes both views.
        alternate = self.predictor.tta_flip and self.smoothing > 0
        mirrored = [t.mirror_next for t in due] if alternate else None
        references = [t.reference for t in due] if self.predictor.baseline is not None else None
        profiles = self.people.profiles([t.identity for t in due]) if self.people is not None else None
        for track, face in zip(
            due, self.predictor.classify_boxes(grey, [t.box for t in due], mirrored, references, profiles)
        ):
            track.probs, track.classified = smooth(track.probs, face.probs, self.smoothing), self._frame
            track.mirror_next = alternate and not track.mirror_next
        return [FacePrediction(tuple(t.box), t.probs, t.identity.shown) for t in tracks]

    def hand_off(self) -> None:
        """Give the threads the last frame's full scan (when one is due) and window searches.

        Called between frames, once the frame is drawn, while the loop waits for the camera: a thread
        woken in the middle of a frame takes the CPU and the GIL from it (handing off here instead of inside
        `step`, measured: docs/inference.md, what brought the live loop down)."""
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
        return new + seen[: max(0, self.classify_per_frame - len(new))]

    def close(self) -> None:
        if self._closed:
            return
        self._closed, self._pending = True, None
        self.background.close()
        if self.follower is not None:
            self.follower.close()
        opencv_one_thread.leave()

    def _merge(self, index: int, boxes: list[Box], grey: np.ndarray) -> None:
        """A finished full scan of frame `index`: confirm the tracks it found, start tracks for new faces.
        A new face from a scan more than a frame old is first looked for again in this frame (a window search
        on the frame path, only then), so that a slow scan does not show a face where it was frames ago."""
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
        oldest = sorted(self.tracks, key=lambda t: t.confirmed)[: self.searches_per_frame]
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
