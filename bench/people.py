"""Who is who in video, measured: person ids of `fer.Recognizer(people="auto")` against the truth.

    python bench/people.py                       # every scenario in 3 casts, both loops, 10,000-frame memory runs
    python bench/people.py --frames-scale 0.5 --casts 1 --memory-frames 2000 --out logs/bench/people-quick

Generated videos (640x480, 15 fps, written to --out) of different people's real faces: each JAFFE subject's
photos (../shared/data/jaffe), the face cut with a margin and pasted ~130 px wide on a plain background, the
photo changing among the person's expressions every 1-2 s. Where every face is, and whose it is, is known in
every frame. Without ../shared/data, drawn faces (`fer.data.synthetic_faces`) stand in; the identity network
tells few drawn people apart, so their figures say little about people. Scenarios (`SCENARIOS`), each played in
--casts casts (other people in each role, other expressions):

- crossing: two people walk across and back; each passes in front of, and hides, the other once;
- hidden: three people; a board covers the middle one for 2 s, then they are there again in place;
- leave_return: one person walks out on the right and comes back 3 s later from the left, another stays;
- cut: three people; the picture cuts twice to a new layout, each person in another's place;
- five: five people, slight motion.

Each video goes through `Recognizer(people="auto")` in the exact loop (video files' default) and the live loop
(`realtime=True`: the file plays as a camera; frames the loop is too slow for are dropped and left out of its
scores), and through a plain IoU tracker (`Recognizer(people="off")`'s boxes chained frame to frame at IoU >= 0.3,
a new id otherwise) as the baseline. Scores by `motmetrics` (IoU distance, at most 0.5): IDF1, ID switches,
fragmentations, MOTA; and re-identification: of the times a person comes back (after a crossing, a cover, leaving
the frame or a cut), the share who get back the id they held most before (on the first frame they are matched
again, and 2 s later). A face less than 80 % visible (covered, or partly out of the frame) is neither expected
nor counted against a tracker that reports it (as MOTChallenge treats occluded people); a face shown without a
person (not decided yet) counts as not found.

Then a 10,000-frame stream of two people crossing again and again through each loop (the exact loop as fast as
it goes, the live loop fed as a 30 fps camera): RSS and the register of people (people, exemplars kept) every
1,000 frames, and identity embeddings computed per frame (what re-identification costs). Markdown tables to
stdout, everything to <out>/people.json (and the tables to <out>/people.md).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fer.faces.crop import crop_square  # noqa: E402
from fer.faces.detect import Box, HaarFaceDetector, iou  # noqa: E402

DATA_DIR = Path(os.environ.get("FER_DATA_DIR", ROOT.parent / "shared" / "data"))
JAFFE = DATA_DIR / "jaffe"
FPS = 15
SIZE = (640, 480)
PATCH = 130  # side of a pasted photo, px
MARGIN = 0.15  # of the face's side, on each side of it, in the pasted photo: the face is ~100 px
FACE = int(round(PATCH / (1 + 2 * MARGIN)))
BACKGROUND, BOARD = 120, 60  # grey levels of the plain background and of the covering board
VISIBLE = 0.8  # a face is expected (and counted) from this share of its box visible
MIN_IOU = 0.5  # motmetrics' IoU distance: a box further than this is no match
CHAIN_IOU = 0.3  # the baseline's (and the loops') frame-to-frame overlap for "the same face"
SETTLE_S = 2.0  # re-identification is read again this long after a person comes back


# ---------------------------------------------------------------------------------------------------- faces


@dataclass
class Person:
    """One person of a video: their photos, each a PATCH x PATCH grey square with the face centred, FACE wide."""

    name: str
    photos: list[np.ndarray]


def jaffe_people(
    folder: Path = JAFFE, size: int = PATCH, names: list[str] | None = None, photos_each: int | None = None
) -> list[Person]:
    """JAFFE's subjects (file names: KA.HA1.29.tiff is subject KA; `names`: these only), each photo cut around
    its Haar box; `photos_each`: at most that many photos a person, spread over their expressions."""
    from fer.faces.image_io import read_grey

    detector = HaarFaceDetector()
    photos: dict[str, list[np.ndarray]] = {}
    paths = sorted(folder.glob("*.tiff"))
    if names is not None:
        paths = [p for p in paths if p.name.split(".")[0] in names]
    if photos_each is not None:
        by_person: dict[str, list[Path]] = {}
        for path in paths:
            by_person.setdefault(path.name.split(".")[0], []).append(path)
        paths = [p for group in by_person.values() for p in group[:: max(1, len(group) // photos_each)][:photos_each]]
    for path in paths:
        grey = read_grey(path)
        boxes = detector.detect(grey)
        if boxes:
            photos.setdefault(path.name.split(".")[0], []).append(crop_square(grey, boxes[0], MARGIN, size))
    return [Person(name, faces) for name, faces in sorted(photos.items())]


def drawn_people(seeds, size: int = PATCH) -> list[Person]:
    """Drawn people (`sample_identity(seed)` for each seed), each in the seven expressions at one pose: the pose
    (drawing seed) of a person is the first whose faces the Haar cascade finds, all cut with one box."""
    from fer.data.synthetic_faces import EXPRESSIONS, draw_face, sample_identity

    detector = HaarFaceDetector()
    people = []
    for seed in seeds:
        identity = sample_identity(seed)
        for pose in range(20):
            images = [
                cv2.cvtColor(draw_face(identity, e, seed=pose, size=256), cv2.COLOR_BGR2GRAY)
                for e in range(len(EXPRESSIONS))
            ]
            boxes = [b[0] for b in (detector.detect(g) for g in images) if len(b) == 1]
            if len(boxes) >= 5:
                box = tuple(int(v) for v in np.median(np.array(boxes), axis=0))
                people.append(Person(f"drawn{seed}", [crop_square(g, box, MARGIN, size) for g in images]))
                break
    return people


# ------------------------------------------------------------------------------------------------ scenarios

Place = tuple[float, float, float]  # centre x, centre y, depth (larger: in front)
Route = Callable[[float], "Place | None"]  # seconds -> where the person is, None: not in the picture


@dataclass
class Scenario:
    name: str
    title: str
    seconds: float
    paths: list[Route]  # one per person
    boards: list[Callable[[float], "tuple[int, int, int, int] | None"]] = field(default_factory=list)
    cuts: tuple[float, ...] = ()  # seconds where the picture cuts to a new layout


def _lerp(t: float, t0: float, t1: float, a: float, b: float) -> float:
    return a + (b - a) * min(1.0, max(0.0, (t - t0) / (t1 - t0)))


def _sway(x: float, y: float, phase: float, amount: float = 8.0) -> Callable[[float], Place]:
    """Standing, moving a little (a person talking, shifting weight)."""
    return lambda t: (
        x + amount * np.sin(2 * np.pi * t / 4 + phase),
        y + 0.6 * amount * np.sin(2 * np.pi * t / 3 + 2 * phase),
        0,
    )


def _walk_across(y: float, reverse: bool, period: float = 16.0) -> Callable[[float], Place]:
    """Across the frame and back (x 100 -> 540 -> 100, or the other way), in front on the way out."""

    def place(t: float) -> Place:
        phase = (t % period) / period
        forth = 100 + 440 * (2 * phase if phase < 0.5 else 2 - 2 * phase)
        x = 640 - forth if reverse else forth
        front = (phase < 0.5) != reverse
        return x, y, 1 if front else 0

    return place


def _walk_out(t: float) -> Place | None:
    """Stands, walks out on the right (t 2-6 s) and stays away."""
    return (_lerp(t, 2, 6, 200, 720), 330, 0) if t < 6 else None


def _walk_in(t: float) -> Place | None:
    """Away until 9 s, walks in from the left (9-12 s) and stands."""
    if t < 9:
        return None
    x = _lerp(t, 9, 12, -80, 250)
    return x + (8 * np.sin(2 * np.pi * (t - 12) / 4) if t >= 12 else 0), 330, 0


def _leaver(t: float) -> Place | None:
    """Stands, walks out on the right (t 2-6 s), is away 3 s, walks in from the left (9-12 s) and stands."""
    return _walk_out(t) if t < 9 else _walk_in(t)


def _cut_layout(slot_of_person: list[list[int]], segment: float) -> list[Route]:
    """People standing in three slots; every `segment` seconds the picture cuts and each takes another slot."""
    slots = [(120, 240), (320, 240), (520, 240)]

    def path(person: int) -> Route:
        def place(t: float) -> Place:
            layout = slot_of_person[min(int(t // segment), len(slot_of_person) - 1)]
            x, y = slots[layout[person]]
            return _sway(x, y, person)(t)

        return place

    return [path(p) for p in range(3)]


def _board(t: float) -> tuple[int, int, int, int] | None:
    return (230, 140, 180, 200) if 5 <= t < 7 else None


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "crossing",
            "two people cross twice, each hiding the other once",
            16,
            [_walk_across(220, False), _walk_across(240, True)],
        ),
        Scenario(
            "hidden",
            "three people, the middle one covered 5-7 s",
            14,
            [_sway(120, 240, 0.0), _sway(320, 240, 1.0), _sway(520, 240, 2.0)],
            boards=[_board],
        ),
        Scenario(
            "leave_return",
            "one walks out right (~5.5 s), back from the left 3 s later; one stays",
            16,
            [_sway(470, 130, 0.5), _leaver],
        ),
        Scenario(
            "stranger",
            "one walks out right (~5.5 s), someone else walks in from the left 3 s later; one stays",
            16,
            [_sway(470, 130, 0.5), _walk_out, _walk_in],
        ),
        Scenario(
            "cut",
            "three people, cuts at 5 s and 10 s to layouts with everyone moved",
            15,
            _cut_layout([[0, 1, 2], [1, 2, 0], [2, 0, 1]], 5.0),
            cuts=(5.0, 10.0),
        ),
        Scenario(
            "five",
            "five people, slight motion",
            10,
            [
                _sway(120, 130, 0.0),
                _sway(320, 130, 0.7),
                _sway(520, 130, 1.4),
                _sway(220, 350, 2.1),
                _sway(420, 350, 2.8),
            ],
        ),
    )
}
# which of the ten people each scenario casts (different people side by side; the scenarios vary who)
CASTING = {
    "crossing": [0, 1],
    "hidden": [2, 3, 4],
    "leave_return": [5, 6],
    "stranger": [1, 3, 5],
    "cut": [7, 8, 9],
    "five": [0, 2, 4, 6, 8],
}


@dataclass
class Truth:
    person: str
    box: Box  # the face's box, clipped to the frame
    visible: float  # share of its box that shows (not covered, not out of the frame)


def render(
    scenario: Scenario,
    people: list[Person],
    scale: float = 1.0,
    size: tuple[int, int] = SIZE,
    fps: int = FPS,
    seed: int = 0,
) -> Iterator[tuple[np.ndarray, list[Truth]]]:
    """The scenario's frames (BGR) with the truth of each; `scale` < 1 plays it faster in fewer frames."""
    frames = int(round(scenario.seconds * fps * scale))
    schedules = [
        _expressions(len(p.photos), scenario.seconds, np.random.default_rng([seed, k])) for k, p in enumerate(people)
    ]
    for index in range(frames):
        t = index / (fps * scale)
        places = [(k, path(t)) for k, path in enumerate(scenario.paths[: len(people)])]
        shown = [(k, place) for k, place in places if place is not None]
        photos = [(k, place, people[k].photos[_photo_at(schedules[k], t)]) for k, place in shown]
        yield compose(
            [(k, (x, y), depth, photo) for k, (x, y, depth), photo in photos],
            [b for b in (board(t) for board in scenario.boards) if b is not None],
            people,
            size,
        )


