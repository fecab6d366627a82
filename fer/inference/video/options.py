"""The check of the video loops' options, shared by both loops and the recognizer (which checks them at once,
not at a source's first frame)."""

from fer.errors import BadValue


def check_live_options(
    detect_every: int, smoothing: float, max_unconfirmed: int = 1, classify_per_frame: int = 0
) -> None:
    if detect_every < 1 or not 0 <= smoothing < 1 or max_unconfirmed < 1 or classify_per_frame < 0:
        raise BadValue(
            f"detect_every={detect_every}, smoothing={smoothing}, max_unconfirmed={max_unconfirmed}, "
            f"classify_per_frame={classify_per_frame}: detect_every and max_unconfirmed must be >= 1, "
            "classify_per_frame >= 0 and smoothing in [0, 1)"
        )
