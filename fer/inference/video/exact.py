"""The exact loop (video files, by default): the detector runs on the frame itself every N frames and
boxes are held in between. Every frame waits for its own detection, so a file gives the same records on
every run and every machine."""

from dataclasses import dataclass, field

import numpy as np

from fer.faces.detect import Box, iou
from fer.inference.people import Identity, People
from fer.inference.predictor import FacePrediction, Predictor
from fer.inference.profile import RunningReference
from fer.inference.video.options import check_live_options
from fer.inference.video.smoothing import smooth


@dataclass
class HeldFace:
    """What the exact loop carries for a face from frame to frame, by its last box."""

    box: Box
    probs: np.ndarray | None = None  # its smoothed probabilities as of the last frame (None: new)
    reference: RunningReference = field(default_factory=RunningReference)  # baseline=auto
    identity: Identity = field(default_factory=Identity)  # who it is (people)


class ExactLoop:
    """The exact loop: detect on the frame itself every `detect_every` frames, hold boxes in between."""

    def __init__(
        self,
        predictor: Predictor,
        detect_every: int = 1,
        smoothing: float = 0.0,
        min_iou: float = 0.3,
        people: People | None = None,
    ):
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
        """Nothing runs beside the exact loop (see `LiveLoop.hand_off`)."""

    def close(self) -> None:
        pass

    def _follow(self, boxes: list[Box]) -> list[HeldFace]:
        """Each new box takes over what the held face it overlaps most carried (each face's once, most overlap
        first); a box that overlaps none enough is a new face."""
        pairs = sorted(
            ((iou(old.box, box), i, j) for i, box in enumerate(boxes) for j, old in enumerate(self._held)), reverse=True
        )
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