def compose(
    placed: list[tuple[int, tuple[float, float], float, np.ndarray]],
    boards: list[Box],
    people: list[Person],
    size: tuple[int, int] = SIZE,
) -> tuple[np.ndarray, list[Truth]]:
    """One frame: photos pasted back to front, then boards; each face's truth from what shows of it."""
    width, height = size
    canvas = np.full((height, width), BACKGROUND, np.uint8)
    owner = np.full((height, width), -1, np.int16)  # whose photo each pixel shows
    faces = {}
    for k, (cx, cy), _, photo in sorted(placed, key=lambda item: item[2]):
        side = photo.shape[0]
        x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
        fx0, fy0 = max(0, x0), max(0, y0)
        fx1, fy1 = min(width, x0 + side), min(height, y0 + side)
        if fx1 > fx0 and fy1 > fy0:
            canvas[fy0:fy1, fx0:fx1] = photo[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
            owner[fy0:fy1, fx0:fx1] = k
        face = side / (1 + 2 * MARGIN)
        faces[k] = (int(round(cx - face / 2)), int(round(cy - face / 2)), int(round(face)))
    for x, y, w, h in boards:
        canvas[y : y + h, x : x + w] = BOARD
        owner[y : y + h, x : x + w] = -2
    truths = []
    for k, (x, y, side) in faces.items():
        x0, y0, x1, y1 = max(0, x), max(0, y), min(width, x + side), min(height, y + side)
        if x1 <= x0 or y1 <= y0:
            continue
        visible = float((owner[y0:y1, x0:x1] == k).sum()) / (side * side)
        truths.append(Truth(people[k].name, (x0, y0, x1 - x0, y1 - y0), visible))
    return cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR), truths


