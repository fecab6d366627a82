"""Per-person summaries of a video's records: who was seen when, for how long, and with which expressions.

    summary = PeopleSummary()
    for frame, faces in ...:
        summary.add(records(frame, faces), frame.image)   # or fer.summarise("run.jsonl")
    summary.write("people.csv")                           # or .json

Records are the ones `infer.py output.jsonl=...` writes; their `person` (an enrolled name, or p1, p2, ...)
says whose face it is. A face whose person is None (or a record without the key) counts as an
unassigned face: reported as such, never dropped.

Time: a sighting counts the time to the next frame of its source, at most `max_gap_s` (1 s): a cut, a
stall or dropped frames then do not count as seconds visible. The last frame of a source counts the
interval before it (a 10 fps clip of 50 frames is 5.0 s). Sources are taken one after another, as
infer.py writes them. Still images have no time: a person seen only there is summarised by sightings.

Changes of expression are counted after smoothing: a new top label counts once it has held for
`min_hold_s` (0.5 s) of the person's visible time, so a flicker of a frame or two is not a change.

Memory stays flat however long the video: running sums per person, one thumbnail, and a timeline of at
most `max_bins` time bins per person that merge pairwise (width doubles) when full.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from fer.errors import BadValue, MissingInput
from fer.faces.crop import crop_square
from fer.labels import LABELS
from fer.utils.files import write_atomic

MAX_GAP_S = 1.0  # longest time one sighting may count: longer gaps are cuts or stalls, not seeing the face
MIN_HOLD_S = 0.5  # a new top label must hold this long to count as a change of expression
MAX_BINS = 1024  # timeline bins per person: a 2 h video then has 12.8 s bins, a 10 s clip 0.1 s bins
BASE_BIN_S = 0.1  # the finest bin: a few frames of a 25 fps video
THUMB_PX = 96
UNASSIGNED = "(unassigned)"
COLUMNS = [
    "person",
    "first_seen_s",
    "last_seen_s",
    "seconds_visible",
    "sightings",
    "dominant",
    "changes",
    *(f"share_{label}" for label in LABELS),
    *(f"mean_{label}" for label in LABELS),
]


class TimeBins:
    """A person's expressions over time in at most `max_bins` bins of equal width from `origin`. When a time
    falls past the last bin, neighbouring bins are added pairwise and the width doubles, so any length fits."""

    def __init__(self, origin: float, width: float = BASE_BIN_S, max_bins: int = MAX_BINS) -> None:
        if max_bins < 2 or max_bins % 2:
            raise ValueError(f"max_bins must be an even number >= 2, got {max_bins}")
        self.origin, self.width, self.max_bins = origin, width, max_bins
        self.label_seconds = np.zeros((0, len(LABELS)))  # per bin: seconds with each top label
        self.prob_seconds = np.zeros((0, len(LABELS)))  # per bin: sum of probability x seconds

    def __len__(self) -> int:
        return len(self.label_seconds)

    def add(self, time_s: float, seconds: float, label: int, probs: np.ndarray) -> None:
        """A sighting from `time_s` for `seconds`, split over the bins it overlaps: a bin's seconds are then
        the time the person was seen in it, whatever the frame rate (no stripes from frames straddling bins)."""
        end_s = time_s + seconds
        while self._index(end_s - 1e-9) >= self.max_bins:
            self._merge_pairs()
        first, last = self._index(time_s), self._index(end_s - 1e-9)
        if last >= len(self):
            self._grow(last + 1)
        for index in range(first, last + 1):
            bin_start = self.origin + index * self.width
            part = min(end_s, bin_start + self.width) - max(time_s, bin_start)
            if part > 0:
                self.label_seconds[index, label] += part
                self.prob_seconds[index] += probs * part

    def spans(self) -> np.ndarray:
        """(bins, 2): each bin's start and end in seconds."""
        starts = self.origin + self.width * np.arange(len(self))
        return np.stack([starts, starts + self.width], axis=1)

    def _index(self, time_s: float) -> int:
        # the epsilon keeps 0.3 / 0.1 (= 2.9999...) in bin 3, where a person reading the numbers expects it
        return max(0, int(math.floor((time_s - self.origin) / self.width + 1e-9)))

    def _grow(self, needed: int) -> None:
        size = min(self.max_bins, max(needed, 2 * len(self), 16))  # doubling: few copies, small for short lives
        pad = ((0, size - len(self)), (0, 0))
        self.label_seconds = np.pad(self.label_seconds, pad)
        self.prob_seconds = np.pad(self.prob_seconds, pad)

    def _merge_pairs(self) -> None:
        self._grow(self.max_bins)
        half = self.max_bins // 2
        for sums in (self.label_seconds, self.prob_seconds):
            sums[:half] = sums.reshape(half, 2, -1).sum(axis=1)
            sums[half:] = 0
        self.width *= 2


