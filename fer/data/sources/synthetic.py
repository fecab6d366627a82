"""The embedded default: procedurally drawn cartoon faces, generated from a seed, no files.

Image `i` shows identity `i // images_per_identity` with expression `i % 7`, so the classes are
balanced and every identity shows every expression; identities are the subjects that splits group by.
"""

from functools import lru_cache

import cv2
import numpy as np

from fer.data.sample import ANIMATED, FaceSample
from fer.data.sources.base import Source
from fer.data.synthetic_faces import draw_face, sample_identity
from fer.labels import NUM_CLASSES

PREFIX = "synthetic:"


class Synthetic(Source):
    generated = True

    def __init__(
        self,
        num_identities: int = 60,
        images_per_identity: int = 42,
        seed: int = 0,
        size: int = 96,
        domain: str = ANIMATED,
        **kwargs,
    ) -> None:
        super().__init__(domain=domain, **kwargs)
        self.num_identities = num_identities
        self.images_per_identity = images_per_identity
        self.seed = seed
        self.size = size

    def available(self) -> bool:
        return True

    def records(self) -> list[FaceSample]:
        total = self.num_identities * self.images_per_identity
        return [
            FaceSample(
                path=f"{PREFIX}{self.seed}:{index}",
                label=index % NUM_CLASSES,
                domain=self.domain,
                subject=self.subject_id(f"id{index // self.images_per_identity:04d}"),
                source=self.name,
            )
            for index in range(total)
        ]

    def pixel_settings(self) -> dict:
        return {"seed": self.seed, "images_per_identity": self.images_per_identity, "size": self.size}

    def load(self, record: FaceSample) -> np.ndarray:
        index = int(record.path.rsplit(":", 1)[1])
        identity = _identity(self.seed, index // self.images_per_identity)
        bgr = draw_face(identity, index % NUM_CLASSES, seed=_mix(self.seed, index, 1), size=self.size)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)


@lru_cache(maxsize=4096)
def _identity(seed: int, identity_index: int):
    return sample_identity(_mix(seed, identity_index, 0))


def _mix(*values: int) -> int:
    # A stable seed from several integers (Python's hash() of tuples is salted per process for str,
    # not for ints, but SeedSequence states the intent and spreads nearby values apart).
    return int(np.random.SeedSequence(list(values)).generate_state(1)[0])