def _expressions(count: int, seconds: float, rng: np.random.Generator) -> list[tuple[float, int]]:
    """(from second, photo) for one person: a new expression every 1-2 s, never the same photo twice running."""
    schedule, t, photo = [], 0.0, int(rng.integers(count))
    while t < seconds + 2:
        schedule.append((t, photo))
        t += float(rng.uniform(1.0, 2.0))
        photo = (photo + int(rng.integers(1, count))) % count if count > 1 else 0
    return schedule


def _photo_at(schedule: list[tuple[float, int]], t: float) -> int:
    return [photo for start, photo in schedule if start <= t][-1]


def write_video(
    path: Path, scenario: Scenario, people: list[Person], scale: float = 1.0, fps: int = FPS, seed: int = 0
) -> list[list[Truth]]:
    """Writes the scenario as an mp4 (as tests/test_infer.py writes its videos); the truth of every frame."""
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), SIZE)
    truth = []
    try:
        for image, truths in render(scenario, people, scale, SIZE, fps, seed):
            writer.write(image)
            truth.append(truths)
    finally:
        writer.release()
    return truth


def cast(scenario: str, people: list[Person], k: int = 0) -> list[Person]:
    """The scenario's people in its k-th cast: each role goes to the person three places on."""
    return [people[(i + 3 * k) % len(people)] for i in CASTING[scenario]]


