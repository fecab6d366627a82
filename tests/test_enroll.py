"""fer enroll and people files: named people in video and photos, their own profiles, and bad input."""

import json
import time

import cv2
import numpy as np
import pytest

import fer
from fer.errors import BadValue, MissingInput
from fer.faces.image_io import read_grey
from fer.inference.people_file import PeopleFile
from tests.conftest import DATA_DIR, needs_data, run_script

JAFFE = DATA_DIR / "jaffe"


def photos_of(person: str, tmp_path, count: int = 6, skip: int = 0) -> list:
    """Some of a JAFFE woman's photos (all seven expressions), written where a user keeps photos."""
    folder = tmp_path / f"{person}_{skip}"
    folder.mkdir(exist_ok=True)
    chosen = sorted(JAFFE.glob(f"{person}.*.tiff"))[skip::3][:count]
    for path in chosen:
        cv2.imwrite(str(folder / (path.stem + ".png")), read_grey(path))
    return sorted(folder.glob("*.png"))


def enroll(*args: str, check: bool = True):
    return run_script(["-m", "fer", "enroll", *args], check=check)


@needs_data("jaffe")
def test_an_enrolled_person_is_named_in_photos_and_video_others_are_not(tmp_path):
    people = tmp_path / "people.json"
    done = enroll("name=KA", f"source={photos_of('KA', tmp_path)[0].parent}", f"people={people}")
    assert "enrolled KA from 6 face(s)" in done.stdout
    stored = json.loads(people.read_text())
    # embeddings and counts only: no pixels of the photos
    assert set(stored["people"]["KA"]) == {"embeddings", "photos", "created", "profile"}
    assert len(stored["people"]["KA"]["embeddings"]) == 6 and people.stat().st_size < 50_000
    recognizer = fer.Recognizer(people=str(people))
    other_ka = photos_of("KA", tmp_path, count=3, skip=1)  # photos that were not enrolled
    assert all(recognizer.predict(p)[0]["person"] == "KA" for p in other_ka)
    stranger = photos_of("YM", tmp_path, count=3)
    assert all(recognizer.predict(p)[0]["person"] is None for p in stranger)
    # a folder is one source: the stranger gets ids (p1, ...) there, the enrolled person her name
    folder = tmp_path / "mixed"
    folder.mkdir()
    for p in [*other_ka, *stranger]:
        (folder / p.name).write_bytes(p.read_bytes())
    persons = [(rows[0]["source"].split("/")[-1][:2], rows[0]["person"]) for rows in recognizer.stream(folder) if rows]
    assert len(persons) == 6
    assert all(person == "KA" if who == "KA" else person.startswith("p") for who, person in persons), persons


@needs_data("jaffe")
def test_an_enrolled_persons_profile_applies_to_their_face_only(tmp_path):
    profile = fer.Recognizer().calibrate(
        {"happy": [photos_of("KA", tmp_path, 1)[0]], "neutral": [photos_of("KA", tmp_path, 1, skip=2)[0]]},
        method="bias",
    )
    profile.bias = [0, 0, 0, -4, 4, 0, 0]  # a profile that shows: happy far down, neutral far up
    people = tmp_path / "people.json"
    enroll(
        "name=KA",
        f"source={photos_of('KA', tmp_path)[0].parent}",
        f"people={people}",
        f"profile={profile.save(tmp_path / 'ka.json')}",
    )
    plain, named = fer.Recognizer(), fer.Recognizer(people=str(people))
    ka, ym = photos_of("KA", tmp_path, 1, skip=1)[0], photos_of("YM", tmp_path, 1)[0]
    assert named.predict(ka)[0]["probs"]["neutral"] > plain.predict(ka)[0]["probs"]["neutral"]
    assert named.predict(ym)[0]["probs"] == plain.predict(ym)[0]["probs"]


