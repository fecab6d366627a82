"""Person ids in video: the real `fer.Recognizer(...).stream(video)` on small generated videos whose truth is
known (bench/people.py's generator: photos of different people pasted on a plain background, moving)."""

import json
import re

import pytest

from bench.people import (
    JAFFE,
    SCENARIOS,
    Scenario,
    accumulate,
    drawn_people,
    jaffe_people,
    matches,
    photo_embeddings,
    score,
    write_video,
)
from fer.api import Recognizer
from tests.conftest import run_script

PERSON_ID = re.compile(r"p[1-9][0-9]*")
# the two real people of these tests, and the photos of each (spread over their expressions)
JAFFE_PAIR, PHOTOS_EACH = ["KA", "KL"], 7
# Two drawn people (sample_identity seeds) the identity network tells apart. Most drawn pairs it does not: over
# seeds 0-11, 29 % of the pairs of two people's faces score above its match threshold and 34 % of one person's
# pairs below it; of the 55 pairs of people, 2 and 9 are the one whose faces never score as high across the
# pair (max 0.50) as within either person.
DRAWN_PAIR = [2, 9]
# a short crossing: each walks to the other side (4 s at scale 0.5: 60 frames at 15 fps), one passing in front
# of the other and hiding them for a moment
CROSS_ONCE = Scenario("cross_once", "two people cross once", 8, SCENARIOS["crossing"].paths)


@pytest.fixture(scope="module")
def recognizer():
    return Recognizer(people="auto")


@pytest.fixture(scope="module")
def real_pair():
    if not JAFFE.is_dir():
        pytest.skip(f"real data not found: {JAFFE} (JAFFE photos of two different people)")
    return jaffe_people(names=JAFFE_PAIR, photos_each=PHOTOS_EACH)


@pytest.fixture(scope="module")
def drawn_pair():
    return drawn_people(DRAWN_PAIR)


@pytest.fixture(scope="module")
def any_pair():
    """JAFFE's two people where the data is, else two drawn people."""
    return jaffe_people(names=JAFFE_PAIR, photos_each=PHOTOS_EACH) if JAFFE.is_dir() else drawn_people(DRAWN_PAIR)


def stream_faces(recognizer: Recognizer, video) -> dict[int, list[tuple[str | None, tuple]]]:
    """Per frame, (person, box) of each face of the records `stream` yields (a frame without a face may come
    as no record at all: it adds nothing to who is who)."""
    faces = {}
    for records in recognizer.stream(video):
        for r in records:
            faces.setdefault(r["frame"], [])
            if r["face"] is not None:
                faces[r["frame"]].append((r["person"], tuple(r["box"])))
    return faces


def ids_by_person(truth, faces) -> dict[str, set[str]]:
    """The ids each true person was given, over the frames their face was found in (IoU >= 0.5)."""
    return {person: set(given.values()) for person, given in matches(*accumulate(truth, faces)).items()}


def assert_each_keeps_one_id(truth, faces) -> None:
    ids = ids_by_person(truth, faces)
    assert len(ids) == 2, ids  # both people found
    assert all(len(given) == 1 for given in ids.values()), f"an id changed hands: {ids}"
    first, second = (next(iter(given)) for given in ids.values())
    assert first != second and PERSON_ID.fullmatch(first) and PERSON_ID.fullmatch(second), ids


def test_two_real_people_crossing_keep_their_ids(tmp_path, recognizer, real_pair):
    truth = write_video(tmp_path / "crossing.mp4", CROSS_ONCE, real_pair, scale=0.5)
    faces = stream_faces(recognizer, tmp_path / "crossing.mp4")
    assert_each_keeps_one_id(truth, faces)
    assert score(truth, faces, [])["switches"] == 0


def test_a_real_person_who_leaves_and_comes_back_gets_their_id_back(tmp_path, recognizer, real_pair):
    # one stands, the other walks out on the right and comes back from the left 1.5 s later
    truth = write_video(tmp_path / "leave.mp4", SCENARIOS["leave_return"], real_pair, scale=0.5)
    faces = stream_faces(recognizer, tmp_path / "leave.mp4")
    comebacks = score(truth, faces, [])["comebacks"]
    assert [c["person"] for c in comebacks] == [real_pair[1].name], comebacks  # the video has the one comeback
    assert comebacks[0]["first_ok"], comebacks
    assert_each_keeps_one_id(truth, faces)