# ------------------------------------------------------------------------------------------------- running


@dataclass
class Run:
    """What a loop reported for one video: per frame index, (person id, box) of each face; and its costs."""

    faces: dict[int, list[tuple[str | None, Box]]]
    frames: int  # frames the loop yielded (the live loop drops those it is too slow for)
    seconds: float
    embedded: int | None = None  # identity embeddings computed (People.embedded)
    people: int | None = None  # people in the register at the end
    exemplars: int | None = None
    ms: list[float] = field(default_factory=list)  # per frame, the loop's own time


def run_recognizer(recognizer, source) -> Run:
    """`recognizer.frames(source)` to the end: the faces of every frame, the register of people it used."""
    registers = []
    new_people = recognizer.new_people

    def keep_register():
        register = new_people()
        registers.append(register)
        return register

    recognizer.new_people = keep_register  # the register is made per source, inside frames()
    faces, ms, start = {}, [], time.perf_counter()
    try:
        for frame, found, stages in recognizer.frames(source):
            faces[frame.index] = [(f.person, tuple(int(v) for v in f.box)) for f in found]
            ms.append(stages.get("ms", 0.0))
    finally:
        recognizer.new_people = new_people
    register = registers[0] if registers else None
    return Run(
        faces,
        len(faces),
        time.perf_counter() - start,
        register.embedded if register else None,
        len(register.people) if register else None,
        sum(len(p.exemplars) for p in register.people.values()) if register else None,
        ms,
    )


def iou_chain(faces: dict[int, list[tuple[str | None, Box]]], min_iou: float = CHAIN_IOU) -> dict:
    """The baseline: each box takes the id of the last frame's box it overlaps most (IoU >= min_iou, each
    id once, most overlap first), else a new id."""
    chained, previous, next_id = {}, [], 1
    for index in sorted(faces):
        boxes = [box for _, box in faces[index]]
        pairs = sorted(
            ((iou(old, box), i, j) for i, box in enumerate(boxes) for j, (_, old) in enumerate(previous)), reverse=True
        )
        ids: list[str | None] = [None] * len(boxes)
        used = set()
        for overlap, i, j in pairs:
            if overlap < min_iou:
                break
            if ids[i] is None and j not in used:
                ids[i], used = previous[j][0], used | {j}
        for i in range(len(ids)):
            if ids[i] is None:
                ids[i], next_id = f"t{next_id}", next_id + 1
        previous = list(zip(ids, boxes))
        chained[index] = previous
    return chained


# ------------------------------------------------------------------------------------------------- scoring


def accumulate(truth: list[list[Truth]], faces: dict[int, list[tuple[str | None, Box]]]):
    """A motmetrics accumulator over the frames the loop reported. Faces less than VISIBLE visible are not
    expected; a box on one of them (its best match, IoU >= MIN_IOU) is left out rather than counted false.
    A box without a person (not decided yet) is left out too: its face counts as not found."""
    import motmetrics as mm

    truth_ids: dict[str, int] = {}  # motmetrics 1.4 keeps ids in float columns: numbers, not names
    hypothesis_ids: dict[str | None, int] = {}
    acc = mm.MOTAccumulator(auto_id=False)
    for index in sorted(faces):
        if index >= len(truth):
            continue
        expected = [t for t in truth[index] if t.visible >= VISIBLE]
        boxes = []
        for person, box in faces[index]:
            if person is None:
                continue
            best = max(truth[index], key=lambda t: iou(t.box, box), default=None)
            if best is not None and best.visible < VISIBLE and iou(best.box, box) >= MIN_IOU:
                continue
            boxes.append((person, box))
        # IoU distances made here: motmetrics 1.4's iou_matrix calls np.asfarray, which NumPy 2 removed
        distances = np.full((len(expected), len(boxes)), np.nan)
        for i, t in enumerate(expected):
            for j, (_, box) in enumerate(boxes):
                overlap = iou(t.box, box)
                if overlap >= MIN_IOU:
                    distances[i, j] = 1 - overlap
        acc.update(
            [truth_ids.setdefault(t.person, len(truth_ids) + 1) for t in expected],
            [hypothesis_ids.setdefault(p, len(hypothesis_ids) + 1) for p, _ in boxes],
            distances,
            frameid=index,
        )
    names = {v: k for k, v in truth_ids.items()}, {v: k for k, v in hypothesis_ids.items()}
    return acc, names


