"""Who is who across a video, a stream or a folder: a person id for every face, kept for the whole source.

Each tracked face (a `Track` of the live loop, a held box of the exact loop, a face of a photo) carries an
`Identity`: the person it is taken for. The tracker keeps a face's identity from frame to frame; this module
decides whom a face is, from identity embeddings (`fer.inference.identity`, the MobileFace recognition
network), only when there is a reason to look:

- a face is new (a person enters, comes back, reappears after a cut or after being hidden): it is compared
  with everyone seen so far (and everyone enrolled in a people file) and takes the best match above the
  encoder's threshold, else it is a new person (but a face somewhat like someone out of view first waits a
  few looks with no id: an expression none of that person's kept views shows lowers their score);
- a face is in doubt: it overlapped another face (two people crossing: the tracker may have swapped them) and
  has just come apart from it, or a new face appeared next to it;
- every `recheck_every` frames, so that a swap the tracker made unseen is undone within a second or so.

Faces in doubt are assigned together (best similarities first, a small bonus for keeping one's id), so two
people who crossed get their own ids back rather than each other's. Two faces of one frame are never the same
person. Each person keeps a few embeddings (`max_exemplars`, each unlike the others: the same person smiling
and frowning), so memory grows with the number of people, not with the length of the video.
"""

from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from fer.faces.detect import Box, iou
from fer.inference.profile import Profile

# a face that keeps its id needs this much less similarity than a face taking someone else's: ids hold
# steady between checks that score a person's two close exemplars nearly alike
KEEP_BONUS = 0.05
# an embedding this similar to one a person already has adds nothing new
REDUNDANT = 0.92
# boxes nearer than this many face widths (centre to centre) are "next to" each other
NEAR = 1.5
# a new face that overlaps another is half hidden and reads as nobody: it takes a known person if it matches,
# and otherwise waits (no id yet) to be looked at again this many frames later or the frame it comes apart
HIDDEN_WAIT = 5
# a cut (or the whole view covered): the frame, shrunk to CUT_SIDE, differs from the one before by more than
# CUT_MIN grey levels on average and by CUT_RATIO times the usual difference (the ratio keeps a moving camera
# from reading as cuts; what cuts, movement and expressions measured: docs/people.md)
CUT_SIDE, CUT_MIN, CUT_RATIO = (32, 24), 4.0, 4.0
MINT_DOUBT = 60  # frames (2 s at 30 fps: two regular checks)
# a face that matches nobody above the threshold but looks somewhat like a known person out of view (at least
# LIKE_SOMEONE) may be that person showing an expression none of their kept views shows: rather than becoming
# someone new at once, it waits with no id and is looked at again every HIDDEN_WAIT frames, up to UNSURE_LOOKS
# looks, for a view that settles it (a returning person's first view, half uncovered or on an expression, can
# score well under the threshold and a few frames later well over it: docs/people.md). Waiting costs a stranger
# no more than a few frames without an id: each look still needs the threshold to match
LIKE_SOMEONE, UNSURE_LOOKS = 0.3, 4


@dataclass
class Identity:
    """One tracked face's person (None until first checked) and the state that says when to check it again."""

    person: str | None = None
    checked: int = -(10**9)  # the frame of its last check
    overlapping: bool = False  # its box overlapped another face's at its last frame
    # the person this face's own look created, and when: if a look soon after (within MINT_DOUBT frames) finds
    # it is someone already known, that person was created by mistake (a poor first view) and is merged into
    # the known one; later, a change of person is the tracker's swap, and both people are kept
    minted: str | None = None
    minted_at: int = 0
    unsure: int = 0  # looks so far that found it somewhat like someone out of view, and no id (LIKE_SOMEONE)
    doubted: str | None = None  # while unsure: the id it had before, which it gets back if no look settles it
    stale: bool = False  # a cut came since its last look: its face may be someone else's now

    @property
    def shown(self) -> str | None:
        """The id to show: none between a cut and the face's next look (a wrong name is worse than none)."""
        return None if self.stale else self.person


