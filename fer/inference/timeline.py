"""Pictures of a `PeopleSummary`: a timeline PNG (a lane per person) and a self-contained HTML report.

Drawn with OpenCV, as fer/evaluation/plots.py draws its charts: no plotting library, no torch. Each lane
shows the person's top expression as a colour band over time (paler where the person was seen for only
part of that stretch) and the seven probabilities as thin curves under it, in the same colours. The time
axis covers the whole run and labels its ticks in seconds, m:ss or h:mm:ss as the length asks.
"""

from __future__ import annotations

import base64
import html
import logging
import math
from pathlib import Path

import cv2
import numpy as np

from fer.errors import BadValue
from fer.inference.summary import PeopleSummary, Person, write_atomic
from fer.labels import LABELS

log = logging.getLogger(__name__)

# one colour per expression, everywhere (BGR); chosen to stay apart for the common colour blindnesses
COLOURS = {
    "anger": (40, 39, 214),
    "disgust": (35, 140, 110),
    "fear": (189, 103, 148),
    "happy": (0, 184, 245),
    "neutral": (158, 158, 158),
    "sad": (180, 119, 31),
    "surprise": (207, 190, 23),
}
WIDTH = 1280
PANEL = 230  # left of the lanes: thumbnail, name and figures
RIGHT = 28
HEADER = 92
LANE = 100
AXIS = 48
THUMB = 76
FONT = cv2.FONT_HERSHEY_SIMPLEX
INK, GREY, PALE = (40, 40, 40), (120, 120, 120), (228, 228, 228)
TICK_STEPS_S = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)


def write_timeline(summary: PeopleSummary, path: str | Path) -> Path:
    """The timeline picture of `summary` as a PNG (or any image type OpenCV writes, by suffix)."""
    path = Path(path)
    ok, encoded = cv2.imencode(path.suffix or ".png", timeline_image(summary))
    if not ok:
        raise BadValue(f"output.timeline={path}: OpenCV cannot write {path.suffix!r} images (name a .png)")
    return write_atomic(path, encoded.tobytes())


