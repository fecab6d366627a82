"""The seven expressions, in the one order used everywhere, and the names sources use for them."""

LABELS: tuple[str, ...] = ("anger", "disgust", "fear", "happy", "neutral", "sad", "surprise")
NUM_CLASSES = len(LABELS)

# Names that publishers use for our labels. Anything not here and not in LABELS is unknown;
# "contempt" (CK+) is deliberately absent: it is not one of the seven.
ALIASES: dict[str, str] = {
    "angry": "anger",
    "disgusted": "disgust",
    "fearful": "fear",
    "afraid": "fear",
    "happiness": "happy",
    "joy": "happy",
    "sadness": "sad",
    "surprised": "surprise",
}


def label_index(name: str, extra_map: dict[str, str | None] | None = None) -> int | None:
    """Index of a label name in LABELS, or None when the name is unknown or mapped to None (dropped).

    `extra_map` (from config) wins over the built-in aliases, so a user can map `contempt: disgust`
    or drop a class with `neutral: null`.
    """
    key = name.strip().lower()
    if extra_map and key in extra_map:
        mapped = extra_map[key]
        if mapped is None:
            return None
        key = mapped.strip().lower()
    key = ALIASES.get(key, key)
    return LABELS.index(key) if key in LABELS else None
