"""Per-person summaries (fer.inference.summary), their timeline picture and HTML report (fer.inference.timeline),
`fer.summarise` on a JSONL file, and infer.py writing all three for a real video."""

import base64
import csv
import json
import re
import tracemalloc

import cv2
import numpy as np
import pytest

import fer
from fer.errors import BadValue
from fer.inference.summary import MAX_BINS, THUMB_PX, UNASSIGNED, PeopleSummary, TimeBins, summarise
from fer.inference.timeline import LANE, SummaryFiles, TimeAxis, clock, report_html, write_report, write_timeline
from fer.labels import LABELS
from tests.conftest import ROOT, run_script

HAPPY = {"happy": 0.7, "neutral": 0.3}
SAD = {"sad": 0.6, "neutral": 0.4}
CALM = {"neutral": 0.9, "surprise": 0.1}


def probs(**given: float) -> dict:
    return {label: given.get(label, 0.0) for label in LABELS}


def face(frame: int, time_s: float, index: int, person, given: dict, source: str = "clip.mp4", box=None) -> dict:
    p = probs(**given)
    return {
        "source": source,
        "frame": frame,
        "time_s": time_s,
        "face": index,
        "person": person,
        "box": box or [10, 10, 40, 40],
        "label": max(p, key=p.get),
        "score": max(p.values()),
        "probs": p,
    }


def no_face(frame: int, time_s: float, source: str = "clip.mp4") -> dict:
    return {
        "source": source,
        "frame": frame,
        "time_s": time_s,
        "face": None,
        "person": None,
        "box": None,
        "label": None,
        "score": None,
        "probs": None,
    }


def scripted_frames() -> list[list[dict]]:
    """10 fps, 6 s: p1 happy for 2 s then sad for 3 s (0-4.9 s); p2 calm from 1.0 to 3.0 s; an unassigned face
    at 0.5-0.9 s; frame 5.0-5.9 s without a face."""
    frames = []
    for frame in range(60):
        time_s = round(frame / 10, 4)
        rows = []
        if frame < 50:
            rows.append(face(frame, time_s, 0, "p1", HAPPY if frame < 20 else SAD))
        if 10 <= frame <= 30:
            rows.append(face(frame, time_s, len(rows), "p2", CALM))
        if 5 <= frame <= 9:
            rows.append(face(frame, time_s, len(rows), None, CALM))
        frames.append(rows or [no_face(frame, time_s)])
    return frames


def scripted_summary(**settings) -> PeopleSummary:
    summary = PeopleSummary(**settings)
    for rows in scripted_frames():
        summary.add(rows)
    return summary


def test_scripted_people_are_summarised_exactly():
    summary = scripted_summary()
    p1, p2 = summary.rows()
    assert [p1["person"], p2["person"]] == ["p1", "p2"]  # in order of first appearance
    assert (p1["first_seen_s"], p1["last_seen_s"], p1["sightings"]) == (0.0, 4.9, 50)
    # each sighting counts the 0.1 s to the next frame of the video (the last one, 4.9 s, too: frame 5.0 follows)
    assert p1["seconds_visible"] == pytest.approx(5.0)
    assert p1["share_happy"] == pytest.approx(0.4) and p1["share_sad"] == pytest.approx(0.6)
    assert sum(p1[f"share_{label}"] for label in LABELS) == pytest.approx(1.0)
    assert p1["mean_happy"] == pytest.approx(0.7 * 2 / 5)
    assert p1["mean_sad"] == pytest.approx(0.6 * 3 / 5)
    assert p1["mean_neutral"] == pytest.approx((0.3 * 2 + 0.4 * 3) / 5)
    assert p1["mean_anger"] == 0.0
    assert p1["dominant"] == "sad" and p1["changes"] == 1  # happy, then sad: one change
    assert (p2["first_seen_s"], p2["last_seen_s"], p2["sightings"]) == (1.0, 3.0, 21)
    assert p2["seconds_visible"] == pytest.approx(2.1)
    assert p2["share_neutral"] == pytest.approx(1.0) and p2["mean_surprise"] == pytest.approx(0.1)
    assert p2["dominant"] == "neutral" and p2["changes"] == 0
    assert summary.unassigned["faces"] == 5 and summary.unassigned["face_seconds"] == pytest.approx(0.5)
    assert summary.frames == 60 and summary.sources == 1
    assert summary.settled().end_s == pytest.approx(6.0)  # the last frame, 5.9 s, counts the 0.1 s before it