def matches(acc, names) -> dict[str, dict[int, str]]:
    """Per true person, the id they were given in each frame they were matched in."""
    events = acc.mot_events
    matched = events[events.Type.isin(["MATCH", "SWITCH"])]
    found: dict[str, dict[int, str]] = {}
    for (frame, _), row in matched.iterrows():
        found.setdefault(names[0][int(row.OId)], {})[int(frame)] = names[1][int(row.HId)]
    return found


def comebacks(truth: list[list[Truth]], cuts: list[int]) -> list[tuple[str, int, str]]:
    """(person, frame, why) for each time a person is back: expected again after frames not expected
    (crossed, covered, out of the frame), or on the frame of a cut (everyone moved)."""
    events, seen, before = [], set(), {}
    for index, truths in enumerate(truth):
        now = {t.person for t in truths if t.visible >= VISIBLE}
        for person in sorted(now):
            if index in cuts and person in seen:
                events.append((person, index, "cut"))
            elif person in seen and not before.get(person, False):
                events.append((person, index, "back"))
        for person in seen | now:
            before[person] = person in now
        seen |= now
    return events


def reidentification(
    truth: list[list[Truth]], given: dict[str, dict[int, str]], cuts: list[int], fps: int = FPS
) -> list[dict]:
    """Each comeback: the id the person held most before it, the id matched first after it and the id they
    hold SETTLE_S later (or at their last matched frame before the next comeback)."""
    events = comebacks(truth, cuts)
    out = []
    for n, (person, frame, why) in enumerate(events):
        ids = given.get(person, {})
        earlier = Counter(ids[f] for f in ids if f < frame)
        if not earlier:
            continue
        held = earlier.most_common(1)[0][0]
        following = [e[1] for e in events[n + 1 :] if e[0] == person]
        end = min([frame + int(SETTLE_S * fps), *following])
        after = [f for f in sorted(ids) if frame <= f < end]
        first = ids[after[0]] if after else None
        settled = ids[after[-1]] if after else None
        out.append(
            {
                "person": person,
                "frame": frame,
                "why": why,
                "held": held,
                "first": first,
                "settled": settled,
                "first_ok": first == held,
                "settled_ok": settled == held,
            }
        )
    return out


def newcomers(truth: list[list[Truth]], given: dict[str, dict[int, str]]) -> list[dict]:
    """Each person who first appears after the first frame (someone new walks in): the first id they are given,
    and whose id it was before (a false re-identification: a stranger taken for someone who left)."""
    first_seen: dict[str, int] = {}
    for index, truths in enumerate(truth):
        for t in truths:
            if t.visible >= VISIBLE:
                first_seen.setdefault(t.person, index)
    out = []
    for person, frame in sorted(first_seen.items(), key=lambda item: item[1]):
        ids = given.get(person, {})
        after = [f for f in sorted(ids) if f >= frame]
        if frame == 0 or not after:
            continue
        first = ids[after[0]]
        owner = next(
            (
                other
                for other, theirs in given.items()
                if other != person and any(f < after[0] and i == first for f, i in theirs.items())
            ),
            None,
        )
        out.append({"person": person, "frame": frame, "first": first, "taken_from": owner})
    return out


METRICS = ["idf1", "num_switches", "num_fragmentations", "mota", "recall", "precision", "num_unique_objects"]


def score(truth: list[list[Truth]], faces: dict, cuts: list[int], fps: int = FPS) -> dict:
    """A video's scores, and the accumulator (for the overall row)."""
    import motmetrics as mm

    acc, names = accumulate(truth, faces)
    row = mm.metrics.create().compute(acc, metrics=METRICS, name="x").iloc[0]
    given = matches(acc, names)
    events = reidentification(truth, given, cuts, fps)
    ids = {p for f in faces.values() for p, _ in f if p is not None}
    return {
        **motmetrics_row(row),
        "people": int(row.num_unique_objects),
        "ids": len(ids),
        "comebacks": events,
        "newcomers": newcomers(truth, given),
        "_acc": acc,
    }


def motmetrics_row(row) -> dict:
    """The figures of one row of motmetrics' summary."""
    return {
        "idf1": float(row.idf1),
        "switches": int(row.num_switches),
        "fragmentations": int(row.num_fragmentations),
        "mota": float(row.mota),
        "recall": float(row.recall),
        "precision": float(row.precision),
    }