@dataclass
class Person:
    id: str
    exemplars: list[np.ndarray] = field(default_factory=list)
    named: bool = False  # enrolled in a people file (its id is the name)

    def similarity(self, embedding: np.ndarray) -> float:
        return max((float(e @ embedding) for e in self.exemplars), default=-1.0)

    def learn(self, embedding: np.ndarray, max_exemplars: int) -> None:
        """Keep the embedding if it shows the person in a way none of the kept ones does; when full, it
        replaces the kept one it is most like (so the set stays varied)."""
        if not self.exemplars:
            self.exemplars.append(embedding)
            return
        similar = [float(e @ embedding) for e in self.exemplars]
        if max(similar) >= REDUNDANT:
            return
        if len(self.exemplars) < max_exemplars:
            self.exemplars.append(embedding)
        elif not self.named:  # an enrolled person's embeddings are the ones enrolled
            self.exemplars[int(np.argmax(similar))] = embedding


class People:
    """Everyone seen in one source (and everyone enrolled), and the rule that gives each face its person."""

    def __init__(
        self,
        encoder,
        known: list[Person] | None = None,
        recheck_every: int = 30,
        max_exemplars: int = 8,
        threshold: float | None = None,
        profiles: dict[str, Profile] | None = None,
        new_ids: bool = True,
    ) -> None:
        self.encoder = encoder
        self.threshold = encoder.threshold if threshold is None else threshold
        self.recheck_every, self.max_exemplars = recheck_every, max_exemplars
        self.people: dict[str, Person] = {p.id: p for p in known or []}
        self._profiles = profiles or {}  # an enrolled person's calibration, applied to their face only
        self.new_ids = new_ids  # False: a face that matches nobody known stays None (a lone photo: names only)
        self._next = 1
        self.embedded = 0  # identity embeddings computed so far (what re-identification costs)
        self._thumbnail: np.ndarray | None = None  # the last frame, shrunk: what a cut is told by
        self._cut_at = -(10**9)  # the frame of the last cut
        self._differences: deque[float] = deque(maxlen=30)  # the last frames' usual change

    def profiles(self, identities: list[Identity]) -> list[Profile | None] | None:
        """Each face's own profile (None: the recognizer's), or None when nobody here has one."""
        if not self._profiles:
            return None
        return [self._profiles.get(identity.person) for identity in identities]

    def identify(
        self,
        grey: np.ndarray,
        frame: int,
        boxes: list[Box],
        identities: list[Identity],
        found: list[int] | None = None,
        once: bool = False,
    ) -> None:
        """Set each face's `person` (boxes and identities in the same order: one face each). `found`: the frame
        each box was last found by a detection (held and followed boxes are older than the frame); None: all
        found in this frame. `once`: these faces are looked at only now (a photo), so none waits for a
        better view."""
        if grey is not None and self._is_cut(grey):  # a face on an old face's box may be someone else now
            self._cut_at = frame
            for identity in identities:
                identity.minted, identity.stale = None, True
        found = [frame] * len(boxes) if found is None else found
        overlapping = [
            any(iou(box, other) > 0 for j, other in enumerate(boxes) if j != i) for i, box in enumerate(boxes)
        ]
        due = [
            i
            for i, identity in enumerate(identities)
            if self._due(i, identity, frame, boxes, identities, overlapping[i], found[i])
        ]
        for identity, overlaps in zip(identities, overlapping):
            identity.overlapping = overlaps
        if due:
            embeddings = self.encoder.embed_boxes(grey, [boxes[i] for i in due])
            self.embedded += len(due)
            # faces not looked at now hold their people, except those a cut has made doubtful: their person
            # may be one of the faces looked at now, and they get one again at their own look
            held = {identities[i].person for i in range(len(identities)) if i not in due and not identities[i].stale}
            held -= {None}
            self._assign(
                [identities[i] for i in due],
                np.asarray(embeddings, np.float32),
                held,
                hidden=[overlapping[i] for i in due],
                frame=frame,
                once=once,
            )
            for i in due:
                identities[i].checked, identities[i].stale = frame, False

    def _is_cut(self, grey: np.ndarray) -> bool:
        thumbnail = cv2.resize(grey, CUT_SIDE, interpolation=cv2.INTER_AREA).astype(np.float32)
        previous, self._thumbnail = self._thumbnail, thumbnail
        if previous is None or previous.shape != thumbnail.shape:
            return False
        difference = float(np.abs(thumbnail - previous).mean())
        usual = float(np.median(self._differences)) if self._differences else 0.0
        self._differences.append(difference)
        return difference > max(CUT_MIN, CUT_RATIO * usual)

    def _due(
        self,
        i: int,
        identity: Identity,
        frame: int,
        boxes: list[Box],
        identities: list[Identity],
        overlapping_now: bool,
        found: int,
    ) -> bool:
        if identity.person is None:  # new; one half hidden by another, or unsure, is looked at every few frames
            return (not overlapping_now and not identity.unsure) or frame - identity.checked >= HIDDEN_WAIT
        if identity.checked < self._cut_at:  # a cut since its last look: look once a detection has found its box
            return found >= self._cut_at  # after the cut (a box held from before it may hold anyone now)
        if overlapping_now:  # a face half hidden by another reads as neither: wait until they part
            return False
        if identity.overlapping:  # just came apart from another face
            return True
        new_nearby = any(
            other.person is None and _near(boxes[i], boxes[j]) for j, other in enumerate(identities) if j != i
        )
        return new_nearby or frame - identity.checked >= self.recheck_every

    def _assign(
        self,
        identities: list[Identity],
        embeddings: np.ndarray,
        held: set[str],
        hidden: list[bool],
        frame: int,
        once: bool = False,
    ) -> None:
        """Best matches first: each face takes the person it is most like (at least the threshold; its own
        id gets KEEP_BONUS), no person twice; a face left over keeps its id if free, else is someone new (a
        new face half hidden by another (`hidden`) is nobody yet: it waits for a clear view; so does a face
        somewhat like someone out of view, for up to UNSURE_LOOKS looks)."""
        candidates = [p for p in self.people.values() if p.id not in held]
        similar = np.array([[p.similarity(e) for p in candidates] for e in embeddings]).reshape(
            len(identities), len(candidates)
        )
        own = np.array([[p.id == identity.person for p in candidates] for identity in identities], bool)
        scores = similar + KEEP_BONUS * own.reshape(similar.shape)
        taken: set[str] = set(held)
        settled: dict[int, str] = {}
        for flat in np.argsort(-scores, axis=None):
            face, person = divmod(int(flat), len(candidates))
            if scores[face, person] < self.threshold:
                break
            if face in settled or candidates[person].id in taken:
                continue
            settled[face] = candidates[person].id
            taken.add(candidates[person].id)
        for face, (identity, embedding) in enumerate(zip(identities, embeddings)):
            person = settled.get(face)
            if person is None:
                # how like this face is each person out of view (no face of this frame is them)
                out_of_view = {c.id: similar[face, k] for k, c in enumerate(candidates) if c.id not in taken}
                previous = identity.person or identity.doubted
                free = previous in out_of_view and previous in self.people  # (a merged person is gone)
                # its own id is free, but it looks more like someone out of view: a tracker's swap, perhaps
                rival = max((v for k, v in out_of_view.items() if k != previous), default=-1.0)
                doubtful = free and rival >= LIKE_SOMEONE and rival > out_of_view[previous] + KEEP_BONUS
                keep = free and (not doubtful or identity.unsure >= UNSURE_LOOKS)
                like_someone = max(out_of_view.values(), default=-1.0) >= LIKE_SOMEONE
                unsure = not once and not keep and identity.unsure < UNSURE_LOOKS and like_someone
                identity.unsure = identity.unsure + 1 if unsure else 0
                identity.doubted = previous if unsure else None
                may_mint = self.new_ids and not unsure and not (hidden[face] and identity.person is None)
                person = previous if keep else self._new_person() if may_mint else None
                if person is not None and not keep:
                    identity.minted, identity.minted_at = person, frame
                taken.add(person)
            elif identity.minted not in (None, person):
                if frame - identity.minted_at <= MINT_DOUBT:
                    self._merge(identity.minted, person, held | taken)
                identity.minted = None
            if face in settled:
                identity.unsure, identity.doubted = 0, None
            identity.person = person
            if person is not None:
                self.people[person].learn(embedding, self.max_exemplars)

    def _merge(self, mistaken: str, known: str, in_use: set[str]) -> None:
        """A person a face's poor first view created turned out to be `known`: `known` learns its views and
        the mistaken person is removed (unless another face is that person now)."""
        if mistaken in in_use or mistaken not in self.people or self.people[mistaken].named:
            return
        for embedding in self.people.pop(mistaken).exemplars:
            self.people[known].learn(embedding, self.max_exemplars)

    def _new_person(self) -> str:
        while f"p{self._next}" in self.people:
            self._next += 1
        person = Person(f"p{self._next}")
        self.people[person.id] = person
        return person.id


def _near(a: Box, b: Box) -> bool:
    (ax, ay, aw, ah), (bx, by, bw, bh) = a, b
    distance = np.hypot(ax + aw / 2 - bx - bw / 2, ay + ah / 2 - by - bh / 2)
    return distance < NEAR * max(aw, bw)