class ChangeCounter:
    """Changes of top label after smoothing: a label becomes the person's expression once it has held for
    `min_hold_s` of visible time in a row; a return to the current expression resets the newcomer."""

    def __init__(self, min_hold_s: float = MIN_HOLD_S) -> None:
        self.min_hold_s = min_hold_s
        self.current: int | None = None
        self.changes = 0
        self._candidate: int | None = None
        self._held_s = 0.0

    def add(self, label: int, seconds: float) -> None:
        if label == self.current:
            self._candidate, self._held_s = None, 0.0
            return
        if label != self._candidate:
            self._candidate, self._held_s = label, 0.0
        self._held_s += seconds
        if self._held_s >= self.min_hold_s - 1e-9:  # 5 frames of 0.1 s are 0.5 s, whatever the float sum says
            self.changes += self.current is not None
            self.current, self._candidate, self._held_s = label, None, 0.0


class Person:
    """Running sums for one person: constant memory however long they are seen."""

    def __init__(self, name: str, time_s: float, max_bins: int, min_hold_s: float) -> None:
        self.name = name
        self.first_seen_s = self.last_seen_s = time_s
        self.seconds = 0.0
        self.sightings = 0
        self.label_seconds = np.zeros(len(LABELS))
        self.label_counts = np.zeros(len(LABELS))
        self.prob_seconds = np.zeros(len(LABELS))
        self.prob_sums = np.zeros(len(LABELS))
        self.bins = TimeBins(time_s, max_bins=max_bins)
        self.changes = ChangeCounter(min_hold_s)
        self.thumbnail: np.ndarray | None = None  # THUMB_PX square BGR crop of the largest face seen
        self.thumbnail_area = 0

    def add(self, time_s: float, seconds: float, label: int, probs: np.ndarray) -> None:
        self.first_seen_s = min(self.first_seen_s, time_s)
        self.last_seen_s = max(self.last_seen_s, time_s)
        self.seconds += seconds
        self.sightings += 1
        self.label_seconds[label] += seconds
        self.label_counts[label] += 1
        self.prob_seconds += probs * seconds
        self.prob_sums += probs
        if seconds > 0:
            self.bins.add(time_s, seconds, label, probs)
        self.changes.add(label, seconds)

    def shares(self) -> np.ndarray:
        """Share of visible time with each top label; by sightings where there was no time (still images)."""
        if self.seconds > 0:
            return _normalised(self.label_seconds, self.seconds)
        return _normalised(self.label_counts, self.sightings)

    def means(self) -> np.ndarray:
        if self.seconds > 0:
            return _normalised(self.prob_seconds, self.seconds)
        return _normalised(self.prob_sums, self.sightings)

    def row(self) -> dict:
        shares, means = self.shares(), self.means()
        return {
            "person": self.name,
            "first_seen_s": self.first_seen_s,
            "last_seen_s": self.last_seen_s,
            "seconds_visible": self.seconds,
            "sightings": self.sightings,
            "dominant": LABELS[int(np.argmax(shares))],
            "changes": self.changes.changes,
            **{f"share_{label}": float(s) for label, s in zip(LABELS, shares)},
            **{f"mean_{label}": float(m) for label, m in zip(LABELS, means)},
        }

    def keep_thumbnail(self, image: np.ndarray, box) -> None:
        x, y, w, h = (int(v) for v in box)
        if w * h <= self.thumbnail_area:
            return
        crop = square_crop(image, x, y, w, h)
        if crop is not None:
            self.thumbnail, self.thumbnail_area = crop, w * h


def square_crop(image: np.ndarray, x: int, y: int, w: int, h: int, margin: float = 0.15) -> np.ndarray | None:
    """The face box grown by `margin` on each side, square (`crop_square`: the border replicated where it leaves
    the frame), THUMB_PX wide, BGR."""
    if w <= 0 or h <= 0:
        return None
    image = image if image.ndim == 2 else image[..., :3]
    crop = crop_square(np.ascontiguousarray(image), (x, y, w, h), margin, THUMB_PX)
    return cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR) if crop.ndim == 2 else crop


def _normalised(sums: np.ndarray, total: float) -> np.ndarray:
    return sums / total if total > 0 else np.zeros_like(sums)