def overall(rows: list[dict]) -> dict:
    import motmetrics as mm

    accs = [r["_acc"] for r in rows]
    table = mm.metrics.create().compute_many(
        accs, metrics=METRICS, names=[str(i) for i in range(len(accs))], generate_overall=True
    )
    row = table.loc["OVERALL"]
    events = [e for r in rows for e in r["comebacks"]]
    return {
        **motmetrics_row(row),
        "people": sum(r["people"] for r in rows),
        "ids": sum(r["ids"] for r in rows),
        "comebacks": events,
        "newcomers": [n for r in rows for n in r["newcomers"]],
    }


# -------------------------------------------------------------------------------------------------- memory


def stream_source(people: list[Person], frames: int, fps: int = FPS, pace_fps: float | None = None):
    """The frames of a long video of two people crossing again and again (the crossing scenario, repeated),
    made as they are read, nothing written to disk. `pace_fps`: delivered no faster than that, as a camera
    delivers them (the live loop's scans and searches run beside the frames: unpaced, it would see faces
    only every so often)."""
    from fer.inference.frames import Frame

    scenario = SCENARIOS["crossing"]
    schedules = [_expressions(len(p.photos), frames / fps, np.random.default_rng([7, k])) for k, p in enumerate(people)]

    def generate():
        start = time.perf_counter()
        for index in range(frames):
            if pace_fps:
                time.sleep(max(0.0, start + index / pace_fps - time.perf_counter()))
            t = index / fps
            placed = [
                (k, path(t)[:2], path(t)[2], people[k].photos[_photo_at(schedules[k], t)])
                for k, path in enumerate(scenario.paths)
            ]
            image, _ = compose(placed, [], people)
            yield Frame("stream", index, t, image, video=True, fps=float(fps))

    return generate()


def memory_run(
    recognizer, people: list[Person], frames: int, kind: str, every: int = 1000, pace_fps: float | None = None
) -> list[dict]:
    """RSS and the register every `every` frames of a `frames`-long stream (kind "video": the exact loop, as
    fast as it goes; "camera": the live loop, frames delivered at `pace_fps`, each taken in turn)."""
    import psutil

    from fer.inference.frames import FrameSource

    process = psutil.Process()
    registers = []
    new_people = recognizer.new_people

    def keep_register():
        registers.append(new_people())
        return registers[-1]

    recognizer.new_people = keep_register
    points, start, embedded_at, frames_at = [], time.perf_counter(), 0, 0
    try:
        source = FrameSource(stream_source(people, frames, pace_fps=pace_fps), kind, frames)
        for frame, _, _ in recognizer.frames(source):
            done = frame.index + 1
            if done % every == 0 or done == frames:
                register = registers[0]
                points.append(
                    {
                        "frames": done,
                        "rss_mb": process.memory_info().rss / 2**20,
                        "people": len(register.people),
                        "exemplars": sum(len(p.exemplars) for p in register.people.values()),
                        "embedded": register.embedded,
                        "embedded_per_frame_since_last": (register.embedded - embedded_at) / (done - frames_at),
                        "seconds": time.perf_counter() - start,
                    }
                )
                embedded_at, frames_at = register.embedded, done
    finally:
        recognizer.new_people = new_people
    return points


# ------------------------------------------------------------------------------------------------- report


def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def taken(events: list[dict]) -> str:
    if not events:
        return "-"
    wrong = sum(e["taken_from"] is not None for e in events)
    return f"{wrong}/{len(events)}"


def share(events: list[dict], key: str) -> str:
    if not events:
        return "-"
    ok = sum(e[key] for e in events)
    return f"{ok}/{len(events)} ({100 * ok / len(events):.0f} %)"