def test_a_flicker_shorter_than_the_hold_is_not_a_change():
    """neutral, 0.4 s of happy (a flicker), neutral, 0.5 s of happy (held: a change), neutral again (a change)."""
    summary = PeopleSummary(min_hold_s=0.5)
    happy_frames = set(range(20, 24)) | set(range(40, 45))
    for frame in range(60):
        summary.add([face(frame, frame / 10, 0, "p1", HAPPY if frame in happy_frames else CALM)])
    (row,) = summary.rows()
    assert row["changes"] == 2
    assert row["share_happy"] == pytest.approx(0.9 / 6.0)


def test_a_cut_counts_at_most_max_gap_s():
    """Frames at 0-0.9 s, then a cut to 60.0-60.4 s: the frame before the cut counts max_gap_s, not 59 s."""
    times = [i / 10 for i in range(10)] + [60 + i / 10 for i in range(5)]
    for max_gap_s, expected in ((1.0, 0.9 + 1.0 + 0.4 + 0.1), (0.25, 0.9 + 0.25 + 0.4 + 0.1)):
        summary = summarise([face(i, t, 0, "p1", HAPPY) for i, t in enumerate(times)], max_gap_s=max_gap_s)
        (row,) = summary.rows()
        assert row["seconds_visible"] == pytest.approx(expected)
        assert (row["first_seen_s"], row["last_seen_s"]) == (0.0, 60.4)


def test_still_images_are_summarised_by_sightings():
    rows = [
        face(0, 0.0, 0, "p1", HAPPY, source="a.png"),
        face(0, 0.0, 1, None, SAD, source="a.png"),
        face(0, 0.0, 0, "p1", SAD, source="b.png"),
        no_face(0, 0.0, source="c.png"),
    ]
    summary = summarise(rows)
    (row,) = summary.rows()
    assert row["seconds_visible"] == 0.0 and row["sightings"] == 2 and row["changes"] == 0
    assert row["share_happy"] == 0.5 and row["share_sad"] == 0.5
    assert row["mean_neutral"] == pytest.approx(0.35)
    assert summary.sources == 3 and summary.unassigned == {"faces": 1, "face_seconds": 0.0}


def test_records_without_a_person_key_count_as_unassigned():
    rows = [{key: value for key, value in face(i, i / 10, 0, "x", HAPPY).items() if key != "person"} for i in range(10)]
    summary = summarise(rows)
    assert summary.rows() == [] and summary.unassigned["faces"] == 10
    assert summary.unassigned["face_seconds"] == pytest.approx(1.0)


def test_reading_mid_run_does_not_change_the_result():
    """rows() counts the newest frame with an estimated interval, on a copy: frames added later still count
    their real interval."""
    reread, untouched = PeopleSummary(), scripted_summary()
    for i, rows in enumerate(scripted_frames()):
        reread.add(rows)
        if i % 7 == 0:
            reread.rows(), reread.unassigned
    assert reread.rows() == untouched.rows() and reread.unassigned == untouched.unassigned