class PendingFrame:
    """The faces of the newest frame: their time counts once the next frame of the source says how long."""

    def __init__(self, source: str, frame: int, time_s: float) -> None:
        self.source, self.frame, self.time_s = source, frame, time_s
        self.faces: list[tuple[str | None, int, np.ndarray]] = []  # (person, top label, probabilities)


class PeopleSummary:
    """Per-person summary built record by record (`add`); `rows()`, `write(path)` and the pictures of
    fer.inference.timeline read it. Memory: constant per person (see the module's notes)."""

    def __init__(self, max_gap_s: float = MAX_GAP_S, min_hold_s: float = MIN_HOLD_S, max_bins: int = MAX_BINS) -> None:
        self.max_gap_s, self.min_hold_s, self.max_bins = max_gap_s, min_hold_s, max_bins
        self.people: dict[str, Person] = {}
        self.unassigned_faces = 0
        self.unassigned_seconds = 0.0  # face-seconds: two unassigned faces for 1 s are 2 s
        self.frames = 0
        self.sources = 0
        self.first_source: str | None = None
        self.start_s: float | None = None
        self.end_s: float | None = None
        self._pending: PendingFrame | None = None
        self._last_interval = 0.0  # between the newest two frames of the current source

    def add(self, rows: Iterable[dict], frame_image: np.ndarray | None = None) -> None:
        """Records, in the order they were written; `frame_image` (BGR or grey) is the frame they came from,
        for each person's thumbnail."""
        for row in rows:
            self._add_record(row, frame_image)

    def rows(self) -> list[dict]:
        """One dict per person, in order of first appearance."""
        return [person.row() for person in self.settled().ordered_people()]

    def ordered_people(self) -> list[Person]:
        return sorted(self.people.values(), key=lambda p: p.first_seen_s)  # stable: ties keep their order

    @property
    def unassigned(self) -> dict:
        settled = self.settled()
        return {"faces": settled.unassigned_faces, "face_seconds": settled.unassigned_seconds}

    def settled(self) -> PeopleSummary:
        """This summary with the newest frame counted (its time estimated from the interval before it). A
        copy, so that frames added later still count their real interval."""
        if self._pending is None:
            return self
        done = copy.deepcopy(self)
        done._close_pending(next_time_s=None)
        return done

    def write(self, path: str | Path) -> Path:
        """`.csv` (one row per person, then one for unassigned faces) or `.json`; written to a temporary
        file that is then renamed, so a reader never sees half a file."""
        path = Path(path)
        if path.suffix.lower() == ".csv":
            return write_atomic(path, self._csv_text())
        if path.suffix.lower() == ".json":
            return write_atomic(path, json.dumps(self._json_document(), indent=1) + "\n")
        raise BadValue(f"output.summary={path}: name a .csv or .json file")

    # --- building ---------------------------------------------------------------------------------------

    def _add_record(self, row: dict, frame_image: np.ndarray | None) -> None:
        source, frame, time_s = str(row["source"]), int(row["frame"]), float(row["time_s"])
        pending = self._pending
        if pending is None or (pending.source, pending.frame) != (source, frame):
            self._start_frame(source, frame, time_s)
        if row.get("face") is None:
            return
        probs = _probabilities(row)
        label = LABELS.index(row["label"]) if row.get("label") in LABELS else int(np.argmax(probs))
        name = row.get("person")  # records written before people were tracked have no key: unassigned
        name = None if name is None else str(name)
        self._pending.faces.append((name, label, probs))
        if name is not None:
            person = self._person(name, time_s)
            if frame_image is not None and row.get("box"):
                person.keep_thumbnail(frame_image, row["box"])

    def _start_frame(self, source: str, frame: int, time_s: float) -> None:
        same_source = self._pending is not None and self._pending.source == source
        self._close_pending(next_time_s=time_s if same_source else None)
        if not same_source:
            self.sources += 1
            self._last_interval = 0.0
            self.first_source = self.first_source or source
        self._pending = PendingFrame(source, frame, time_s)
        self.frames += 1
        self.start_s = time_s if self.start_s is None else min(self.start_s, time_s)

    def _close_pending(self, next_time_s: float | None) -> None:
        """Count the pending frame's faces: the time to the next frame of its source (None: the source
        ended, the interval before it), at most max_gap_s."""
        pending = self._pending
        if pending is None:
            return
        if next_time_s is not None:
            self._last_interval = max(0.0, next_time_s - pending.time_s)
        seconds = min(self._last_interval, self.max_gap_s)
        for person, label, probs in pending.faces:
            if person is None:
                self.unassigned_faces += 1
                self.unassigned_seconds += seconds
            else:
                self.people[person].add(pending.time_s, seconds, label, probs)
        end = pending.time_s + seconds
        self.end_s = end if self.end_s is None else max(self.end_s, end)
        self._pending = None

    def _person(self, name: str, time_s: float) -> Person:
        if name not in self.people:
            self.people[name] = Person(name, time_s, self.max_bins, self.min_hold_s)
        return self.people[name]

    # --- files ------------------------------------------------------------------------------------------

    def _json_document(self) -> dict:
        settled = self.settled()
        return {
            "source": settled.first_source,
            "sources": settled.sources,
            "frames": settled.frames,
            "start_s": settled.start_s,
            "end_s": settled.end_s,
            "settings": {"max_gap_s": self.max_gap_s, "min_hold_s": self.min_hold_s},
            "people": [_rounded(row) for row in settled.rows()],
            "unassigned": _rounded(settled.unassigned),
        }

    def _csv_text(self) -> str:
        settled = self.settled()
        rows = [_rounded(row) for row in settled.rows()]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        writer.writerow(
            {
                "person": UNASSIGNED,
                "sightings": settled.unassigned_faces,
                "seconds_visible": round(settled.unassigned_seconds, 4),
            }
        )
        return buffer.getvalue()