def markdown(results: dict) -> str:
    casts = results.get("casts", 1)
    lines = [
        f"### Who is who, per scenario ({casts} cast{'s' if casts > 1 else ''} each)",
        "",
        "| scenario | tracker | frames scored | IDF1 | ID switches | fragmentations | MOTA | recall "
        "| ids given / people | re-identified at once | re-identified 2 s later | newcomers taken for someone else "
        "| embeddings / frame |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in [*results["scenarios"], "overall"]:
        for tracker in TRACKERS:
            row = results["overall"][tracker] if name == "overall" else results["scenarios"][name][tracker]
            lines.append(
                f"| {name} | {tracker} | {row['frames']}/{row['expected_frames']} | {row['idf1']:.3f} | "
                f"{row['switches']} | {row['fragmentations']} | {row['mota']:.3f} | {row['recall']:.3f} | "
                f"{row['ids']} / {row['people']} | {share(row['comebacks'], 'first_ok')} | "
                f"{share(row['comebacks'], 'settled_ok')} | {taken(row.get('newcomers', []))} | "
                f"{fmt(row.get('embedded_per_frame'), 2)} |"
            )
    lines += [
        "",
        "### Comebacks: the id held before, the first after, the one 2 s later (exact loop; live loop)",
        "",
        "| scenario | cast | person | frame | why | exact | live |",
        "|---|---|---|---|---|---|---|",
    ]

    def mark(event: dict | None) -> str:
        if not event:
            return "-"
        return (
            f"{event['held']} -> {event['first']} -> {event['settled']}{'' if event['first_ok'] else ' (first wrong)'}"
        )

    for name, rows in results["scenarios"].items():
        live = {(e["cast"], e["person"], e["frame"]): e for e in rows["live"]["comebacks"]}
        for e in rows["exact"]["comebacks"]:
            other = live.get((e["cast"], e["person"], e["frame"]))
            lines.append(
                f"| {name} | {e['cast']} | {e['person']} | {e['frame']} | {e['why']} | {mark(e)} | {mark(other)} |"
            )
    if results.get("memory"):
        lines += [
            "",
            "### Memory over a long stream (two people crossing every 8 s)",
            "",
            "| loop | frames | RSS MB | people in the register | exemplars kept "
            "| embeddings / frame (the 1,000 frames before) | s |",
            "|---|---|---|---|---|---|---|",
        ]
        for loop, points in results["memory"].items():
            for p in points:
                if p["frames"] in (1000, points[-1]["frames"]) or p["frames"] % 5000 == 0:
                    lines.append(
                        f"| {loop} | {p['frames']} | {p['rss_mb']:.0f} | {p['people']} | {p['exemplars']} | "
                        f"{p['embedded_per_frame_since_last']:.3f} | {p['seconds']:.0f} |"
                    )
    if results.get("cost"):
        lines += [
            "",
            "### Cost",
            "",
            "| loop | frames | ms / frame p50 | p95 | embeddings / frame | ms / embedding |",
            "|---|---|---|---|---|---|",
        ]
        for loop, c in results["cost"].items():
            lines.append(
                f"| {loop} | {c['frames']} | {c['ms_p50']:.1f} | {c['ms_p95']:.1f} | {c['embedded_per_frame']:.3f} "
                f"| {fmt(c['ms_per_embedding'], 2)} |"
            )
    return "\n".join(lines)


TRACKERS = ("exact", "live", "iou")


def photo_embeddings(encoder, person: Person) -> np.ndarray:
    """The identity embeddings of a person's photos, each cut as in the videos (pasted on a frame, the face's box)."""
    rows = []
    for photo in person.photos:
        image, truths = compose([(0, (SIZE[0] / 2, SIZE[1] / 2), 0, photo)], [], [person])
        rows.append(encoder.embed_boxes(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), [truths[0].box])[0])
    return np.array(rows)


def embedding_ms(encoder, people: list[Person], repeats: int = 50) -> float:
    """One face's identity embedding on this machine (a 640x480 frame, one box), median ms."""
    image, truths = compose([(0, (320, 240), 0, people[0].photos[0])], [], people)
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        encoder.embed_boxes(grey, [truths[0].box])
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import onnxruntime

    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (
        f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"onnxruntime {onnxruntime.__version__}{load}"
    )


def run_scenarios(
    recognizers: dict,
    people: list[Person],
    names: list[str],
    scale: float = 1.0,
    casts: int = 1,
    out: Path = Path("logs/bench/people"),
) -> dict:
    """Every scenario `casts` times (cast k: other people, other expressions) through each tracker: scores per
    scenario (its casts together) and overall, each comeback, and what the loops cost."""
    per_scenario: dict[str, dict] = {}
    costs: dict[str, list[Run]] = {"exact": [], "live": []}
    for name in names:
        scenario = SCENARIOS[name]
        cuts = [int(round(c * FPS * scale)) for c in scenario.cuts]
        rows: dict[str, list[dict]] = {tracker: [] for tracker in recognizers}
        for k in range(casts):
            video = out / f"{name}-{k + 1}.mp4"
            truth = write_video(video, scenario, cast(name, people, k), scale, seed=k)
            for tracker, recognizer in recognizers.items():
                run = run_recognizer(recognizer, video)
                row = score(truth, iou_chain(run.faces) if tracker == "iou" else run.faces, cuts)
                row.update(
                    frames=run.frames,
                    expected_frames=len(truth),
                    seconds=run.seconds,
                    embedded=run.embedded,
                    register_people=run.people,
                    exemplars=run.exemplars,
                )
                for event in row["comebacks"]:
                    event.update(scenario=name, cast=k + 1)
                if tracker in costs:
                    costs[tracker].append(run)
                rows[tracker].append(row)
                print(
                    f"{name:13s} cast {k + 1} {tracker:5s} frames {run.frames:4d}/{len(truth)} IDF1 {row['idf1']:.3f} "
                    f"switches {row['switches']} ids {row['ids']}/{row['people']} {run.seconds:.1f} s",
                    flush=True,
                )
        per_scenario[name] = {"title": scenario.title, **{tracker: _combined(r) for tracker, r in rows.items()}}
    results: dict = {
        "scenarios": per_scenario,
        "overall": {
            tracker: _combined([c for n in names for c in per_scenario[n][tracker]["casts"]]) for tracker in recognizers
        },
    }
    for tracker, runs in costs.items():
        frames = sum(r.frames for r in runs)
        if not frames:
            continue
        ms = sorted(m for r in runs for m in r.ms)
        embedded = sum(r.embedded or 0 for r in runs)
        results.setdefault("cost", {})[tracker] = {
            "frames": frames,
            "ms_p50": statistics.median(ms),
            "ms_p95": ms[int(0.95 * (len(ms) - 1))],
            "embedded_per_frame": embedded / frames,
            "ms_per_embedding": None,
        }
    for rows in per_scenario.values():
        for tracker in recognizers:
            for row in rows[tracker]["casts"]:
                row.pop("_acc", None)
    for row in results["overall"].values():
        row.pop("casts")  # each is under its scenario
    return results