def test_two_drawn_people_crossing_keep_their_ids(tmp_path, recognizer, drawn_pair):
    # data-free, on the one drawn pair the network tells apart (checked here, not assumed)
    encoder = recognizer.identity_encoder
    first, second = (photo_embeddings(encoder, person) for person in drawn_pair)
    assert encoder.similarity(first, second).max() < encoder.threshold
    truth = write_video(tmp_path / "drawn.mp4", CROSS_ONCE, drawn_pair, scale=0.5)
    assert_each_keeps_one_id(truth, stream_faces(recognizer, tmp_path / "drawn.mp4"))


def test_ids_are_p1_p2_again_for_each_source(tmp_path, recognizer, any_pair):
    video = tmp_path / "clip.mp4"
    write_video(video, CROSS_ONCE, any_pair, scale=0.5)
    runs = [stream_faces(recognizer, video) for _ in range(2)]
    ids = [{p for faces in run.values() for p, _ in faces} for run in runs]
    assert ids[0] == ids[1] == {"p1", "p2"}
    # the exact loop: the same faces and ids every time (faces of one size may come in either order)
    assert [sorted(faces) for _, faces in sorted(runs[0].items())] == [
        sorted(faces) for _, faces in sorted(runs[1].items())
    ]


def test_people_off_gives_no_person(tmp_path, any_pair):
    video = tmp_path / "clip.mp4"
    write_video(video, CROSS_ONCE, any_pair, scale=0.5)
    records = [r for frame in Recognizer(people="off").stream(video) for r in frame]
    assert any(r["face"] is not None for r in records)
    assert all("person" in r and r["person"] is None for r in records)


@pytest.mark.slow
def test_live_loop_two_real_people_crossing_keep_their_ids(tmp_path, real_pair):
    # realtime: the file plays as a camera (4 s), frames the loop is too slow for are dropped
    truth = write_video(tmp_path / "crossing.mp4", CROSS_ONCE, real_pair, scale=0.5)
    assert_each_keeps_one_id(truth, stream_faces(Recognizer(people="auto", realtime=True), tmp_path / "crossing.mp4"))


def test_infer_py_records_carry_person(tmp_path, any_pair):
    video, out = tmp_path / "clip.mp4", tmp_path / "records.jsonl"
    truth = write_video(video, CROSS_ONCE, any_pair, scale=0.5)
    run_script(["infer.py", f"source={video}", f"output.jsonl={out}", "display=false"])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len({r["frame"] for r in rows}) == len(truth)
    assert all("person" in r for r in rows)
    faces = [r for r in rows if r["face"] is not None]
    assert faces and all(PERSON_ID.fullmatch(r["person"]) for r in faces)
    assert {r["person"] for r in faces} == {"p1", "p2"}


def test_a_face_coming_out_from_behind_another_never_takes_a_new_id(tmp_path, recognizer, real_pair):
    # the bench's crossing at its own pace (8 s, 120 frames): the face behind is found again half covered
    truth = write_video(tmp_path / "crossing.mp4", CROSS_ONCE, real_pair)
    faces = stream_faces(recognizer, tmp_path / "crossing.mp4")
    persons = [p for frame in faces.values() for p, _ in frame]
    # while it is half hidden it is nobody yet (null), for a few frames, never a third person
    assert set(persons) - {None} == {"p1", "p2"} and persons.count(None) <= 15, persons.count(None)
    assert_each_keeps_one_id(truth, {frame: [f for f in found if f[0]] for frame, found in faces.items()})


@pytest.mark.slow
def test_after_cuts_everyone_is_named_right_at_once_even_showing_a_new_expression(tmp_path, recognizer):
    # bench/people.py's cut scenario in its second cast (KA, KL, KM, each with all their photos): everyone moves
    # to another's place at each cut, and KM first shows an expression none of her kept views shows
    if not JAFFE.is_dir():
        pytest.skip(f"real data not found: {JAFFE} (JAFFE photos of three different people)")
    people = jaffe_people(names=["KA", "KL", "KM"])
    truth = write_video(tmp_path / "cut.mp4", SCENARIOS["cut"], people, seed=1)
    cuts = [int(round(c * 15)) for c in SCENARIOS["cut"].cuts]
    comebacks = score(truth, stream_faces(recognizer, tmp_path / "cut.mp4"), cuts)["comebacks"]
    assert len(comebacks) == 6 and all(c["first_ok"] for c in comebacks), comebacks