@needs_data("jaffe")
def test_enrolling_says_which_photos_show_no_face_or_several_and_a_name_twice_is_refused(tmp_path):
    folder = photos_of("KA", tmp_path, 2)[0].parent
    cv2.imwrite(str(folder / "blank.png"), np.full((200, 200), 128, np.uint8))
    face = read_grey(sorted(JAFFE.glob("YM.*.tiff"))[0])
    cv2.imwrite(str(folder / "two.png"), np.hstack([face, face]))
    people = tmp_path / "people.json"
    done = enroll("name=KA", f"source={folder}", f"people={people}")
    assert "blank.png (no face)" in done.stderr and "two.png (2 faces)" in done.stderr
    assert "enrolled KA from 2 face(s), 2 left out" in done.stdout
    before = people.read_bytes()
    again = enroll("name=KA", f"source={folder}", f"people={people}", check=False)
    assert again.returncode == 2 and "already enrolled" in again.stderr.strip().splitlines()[-1]
    assert people.read_bytes() == before  # nothing half-written
    empty = tmp_path / "empty"
    empty.mkdir()
    cv2.imwrite(str(empty / "blank.png"), np.full((200, 200), 128, np.uint8))
    none = enroll("name=YM", f"source={empty}", f"people={people}", check=False)
    assert none.returncode == 2 and "no photo shows exactly one face" in none.stderr and "blank.png" in none.stderr
    forgot = enroll("forget=KA", f"people={people}")
    assert "forgot KA" in forgot.stdout and json.loads(people.read_text())["people"] == {}
    assert enroll("forget=KA", f"people={people}", check=False).returncode == 2


def test_a_missing_or_damaged_people_file_is_a_one_line_error(tmp_path):
    with pytest.raises(MissingInput, match="no such file.*fer enroll"):
        fer.Recognizer(people=str(tmp_path / "nobody.json"))
    damaged = tmp_path / "damaged.json"
    damaged.write_text('{"format": "fer-people/1", "identity_sha256": "x", "people": {"a": {"embeddings": [')
    with pytest.raises(BadValue, match="damaged.json is not a readable people file"):
        fer.Recognizer(people=str(damaged))
    other = PeopleFile("0" * 64)
    other.enroll("ana", np.eye(3, 256, dtype=np.float32))
    with pytest.raises(BadValue, match="another identity network"):
        fer.Recognizer(people=str(other.save(tmp_path / "other.json")))
    with pytest.raises(BadValue, match="people='maybe'"):
        fer.Recognizer(people="maybe")
    with pytest.raises(BadValue, match="p1, p2, ... are the ids"):
        other.enroll("p3", np.eye(3, 256, dtype=np.float32))


def test_fer_enroll_is_a_command_of_fer():
    done = run_script(["-m", "fer.cli", "--help"])
    assert "enroll" in done.stdout
    assert "forget=<name>" in run_script(["-m", "fer.cli", "enroll", "--help"]).stdout


class CameraOf:
    """A stand-in webcam showing one person's photos in turn (about 30 frames a second)."""

    def __init__(self, photos: list) -> None:
        self.frames = [cv2.cvtColor(read_grey(p), cv2.COLOR_GRAY2BGR) for p in photos]
        self.count = 0

    def isOpened(self) -> bool:
        return True

    def read(self):
        time.sleep(1 / 30)
        self.count += 1
        return True, self.frames[self.count % len(self.frames)]

    def release(self) -> None:
        pass


@needs_data("jaffe")
def test_enrolling_from_the_webcam_keeps_frames_with_one_face(tmp_path, capsys):
    from fer.commands.enroll import main

    people = tmp_path / "people.json"
    camera = CameraOf(photos_of("KA", tmp_path))
    assert (
        main(["name=KA", "source=webcam", f"people={people}", "seconds=1"], capture_factory=lambda index: camera) == 0
    )
    assert "enrolled KA from" in capsys.readouterr().out
    assert fer.Recognizer(people=str(people)).predict(photos_of("KA", tmp_path, 1, skip=1)[0])[0]["person"] == "KA"