def _probabilities(row: dict) -> np.ndarray:
    probs = row.get("probs")
    if not isinstance(probs, dict):
        raise BadValue(f"a face record without its seven probabilities (probs): {row['source']}, frame {row['frame']}")
    return np.array([float(probs.get(label, 0.0)) for label in LABELS])


def _rounded(row: dict, digits: int = 4) -> dict:
    return {k: round(v, digits) if isinstance(v, float) else v for k, v in row.items()}


def summarise(records: str | Path | Iterable[dict], **settings) -> PeopleSummary:
    """A `PeopleSummary` of records: a JSONL file `infer.py output.jsonl=...` wrote, or an iterable of record
    dicts. `settings`: PeopleSummary's (max_gap_s, min_hold_s, max_bins)."""
    summary = PeopleSummary(**settings)
    rows = read_jsonl(Path(records)) if isinstance(records, (str, Path)) else records
    for row in rows:
        summary.add([row])
    return summary


def merge_summaries(folder: str | Path) -> list[dict]:
    """One table of the per-person summaries under `folder` (a multirun's run folders: one video each, see
    docs/cluster.md): every `*.json` summary that infer.py's output.summary wrote, a row per person with the
    video (`source`) and its run folder (`run`) in front. Files that are not summaries are not read."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MissingInput(
            f"source={folder}: no such folder (a multirun's sweep folder, e.g. logs/infer/multiruns/<date>)"
        )
    table = []
    for path in sorted(folder.rglob("*.json")):
        if ".submitit" in path.parts:
            continue
        try:
            document = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError):
            continue
        if not isinstance(document, dict) or not {"people", "unassigned", "settings"} <= set(document):
            continue
        run = str(path.parent.relative_to(folder))
        table += [{"source": document["source"], "run": run, **row} for row in document["people"]]
    if not table:
        raise BadValue(
            f"source={folder}: no per-person summary under it (run infer.py with output.summary=summary.json)"
        )
    return table


def write_table(rows: list[dict], path: str | Path) -> Path:
    """Rows of dicts (the same keys) as `.csv` or `.json`, written whole or not at all."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return write_atomic(path, json.dumps(rows, indent=1) + "\n")
    if path.suffix.lower() != ".csv":
        raise BadValue(f"out={path}: name a .csv or .json file")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_atomic(path, buffer.getvalue())


def read_jsonl(path: Path) -> Iterable[dict]:
    """Records of a JSONL file, one at a time; a line that is not a record is named by file and line."""
    if not path.is_file():
        raise MissingInput(f"{path}: no such records file (write one with infer.py output.jsonl=<file>)")
    with open(path) as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise BadValue(f"{path}:{number}: not a JSON record ({err.msg} at column {err.colno})") from None
            if not isinstance(row, dict) or not {"source", "frame", "time_s"} <= row.keys():
                raise BadValue(f"{path}:{number}: not an infer.py record (needs source, frame, time_s)")
            if row.get("face") is not None and not isinstance(row.get("probs"), dict):
                raise BadValue(f"{path}:{number}: a face record without its seven probabilities (probs)")
            yield row