def test_write_csv_and_json(tmp_path):
    summary = scripted_summary()
    written = summary.write(tmp_path / "people.csv")
    table = list(csv.DictReader(written.open()))
    assert [row["person"] for row in table] == ["p1", "p2", UNASSIGNED]
    assert float(table[0]["seconds_visible"]) == 5.0 and table[0]["dominant"] == "sad" and table[0]["changes"] == "1"
    assert table[2]["sightings"] == "5" and table[2]["dominant"] == ""
    document = json.loads(summary.write(tmp_path / "out" / "people.json").read_text())
    assert [p["person"] for p in document["people"]] == ["p1", "p2"]
    assert document["people"][1]["seconds_visible"] == 2.1
    assert document["unassigned"] == {"faces": 5, "face_seconds": 0.5}
    assert document["settings"] == {"max_gap_s": 1.0, "min_hold_s": 0.5} and document["frames"] == 60
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["out", "people.csv", "people.json"]  # no temporary left
    with pytest.raises(BadValue, match="csv or .json"):
        summary.write(tmp_path / "people.txt")


def test_time_bins_merge_pairwise_and_keep_every_second():
    bins = TimeBins(origin=0.0, width=0.1, max_bins=8)
    for i in range(32):  # 3.2 s of 0.1 s sightings: 32 bins of 0.1 s do not fit in 8, 8 of 0.4 s do
        bins.add(i / 10, 0.1, LABELS.index("happy") if i < 16 else LABELS.index("sad"), np.full(7, 1 / 7))
    assert len(bins) == 8 and bins.width == pytest.approx(0.4)
    assert bins.label_seconds.sum() == pytest.approx(3.2)
    assert bins.label_seconds[:4, LABELS.index("happy")] == pytest.approx([0.4] * 4)
    assert bins.label_seconds[4:, LABELS.index("sad")] == pytest.approx([0.4] * 4)
    bins.add(0.35, 0.1, 0, np.full(7, 1 / 7))  # 0.35-0.45 s: half in bin 0 (0-0.4 s), half in bin 1
    assert bins.label_seconds[0, 0] == pytest.approx(0.05) and bins.label_seconds[1, 0] == pytest.approx(0.05)