def _combined(rows: list[dict]) -> dict:
    """Several videos' rows as one (motmetrics over all their frames), the rows kept under "casts"."""
    row = overall(rows) if len(rows) > 1 else {k: v for k, v in rows[0].items() if k != "_acc"}
    frames, embedded = sum(r["frames"] for r in rows), [r.get("embedded") for r in rows]
    row.update(
        frames=frames,
        expected_frames=sum(r["expected_frames"] for r in rows),
        embedded_per_frame=sum(embedded) / frames if frames and None not in embedded else None,
        casts=rows,
    )
    return row


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--frames-scale", type=float, default=1.0, help="play every scenario in this share of its frames"
    )
    parser.add_argument("--out", default="logs/bench/people", help="videos and people.json go here")
    parser.add_argument("--scenarios", nargs="*", default=list(SCENARIOS), choices=list(SCENARIOS))
    parser.add_argument(
        "--casts",
        type=int,
        default=3,
        help="each scenario this many times, with other people in each role and other expressions",
    )
    parser.add_argument("--memory-frames", type=int, default=10_000, help="length of the memory stream (0: skip it)")
    parser.add_argument(
        "--faces",
        choices=["auto", "jaffe", "drawn"],
        default="auto",
        help="whose faces: JAFFE's (../shared/data) or drawn ones; auto: JAFFE where present",
    )
    args = parser.parse_args(argv)

    from fer.api import Recognizer

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.faces == "drawn" or args.faces == "auto" and not JAFFE.is_dir():
        people, faces = drawn_people(range(12))[:10], "drawn"  # no pose of seed 3 is found
    else:
        people, faces = jaffe_people(), "jaffe"
    recognizers = {
        "exact": Recognizer(people="auto"),
        "live": Recognizer(people="auto", realtime=True),
        "iou": Recognizer(people="off"),
    }
    results: dict = {
        "machine": machine(),
        "faces": faces,
        "frames_scale": args.frames_scale,
        "fps": FPS,
        "size": list(SIZE),
        "casts": args.casts,
        "date": time.strftime("%Y-%m-%d"),
        **run_scenarios(recognizers, people, args.scenarios, args.frames_scale, args.casts, out),
    }
    if "cost" in results:
        encoder = recognizers["exact"].identity_encoder
        per = embedding_ms(encoder, people)
        for c in results["cost"].values():
            c["ms_per_embedding"] = per
        results["threshold"] = encoder.threshold
    if args.memory_frames:
        results["memory"] = {}
        # the live loop's stream as a 30 fps camera: the 15 fps video's motion, twice as fast on the clock
        for loop, kind, pace in (("exact", "video", None), ("live", "camera", 2.0 * FPS)):
            results["memory"][loop] = memory_run(recognizers[loop], people[:2], args.memory_frames, kind, pace_fps=pace)
            last = results["memory"][loop][-1]
            print(
                f"memory {loop}: {last['frames']} frames, RSS {last['rss_mb']:.0f} MB, people {last['people']}, "
                f"exemplars {last['exemplars']}, {last['seconds']:.0f} s",
                flush=True,
            )
    if hasattr(os, "getloadavg"):
        results["load_average_end"] = os.getloadavg()[0]  # other work on the machine shows in the live loop's drops
    text = markdown(results)
    print(text)
    (out / "people.json").write_text(json.dumps(results, indent=1, default=float))
    (out / "people.md").write_text(text + "\n")
    return results


if __name__ == "__main__":
    main()