def timeline_image(summary: PeopleSummary) -> np.ndarray:
    """The timeline as a BGR image: title and legend, one lane per person, the time axis."""
    summary = summary.settled()
    people = summary.ordered_people()
    start, end = _time_range(summary)
    lanes = max(1, len(people))
    footer = 26 if summary.unassigned_faces else 0
    image = np.full((HEADER + lanes * LANE + AXIS + footer, WIDTH, 3), 255, np.uint8)
    _draw_header(image, summary, start, end)
    axis = TimeAxis(start, end, PANEL, WIDTH - RIGHT)
    lanes_bottom = HEADER + lanes * LANE
    axis.draw_grid(image, HEADER, lanes_bottom)
    for i, person in enumerate(people):
        _draw_lane(image, person, axis, HEADER + i * LANE, shaded=i % 2 == 1)
    if not people:
        _text(image, "No person was seen.", (PANEL + 16, HEADER + LANE // 2 + 5), 0.6, GREY)
    axis.draw(image, lanes_bottom)
    if summary.unassigned_faces:
        _text(
            image,
            f"Faces without a person (not in the lanes): {summary.unassigned_faces}, "
            f"{summary.unassigned_seconds:.1f} face-seconds",
            (12, image.shape[0] - 10),
            0.45,
            GREY,
        )
    return image


class TimeAxis:
    """Seconds to x pixels, and the ticks a reader expects for the length shown."""

    def __init__(self, start: float, end: float, left: int, right: int) -> None:
        self.start, self.end, self.left, self.right = start, end, left, right
        self.step = next((s for s in TICK_STEPS_S if (end - start) / s <= 10), TICK_STEPS_S[-1])

    def x(self, seconds: float | np.ndarray):
        return self.left + (np.asarray(seconds) - self.start) / (self.end - self.start) * (self.right - self.left)

    def ticks(self) -> np.ndarray:
        first = math.ceil(self.start / self.step - 1e-9) * self.step
        return np.arange(first, self.end + self.step * 1e-6, self.step)

    def label(self, seconds: float) -> str:
        if self.end >= 3600:  # ticks of an hour-long axis fall on whole minutes: h:mm, one format for all
            hours, minutes = divmod(int(round(seconds / 60)), 60)
            return f"{hours}:{minutes:02d}"
        return clock(seconds, decimals=1 if self.step < 1 else 0, short=self.end < 60)

    def unit(self) -> str:
        return "seconds" if self.end < 60 else ("m:ss" if self.end < 3600 else "h:mm")

    def draw_grid(self, image: np.ndarray, top: int, bottom: int) -> None:
        for t in self.ticks():
            x = int(round(float(self.x(t))))
            cv2.line(image, (x, top), (x, bottom), (236, 236, 236), 1)

    def draw(self, image: np.ndarray, y: int) -> None:
        cv2.line(image, (self.left, y), (self.right, y), INK, 1)
        for t in self.ticks():
            x = int(round(float(self.x(t))))
            cv2.line(image, (x, y), (x, y + 5), INK, 1)
            label = self.label(t)
            width = cv2.getTextSize(label, FONT, 0.42, 1)[0][0]
            _text(image, label, (x - width // 2, y + 21), 0.42, INK)
        unit = f"time ({self.unit()})"
        _text(image, unit, (self.left - 26 - cv2.getTextSize(unit, FONT, 0.42, 1)[0][0], y + 21), 0.42, GREY)


def clock(seconds: float, decimals: int = 0, short: bool = False) -> str:
    """12 s as '12' (short) or '0:12', 754 s as '12:34', 5400 s as '1:30:00'; decimals for sub-second ticks."""
    seconds = max(0.0, float(seconds))
    if short:
        return f"{seconds:.{decimals}f}"
    whole = int(seconds + 1e-9)
    fraction = f"{seconds - whole:.{decimals}f}"[1:] if decimals else ""
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}{fraction}" if hours else f"{minutes}:{secs:02d}{fraction}"


def duration(seconds: float) -> str:
    """'12.3 s' under a minute, then '4:05' or '1:27:07': seconds alone stop being readable past a minute."""
    return f"{seconds:.1f} s" if seconds < 60 else clock(seconds)


def _time_range(summary: PeopleSummary) -> tuple[float, float]:
    start = summary.start_s or 0.0
    end = summary.end_s if summary.end_s is not None else start
    start = min(start, 0.0)  # a video's axis starts at its beginning, even when the first face comes later
    return start, max(end, start + 1.0)


def _draw_header(image: np.ndarray, summary: PeopleSummary, start: float, end: float) -> None:
    people = len(summary.people)
    source = Path(summary.first_source).name if summary.first_source else "no frames"
    more = f" and {summary.sources - 1} more" if summary.sources > 1 else ""
    title = f"{source}{more}: {people} {'person' if people == 1 else 'people'}, {duration(end - start)} long"
    _text(image, title, (12, 28), 0.65, INK, 2)
    x = 12
    for label in LABELS:
        cv2.rectangle(image, (x, 44), (x + 16, 60), COLOURS[label], -1)
        _text(image, label, (x + 22, 57), 0.48, INK)
        x += 30 + cv2.getTextSize(label, FONT, 0.48, 1)[0][0] + 14
    _text(
        image,
        "band: top expression (paler: seen for part of that time); lines: the seven probabilities (0 to 1)",
        (12, 82),
        0.42,
        GREY,
    )


def _draw_lane(image: np.ndarray, person: Person, axis: TimeAxis, top: int, shaded: bool) -> None:
    if shaded:
        image[top : top + LANE, :] = np.minimum(image[top : top + LANE, :], 248)
    cv2.line(image, (0, top), (WIDTH, top), PALE, 1)
    _draw_person_panel(image, person, top)
    spans, label_seconds, prob_seconds = _pixel_groups(person, axis)
    _draw_band(image, axis, spans, label_seconds, top + 10, top + 28)
    _draw_curves(image, axis, spans, label_seconds, prob_seconds, top + 36, top + LANE - 10)


def _draw_band(image, axis: TimeAxis, spans, label_seconds, band_top: int, band_bottom: int) -> None:
    """The top label of each stretch in its colour, paler where the person was seen for part of it."""
    seconds = label_seconds.sum(axis=1)
    for (t0, t1), labels, s in zip(spans[seconds > 0], label_seconds[seconds > 0], seconds[seconds > 0]):
        x0, x1 = int(round(float(axis.x(t0)))), int(round(float(axis.x(t1))))
        coverage = min(1.0, s / max(t1 - t0, 1e-9))
        colour = _paler(COLOURS[LABELS[int(np.argmax(labels))]], 0.35 + 0.65 * coverage)
        cv2.rectangle(image, (x0, band_top), (max(x0, x1 - 1), band_bottom), colour, -1)


def _draw_curves(image, axis: TimeAxis, spans, label_seconds, prob_seconds, top: int, bottom: int) -> None:
    """The seven mean probabilities of each stretch (0 at `bottom`, 1 at `top`), broken where the person was away."""
    for level in (top, bottom):
        cv2.line(image, (axis.left, level), (axis.right, level), PALE, 1)
    seconds = label_seconds.sum(axis=1)
    visible = seconds > 0
    means = np.divide(prob_seconds, seconds[:, None], out=np.zeros_like(prob_seconds), where=visible[:, None])
    centres = axis.x(spans.mean(axis=1))
    for k, label in enumerate(LABELS):
        ys = bottom - means[:, k] * (bottom - top)
        for run in _runs(visible):
            points = np.stack([centres[run], ys[run]], axis=1)
            if len(points) == 1:  # one stretch alone: a short tick, so that it shows
                points = np.array([[points[0, 0] - 1, points[0, 1]], [points[0, 0] + 1, points[0, 1]]])
            cv2.polylines(
                image, [np.round(points * 4).astype(np.int32)], False, COLOURS[label], 1, cv2.LINE_AA, shift=2
            )


def _draw_person_panel(image: np.ndarray, person: Person, top: int) -> None:
    x, y = 12, top + (LANE - THUMB) // 2
    if person.thumbnail is not None:
        image[y : y + THUMB, x : x + THUMB] = cv2.resize(person.thumbnail, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
    else:
        cv2.rectangle(image, (x, y), (x + THUMB - 1, y + THUMB - 1), PALE, -1)
    cv2.rectangle(image, (x, y), (x + THUMB - 1, y + THUMB - 1), (200, 200, 200), 1)
    row = person.row()
    text_x = x + THUMB + 12
    _text(image, _fit(row["person"], PANEL - text_x - 8, 0.6, 2), (text_x, top + 30), 0.6, INK, 2)
    _text(image, f"{duration(row['seconds_visible'])} seen", (text_x, top + 52), 0.45, GREY)
    dominant = row["dominant"]
    cv2.rectangle(image, (text_x, top + 63), (text_x + 10, top + 73), COLOURS[dominant], -1)
    _text(image, f"{dominant} {row[f'share_{dominant}']:.0%}", (text_x + 16, top + 73), 0.45, INK)
    changes = row["changes"]
    _text(image, f"{changes} change{'' if changes == 1 else 's'}", (text_x, top + 92), 0.42, GREY)


def _pixel_groups(person: Person, axis: TimeAxis) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The person's bins added in groups at least one pixel wide: spans (n, 2), label and probability seconds.
    Long videos have bins wider than a pixel (one bin a group); a short life in a long video has many."""
    bins = person.bins
    if not len(bins):
        return np.zeros((0, 2)), np.zeros((0, len(LABELS))), np.zeros((0, len(LABELS)))
    pixel_s = (axis.end - axis.start) / (axis.right - axis.left)
    group = max(1, math.ceil(pixel_s / bins.width))
    count = math.ceil(len(bins) / group)
    pad = ((0, count * group - len(bins)), (0, 0))
    label_seconds = np.pad(bins.label_seconds, pad).reshape(count, group, -1).sum(axis=1)
    prob_seconds = np.pad(bins.prob_seconds, pad).reshape(count, group, -1).sum(axis=1)
    starts = bins.origin + bins.width * group * np.arange(count)
    # the last bin may reach past the end of the video: drawn (and its coverage read) up to the end only
    spans = np.clip(np.stack([starts, starts + bins.width * group], axis=1), axis.start, axis.end)
    return spans, label_seconds, prob_seconds


def _runs(mask: np.ndarray) -> list[np.ndarray]:
    """Index arrays of each run of True: the curves break where the person was not seen."""
    indices = np.flatnonzero(mask)
    if not len(indices):
        return []
    return np.split(indices, np.flatnonzero(np.diff(indices) > 1) + 1)


def _paler(colour: tuple[int, int, int], strength: float) -> tuple[int, int, int]:
    return tuple(int(round(255 - (255 - c) * strength)) for c in colour)


def _fit(text: str, width: int, scale: float, thickness: int = 1) -> str:
    """`text` cut (with '..') to fit `width` pixels: long enrolled names stay in the panel."""
    while len(text) > 2 and cv2.getTextSize(text, FONT, scale, thickness)[0][0] > width:
        text = text[:-3] + ".."
    return text


def _text(image: np.ndarray, text: str, origin, scale: float, colour, thickness: int = 1) -> None:
    cv2.putText(image, text, (int(origin[0]), int(origin[1])), FONT, scale, colour, thickness, cv2.LINE_AA)


# --- the HTML report ----------------------------------------------------------------------------------------

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #282828; margin: 24px auto;
       max-width: 1300px; padding: 0 16px; background: #fafafa; }
h1 { font-size: 22px; margin: 0 0 4px; }
.meta, .notes, .muted { color: #777; }
.timeline { width: 100%; border: 1px solid #ddd; background: #fff; }
.person { display: flex; gap: 18px; background: #fff; border: 1px solid #e2e2e2; border-radius: 8px;
          padding: 14px; margin: 14px 0; }
.person img, .person .blank { width: 96px; height: 96px; border-radius: 6px; flex: none; }
.person .blank { background: #e4e4e4; }
.person h2 { font-size: 18px; margin: 0 0 6px; }
.facts { display: flex; flex-wrap: wrap; gap: 4px 22px; margin-bottom: 8px; }
.facts b { font-weight: 600; }
.bar { display: flex; height: 14px; border-radius: 3px; overflow: hidden; background: #eee; margin: 6px 0 8px; }
table.shares { border-collapse: collapse; font-size: 13px; }
table.shares th, table.shares td { padding: 2px 10px 2px 0; min-width: 64px; text-align: right; font-weight: normal; }
table.shares th:first-child, table.shares td:first-child { text-align: left; color: #777; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
.body { flex: 1; }
"""


def write_report(summary: PeopleSummary, path: str | Path) -> Path:
    """One HTML page with everything inside it (the timeline and thumbnails as data URIs): the timeline,
    then each person's thumbnail and summary."""
    return write_atomic(Path(path), report_html(summary))


def report_html(summary: PeopleSummary) -> str:
    summary = summary.settled()
    start, end = _time_range(summary)
    source = html.escape(Path(summary.first_source).name) if summary.first_source else "no frames"
    people = summary.ordered_people()
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>People in {source}</title><style>{STYLE}</style></head><body>",
        f"<h1>People in {source}</h1>",
        f'<p class="meta">{len(people)} {"person" if len(people) == 1 else "people"}, {duration(end - start)} long, '
        f"{summary.frames} frames{_more_sources(summary)}.</p>",
        '<img class="timeline" alt="expressions over time, a lane per person" '
        f'src="{_png_uri(timeline_image(summary))}">',
        *(_person_html(person) for person in people),
        _unassigned_html(summary),
        f'<p class="notes">Seconds seen: each sighting counts the time to the next frame, at most '
        f"{summary.max_gap_s:g} s (longer gaps are cuts or stalls). Shares: of the seconds seen, with each "
        f"expression as the top label; means: the seven probabilities averaged over those seconds. Changes: "
        f"a new top label counts once it has held for {summary.min_hold_s:g} s.</p>",
        "</body></html>",
    ]
    return "\n".join(part for part in parts if part) + "\n"


def _person_html(person: Person) -> str:
    row = person.row()
    name = html.escape(row["person"])
    picture = (
        f'<img alt="{name}" src="{_png_uri(person.thumbnail)}">'
        if person.thumbnail is not None
        else '<div class="blank"></div>'
    )
    dominant = row["dominant"]
    facts = [
        ("first seen", clock(row["first_seen_s"], 1)),
        ("last seen", clock(row["last_seen_s"], 1)),
        ("seen for", duration(row["seconds_visible"])),
        (
            "mostly",
            f'<span class="swatch" style="background:{_css(dominant)}"></span>{dominant} '
            f"{row[f'share_{dominant}']:.0%}",
        ),
        ("changes", str(row["changes"])),
    ]
    bar = "".join(
        f'<div title="{label} {row[f"share_{label}"]:.1%}" style="width:{100 * row[f"share_{label}"]:.3f}%;'
        f'background:{_css(label)}"></div>'
        for label in LABELS
        if row[f"share_{label}"] > 0
    )
    header = "".join(
        f'<th><span class="swatch" style="background:{_css(label)}"></span>{label}</th>' for label in LABELS
    )
    shares = "".join(f"<td>{row[f'share_{label}']:.1%}</td>" for label in LABELS)
    means = "".join(f"<td>{row[f'mean_{label}']:.3f}</td>" for label in LABELS)
    return (
        f'<div class="person">{picture}<div class="body"><h2>{name}</h2><div class="facts">'
        + "".join(f"<span>{k} <b>{v}</b></span>" for k, v in facts)
        + f'</div><div class="bar">{bar}</div><table class="shares"><tr><th></th>{header}</tr>'
        f"<tr><td>share of time on top</td>{shares}</tr><tr><td>mean probability</td>{means}</tr>"
        "</table></div></div>"
    )


def _unassigned_html(summary: PeopleSummary) -> str:
    if not summary.unassigned_faces:
        return ""
    return (
        f'<p class="muted">Faces without a person: {summary.unassigned_faces} '
        f"({summary.unassigned_seconds:.1f} face-seconds), not counted for anyone above.</p>"
    )


def _more_sources(summary: PeopleSummary) -> str:
    return f", {summary.sources} sources" if summary.sources > 1 else ""


def _png_uri(image: np.ndarray) -> str:
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise ValueError("OpenCV could not encode the picture as PNG")
    return "data:image/png;base64," + base64.b64encode(encoded.tobytes()).decode("ascii")


def _css(label: str) -> str:
    b, g, r = COLOURS[label]
    return f"#{r:02x}{g:02x}{b:02x}"


# --- infer.py's outputs -------------------------------------------------------------------------------------

SUFFIXES = {"summary": (".csv", ".json"), "timeline": (".png", ".jpg", ".jpeg"), "report": (".html", ".htm")}


class SummaryFiles:
    """The per-person files `infer.py` writes when the run ends (also when it stops early): output.summary
    (.csv or .json), output.timeline (.png) and output.report (.html). Names are checked before the run, so a
    wrong suffix is said at once, not after an hour of video."""

    def __init__(self, summary: str | None = None, timeline: str | None = None, report: str | None = None) -> None:
        self.paths = {
            key: Path(value)
            for key, value in (("summary", summary), ("timeline", timeline), ("report", report))
            if value
        }
        for key, path in self.paths.items():
            if path.suffix.lower() not in SUFFIXES[key]:
                raise BadValue(f"output.{key}={path}: name a {' or '.join(SUFFIXES[key])} file")
        self.people = PeopleSummary()

    def add(self, rows: list[dict], frame_image: np.ndarray | None = None) -> None:
        self.people.add(rows, frame_image)

    def close(self) -> None:
        """Write every file asked for; one that fails is logged and the others are still written."""
        settled = self.people.settled()
        writers = {
            "summary": settled.write,
            "timeline": lambda p: write_timeline(settled, p),
            "report": lambda p: write_report(settled, p),
        }
        failed = None
        for key, path in self.paths.items():
            try:
                writers[key](path)
                log.info("output.%s written: %s", key, path)
            except OSError as err:
                log.error("output.%s: could not write %s (%s)", key, path, err)
                failed = failed or err
        if failed is not None:
            raise failed