def two_hour_stream(summary: PeopleSummary, start_s: float, end_s: float, fps: float = 2.0) -> None:
    """Three people at 2 fps, each changing expression every 40 s, p3 leaving for 10 minutes each half past."""
    for frame in range(int(start_s * fps), int(end_s * fps)):
        time_s = frame / fps
        rows = []
        for index, name in enumerate(("p1", "p2", "p3")):
            if name == "p3" and 1800 <= time_s % 3600 < 2400:
                continue
            label = LABELS[(int(time_s // 40) + index) % len(LABELS)]
            rows.append(
                face(
                    frame,
                    time_s,
                    index,
                    name,
                    {label: 0.8, "neutral": 0.2} if label != "neutral" else {"neutral": 0.8, "sad": 0.2},
                    source="long.mp4",
                )
            )
        summary.add(rows)


@pytest.mark.slow
def test_memory_stays_flat_over_two_hours():
    summary = PeopleSummary()
    tracemalloc.start()
    try:
        two_hour_stream(summary, 0, 600)  # the first 10 minutes
        after_ten_minutes, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        two_hour_stream(summary, 600, 7200)  # 14,400 frames, 40,000 faces in all
        after_two_hours, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    for person in summary.people.values():
        assert len(person.bins) <= MAX_BINS and person.bins.width >= 6.4  # merged, not grown
    # running sums and bounded bins: the next 110 minutes add next to nothing, and never more than 2 MB at once
    assert after_two_hours - after_ten_minutes < 32 * 1024, after_two_hours - after_ten_minutes
    assert peak < 2 * 1024 * 1024, peak
    p1, p2, p3 = summary.rows()
    assert p1["seconds_visible"] == pytest.approx(7200) and p3["seconds_visible"] == pytest.approx(6000)
    assert p1["changes"] == 7200 // 40 - 1  # a new expression every 40 s
    assert p3["first_seen_s"] == 0.0 and p3["last_seen_s"] == 7199.5


def test_thumbnail_keeps_the_largest_face(tmp_path):
    grey = np.zeros((200, 300), np.uint8)
    grey[20:60, 20:60] = 80  # the small face
    grey[100:190, 150:240] = 200  # the large one
    summary = PeopleSummary()
    summary.add([face(0, 0.0, 0, "p1", HAPPY, box=[20, 20, 40, 40])], grey)
    summary.add([face(1, 0.1, 0, "p1", HAPPY, box=[150, 100, 90, 90])], grey)
    summary.add([face(2, 0.2, 0, "p1", HAPPY, box=[20, 20, 40, 40])], grey)
    thumbnail = summary.people["p1"].thumbnail
    assert thumbnail.shape == (THUMB_PX, THUMB_PX, 3) and thumbnail.dtype == np.uint8
    assert thumbnail[THUMB_PX // 2, THUMB_PX // 2].tolist() == [200, 200, 200]


def people_summary(count: int, length_s: float, fps: float = 5.0) -> PeopleSummary:
    image = np.full((240, 320, 3), 120, np.uint8)
    summary = PeopleSummary()
    for frame in range(int(length_s * fps)):
        time_s = frame / fps
        rows = [
            face(frame, time_s, i, f"p{i + 1}", HAPPY if (time_s + i) % 4 < 2 else SAD, box=[i * 20, 20, 60, 60])
            for i in range(count)
            if time_s >= i * length_s / (2 * count)
        ]
        summary.add(rows or [no_face(frame, time_s)], image)
    return summary


@pytest.mark.parametrize("length_s", [10, 7200])
def test_timeline_png_has_a_lane_per_person(tmp_path, length_s):
    heights = {}
    for count in (2, 5, 10):
        summary = people_summary(count, length_s, fps=5 if length_s < 60 else 0.2)
        path = write_timeline(summary, tmp_path / f"{count}.png")
        image = cv2.imread(str(path))
        assert image is not None and image.shape[1] == 1280
        heights[count] = image.shape[0]
    assert heights[5] - heights[2] == 3 * LANE and heights[10] - heights[5] == 5 * LANE
    empty = cv2.imread(str(write_timeline(PeopleSummary(), tmp_path / "empty.png")))
    assert empty is not None


def test_time_axis_ticks_read_as_seconds_minutes_hours():
    short, medium, long = TimeAxis(0, 10, 0, 1000), TimeAxis(0, 125, 0, 1000), TimeAxis(0, 7200, 0, 1000)
    assert [short.label(t) for t in short.ticks()] == ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]
    assert [medium.label(t) for t in medium.ticks()][:4] == ["0:00", "0:15", "0:30", "0:45"]
    assert [long.label(t) for t in long.ticks()] == [
        "0:00",
        "0:15",
        "0:30",
        "0:45",
        "1:00",
        "1:15",
        "1:30",
        "1:45",
        "2:00",
    ]
    assert [short.unit(), medium.unit(), long.unit()] == ["seconds", "m:ss", "h:mm"]
    assert len(TimeAxis(0, 2.5, 0, 1000).ticks()) == 6 and TimeAxis(0, 2.5, 0, 1000).label(0.5) == "0.5"
    assert (clock(754), clock(5400), clock(61.25, 1)) == ("12:34", "1:30:00", "1:01.2")


def test_report_is_one_self_contained_page(tmp_path):
    summary = people_summary(3, 20)
    summary.add([face(100, 20.0, 3, None, SAD)])
    path = write_report(summary, tmp_path / "report.html")
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    sources = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert len(sources) == 1 + 3 and all(
        s.startswith("data:image/png;base64,") for s in sources
    )  # timeline + thumbnails
    assert "http" not in page and "url(" not in page and "<link" not in page and "<script" not in page
    for name in ("p1", "p2", "p3"):
        assert f"<h2>{name}</h2>" in page
    assert "Faces without a person: 1" in page
    timeline = base64.b64decode(sources[0].split(",", 1)[1])
    assert (
        cv2.imdecode(np.frombuffer(timeline, np.uint8), cv2.IMREAD_COLOR).shape[0]
        == cv2.imread(str(write_timeline(summary, tmp_path / "t.png"))).shape[0]
    )
    assert "<h2>&lt;b&gt;</h2>" in report_html(summarise([face(0, 0.0, 0, "<b>", HAPPY)]))  # names are escaped


def test_summarise_a_jsonl_file_and_name_a_damaged_line(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for rows in scripted_frames() for row in rows))
    assert fer.summarise(path).rows() == scripted_summary().rows()
    assert fer.summarise(str(path)).unassigned["faces"] == 5
    lines = path.read_text().splitlines()
    lines[2] = lines[2][:40]  # a line cut short, as a run killed mid-write leaves it
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadValue, match=rf"^{re.escape(str(path))}:3: not a JSON record"):
        fer.summarise(path)
    lines[2] = json.dumps({**json.loads(lines[3]), "probs": None})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadValue, match=r":3: a face record without"):
        fer.summarise(path)
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        fer.summarise(tmp_path / "nope.jsonl")


