"""The people file: enrolled people, by name, for `people=<file>` (infer.py, fer.Recognizer, fer serve).

    fer enroll name=ana source=ana_photos/ people=people.json [profile=ana.profile.json]
    python infer.py source=meeting.mp4 people=people.json      # ana's face is named ana, with her profile

JSON (`format: fer-people/1`), written whole or not at all. For each person it holds identity embeddings (a
few unit vectors of the identity network, `fer/assets/identity_model.onnx`; an image cannot be rebuilt from
them), the number of photos they came from, the date, and optionally their calibration profile
(`fer.Profile`'s JSON: statistics of expression embeddings). Never an image. The file is tied to the identity
network that made its embeddings (its sha256): another network's embeddings do not compare.
"""

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from fer.errors import BadValue, MissingInput
from fer.inference.people import Person
from fer.inference.profile import Profile, utc_now
from fer.utils.files import write_atomic

FORMAT = "fer-people/1"
# embeddings kept per enrolled person: the most different ones of their photos (see `spread_out`)
ENROLLED_EMBEDDINGS = 8


@dataclass
class Enrolled:
    embeddings: list[list[float]]
    photos: int  # how many photos (or frames) the embeddings were chosen from
    created: str
    profile: dict | None = None  # a calibration profile's JSON


@dataclass
class PeopleFile:
    identity_sha256: str
    people: dict[str, Enrolled] = field(default_factory=dict)
    format: str = FORMAT

    @classmethod
    def load(cls, path: str | os.PathLike) -> "PeopleFile":
        path = Path(path)
        if not path.is_file():
            raise MissingInput(
                f"people: no such file: {path}; enrol someone with fer enroll name=<name> source=<photos> people={path}"
            )
        try:
            data = json.loads(path.read_text())
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT!r}")
            people = {name: Enrolled(**person) for name, person in data["people"].items()}
            for name, person in people.items():
                if not person.embeddings or len({len(e) for e in person.embeddings}) != 1:
                    raise ValueError(f"{name} has no embeddings of one size")
            return cls(data["identity_sha256"], people)
        except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError) as err:
            raise BadValue(
                f"people: {path} is not a readable people file ({err}); enrol the people again with fer enroll"
            ) from None

    def save(self, path: str | os.PathLike) -> Path:
        """Written whole or not at all (a temporary file renamed over the target)."""
        return write_atomic(path, json.dumps(asdict(self), indent=1))

    def enroll(self, name: str, embeddings: np.ndarray, profile: Profile | None = None, replace: bool = False) -> None:
        name = name.strip()
        if not name or name.startswith("p") and name[1:].isdigit():
            raise BadValue(f"name={name!r}: give a name (p1, p2, ... are the ids of people nobody named)")
        if name in self.people and not replace:
            raise BadValue(f"name={name}: already enrolled; forget={name} first, or replace=true to enrol again")
        chosen = spread_out(np.asarray(embeddings, np.float32), ENROLLED_EMBEDDINGS)
        self.people[name] = Enrolled(
            np.round(chosen, 6).tolist(), int(len(embeddings)), utc_now(), None if profile is None else asdict(profile)
        )

    def forget(self, name: str) -> None:
        if name not in self.people:
            raise BadValue(
                f"forget={name}: nobody of that name is enrolled (enrolled: "
                f"{', '.join(sorted(self.people)) or 'nobody'})"
            )
        del self.people[name]

    def check_identity(self, identity_sha256: str, path: str | os.PathLike) -> None:
        if self.identity_sha256 != identity_sha256:
            raise BadValue(
                f"people: {path} was enrolled with another identity network (sha256 "
                f"{self.identity_sha256[:12]}, this one {identity_sha256[:12]}); enrol the people again"
            )

    def persons(self) -> list[Person]:
        return [
            Person(name, [np.asarray(e, np.float32) for e in person.embeddings], named=True)
            for name, person in self.people.items()
        ]

    def profiles(self) -> dict[str, Profile]:
        return {name: Profile(**person.profile) for name, person in self.people.items() if person.profile}


def spread_out(embeddings: np.ndarray, count: int) -> np.ndarray:
    """Up to `count` of the embeddings, each chosen farthest from those chosen before (the first: the one
    nearest their mean): varied views of the person, not eight near-copies of one photo."""
    if len(embeddings) <= count:
        return embeddings
    chosen = [int(np.argmax(embeddings @ embeddings.mean(axis=0)))]
    while len(chosen) < count:
        nearest = (embeddings @ embeddings[chosen].T).max(axis=1)
        nearest[chosen] = np.inf
        chosen.append(int(np.argmin(nearest)))
    return embeddings[chosen]
