"""Facial expression recognition: seven expressions from faces in images, video and cameras.

    import fer
    fer.Recognizer().predict("photo.jpg")   # [{"box": [x, y, w, h], "label": "happy", "score": 0.93, ...}]
    fer.predict("photo.jpg")                # the same with the shipped model, loaded once
    fer.summarise("run.jsonl").write("people.csv")   # per-person summary of infer.py's records (docs/summaries.md)

The API lives in `fer.api` (front door of `fer.inference.recognizer`); it is imported on first use, so
`import fer.<module>` stays light. The package is grouped by stage (docs/layout.md).
"""

from fer.labels import LABELS

__all__ = ["LABELS", "Recognizer", "predict", "Profile", "UserError", "summarise"]
_LAZY = {
    "Recognizer": "fer.api",
    "predict": "fer.api",
    "Profile": "fer.api",
    "UserError": "fer.errors",
    "summarise": "fer.inference.summary",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'fer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
