"""The recognizer's settings, each written once: its default and a line on what it does.

`fer.Recognizer(...)` takes them as keywords (its defaults are these), infer.py builds its recognizer from
them (`RecognizerOptions.from_config`; conf/infer.yaml starts from these defaults, which fer/commands/infer.py
stores as a Hydra config node), `fer serve` takes the ones it offers from here (`fer.serve.options`, which names
the few defaults a server changes) and bench/latency.py runs the video loops at them. The longer story of each:
docs/inference.md (detectors, test-time flip, the live and exact loops), docs/calibration.md (profiles, baseline)
and docs/people.md (people).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Optional

BASELINES = ("off", "auto")
PEOPLE_MODES = ("auto", "off")


def setting(default, help: str):
    """A field with its one-line help (what `fer serve --help` prints for the settings serve takes)."""
    return field(default=default, metadata={"help": help})


@dataclass
class RecognizerOptions:
    """What a `Recognizer` runs with: the model, the detector, and the video loops' settings. Values as a config
    writes them; the Python API also takes a path object for `weights`, a detector object (anything with
    `detect(grey) -> boxes`) or None for `detector`, and a `fer.Profile` for `profile`."""

    weights: Optional[str] = setting(
        None,
        "a model file (.onnx, TorchScript .pt, fer model.pt, training .ckpt) or a "
        "shipped model's name (default, ensemble); null: the shipped default",
    )
    detector: str = setting(
        "haar", "haar | yunet | none (every input is already a face crop): fer.faces.detect.DETECTORS"
    )
    faces: str = setting("all", "all | largest")
    tta_flip: bool = setting(
        True,
        "average each face with its mirror image (a second pass a face; the live loop "
        "takes the two views on alternate frames)",
    )
    threads: int = setting(2, "classifier threads (ONNX Runtime intra-op; torch follows torch.set_num_threads)")
    detect_every: int = setting(3, "video: the full-frame detector every N frames (boxes held or followed between)")
    smoothing: float = setting(0.6, "video: weight of a face's previous probabilities (moving average; 0 = off)")
    realtime: Any = setting(
        "auto",
        "auto: cameras and streams live, video files exact; true: video files live too "
        "(at their frame rate); false: everything exact (the same records every run)",
    )
    max_unconfirmed: int = setting(10, "live: drop a face that no detection has confirmed for this many frames")
    local_search: bool = setting(
        True,
        "live: between full scans follow each face by a search in a window around its last box (false: hold boxes)",
    )
    classify_per_frame: int = setting(
        2,
        "live: classify at most this many faces a frame, those classified longest "
        "ago (new faces always); 0 = every face every frame",
    )
    profile: Optional[str] = setting(None, "a calibration profile (fer calibrate) applied to every face; null: none")
    profile_force: bool = setting(
        False, "accept a profile fitted for another model file (profiles are tied to its sha256)"
    )
    baseline: str = setting(
        "off",
        "video and streams: auto builds each tracked face's own reference from its "
        "frames, no labels (docs/calibration.md); off: not",
    )
    people: str = setting(
        "auto",
        "auto: a person id (p1, p2, ...) per face, kept for the whole source; a people "
        "file (fer enroll) also names enrolled people and applies their profiles; off",
    )

    @classmethod
    def from_config(cls, config: Mapping, **given) -> "RecognizerOptions":
        """The settings a config holds (infer.py's: conf/infer.yaml with its overrides), `given` on top; a setting
        the config lacks keeps its default."""
        return cls(**{**{f.name: config[f.name] for f in fields(cls) if f.name in config}, **given})


def help_line(name: str) -> str:
    """A setting's one line."""
    return next(f.metadata["help"] for f in fields(RecognizerOptions) if f.name == name)


def settings_doc(indent: str = "    ") -> str:
    """The settings as a docstring's section (`help(fer.Recognizer)` lists them): name=default: its line."""
    lines = [f"{indent * 2}{f.name}={f.default!r}: {f.metadata['help']}" for f in fields(RecognizerOptions)]
    return f"\n{indent}Keywords (RecognizerOptions):\n" + "\n".join(lines) + f"\n{indent}"