def test_summary_files_check_their_names_before_the_run(tmp_path):
    with pytest.raises(BadValue, match=r"output.summary=.*people.txt.*\.csv or \.json"):
        SummaryFiles(summary=str(tmp_path / "people.txt"))
    with pytest.raises(BadValue, match=r"output.report=.*\.html"):
        SummaryFiles(report=str(tmp_path / "report.png"))
    files = SummaryFiles(summary=str(tmp_path / "s.json"), timeline=str(tmp_path / "t.png"))
    files.add(scripted_frames()[12])
    files.close()  # what infer.py's finally calls, after one frame here
    assert json.loads((tmp_path / "s.json").read_text())["people"][0]["sightings"] == 1
    assert cv2.imread(str(tmp_path / "t.png")) is not None and not (tmp_path / "report.html").exists()


def test_summaries_import_no_torch():
    code = (
        "import sys, fer\nfer.summarise\nimport fer.inference.timeline\n"
        "assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules, sorted(sys.modules)"
    )
    run_script(["-c", code], cwd=ROOT)


def test_infer_py_writes_the_summary_timeline_and_report(tmp_path):
    from tests.test_infer import make_video

    video = make_video(tmp_path / "clip.mp4")
    out = {name: tmp_path / name for name in ("faces.jsonl", "people.json", "timeline.png", "report.html")}
    run_script(
        [
            "infer.py",
            f"source={video}",
            "display=false",
            f"output.jsonl={out['faces.jsonl']}",
            f"output.summary={out['people.json']}",
            f"output.timeline={out['timeline.png']}",
            f"output.report={out['report.html']}",
            f"hydra.run.dir={tmp_path / 'run'}",
        ]
    )
    document = json.loads(out["people.json"].read_text())
    # Records name their person once the tracker assigns one (the `person` key); records without it are
    # counted as unassigned faces. Either way the face in the video must be in the summary.
    assert document["people"] or document["unassigned"]["faces"] > 0, document
    assert document["frames"] == 24 and document["source"] == str(video)
    assert document["end_s"] == pytest.approx(2.0, abs=1e-3)  # 24 frames at 12 fps (times rounded to 0.1 ms)
    if document["people"]:
        assert document["people"][0]["seconds_visible"] > 0
    # the summary infer.py kept as it ran is the one fer.summarise reads back from its records
    again = json.loads(fer.summarise(out["faces.jsonl"]).write(tmp_path / "again.json").read_text())
    assert again["people"] == document["people"] and again["unassigned"] == document["unassigned"]
    assert cv2.imread(str(out["timeline.png"])) is not None
    page = out["report.html"].read_text()
    assert "http" not in page and all(s.startswith("data:") for s in re.findall(r'src="([^"]*)"', page))
