"""One loader for every weights format: a batch of preprocessed faces in, logits out, as numpy.

    classifier = load_classifier("model.onnx")      # or model.ts.pt, model.pt, last.ckpt
    probs = classifier.probabilities(batch)          # batch: float32 N x C x H x W

The format is read from the file, not trusted from its name alone: `.onnx` runs on ONNX Runtime,
a TorchScript archive (a zip with `code/` or our `fer_meta.json`) on torch.jit, and anything else
must be a fer model file or a training checkpoint, run eagerly. torch is imported by the torch runtimes
only: ONNX weights run without it.
"""

import json
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np

from fer.errors import BadValue, MissingInput
from fer.models.model_file import ONNX_META_KEY, TORCHSCRIPT_META_FILE, load_model_file, quiet_jit_deprecation

DEFAULT_MODEL = "default_model.onnx"  # shipped in fer/assets; how it was made: fer/assets/README.md
# Models shipped in fer/assets by the name `weights=` takes: the ensemble is the more accurate, too slow for the
# live loop's targets to be the default (docs/models.md)
SHIPPED_MODELS = {"default": DEFAULT_MODEL, "ensemble": "ensemble_model.onnx"}
NAME_A_SHIPPED_MODEL = f"or name a shipped model: {', '.join(SHIPPED_MODELS)}"
# the shipped model's version, as fer/assets/README.md names it (its file states none): change both together
DEFAULT_MODEL_VERSION = "v3"
ACCEPTED = "an ONNX export (.onnx), a TorchScript export (fer export), a fer model file (model.pt) or a training .ckpt"


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Probabilities of softmax(logits / temperature), row by row, as float32 (computed in float64)."""
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    shifted = np.exp(scaled - scaled.max(axis=1, keepdims=True))  # shifted: no overflow for large logits
    return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)


class Classifier:
    """The network behind one interface, whatever runs it; subclasses implement `_forward`."""

    runtime: str

    def __init__(self, meta: dict, path: Path) -> None:
        self.path = path
        self.labels: tuple[str, ...] = tuple(meta["labels"])
        self.image_size: int = int(meta["image_size"])
        self.channels: int = int(meta["channels"])
        self.mean: float = float(meta["mean"])
        self.std: float = float(meta["std"])
        self.arch: dict = meta.get("arch", {})
        # calibration: logits / temperature before the softmax (fitted by fer.evaluation.calibration); 1.0 for
        # uncalibrated files
        self.temperature: float = float(meta.get("temperature", 1.0))
        # width of the `embedding` output (the head's hidden layer, fer.export.embedding); 0: the file has none
        self.embedding_size: int = int(meta.get("embedding", {}).get("size", 0))

    def logits(self, batch: np.ndarray) -> np.ndarray:
        return self.outputs(batch, embedding=False)[0]

    def outputs(self, batch: np.ndarray, embedding: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
        """(logits N x 7, embeddings N x embedding_size) of a batch; the embeddings are None when not asked
        for or when the file has no embedding output."""
        self._check(batch)
        embedding = embedding and self.embedding_size > 0
        if len(batch) == 0:  # ONNX Runtime rejects empty batches; an empty answer is the right one
            empty = np.zeros((0, self.embedding_size), np.float32) if embedding else None
            return np.zeros((0, len(self.labels)), np.float32), empty
        return self._forward(np.ascontiguousarray(batch, dtype=np.float32), embedding)

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        return softmax(self.logits(batch), self.temperature)

    def _forward(self, batch: np.ndarray, embedding: bool) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def _check(self, batch: np.ndarray) -> None:
        expected = (self.channels, self.image_size, self.image_size)
        if batch.ndim != 4 or tuple(batch.shape[1:]) != expected:
            raise ValueError(
                f"{self.path.name} expects a batch N x {' x '.join(map(str, expected))}, got {batch.shape}"
            )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.path.name}, runtime={self.runtime}, {self.channels}x{self.image_size}"
            f"x{self.image_size}, {len(self.labels)} labels)"
        )


class TorchClassifier(Classifier):
    runtime = "torch"

    def __init__(self, path: Path) -> None:
        self.model, pre, meta = load_model_file(path)  # imports torch
        super().__init__(
            {
                **meta,
                "image_size": pre.image_size,
                "channels": pre.channels,
                "mean": pre.mean,
                "std": pre.std,
                "embedding": {"size": self.model.embedding_size},
            },
            path,
        )

    def _forward(self, batch: np.ndarray, embedding: bool) -> tuple[np.ndarray, np.ndarray | None]:
        import torch

        with torch.inference_mode():
            logits, hidden = self.model.forward_with_embedding(torch.from_numpy(batch))
        return logits.numpy(), hidden.numpy() if embedding else None


class TorchScriptClassifier(Classifier):
    runtime = "torchscript"

    def __init__(self, path: Path) -> None:
        import torch  # here: only TorchScript weights need it

        extra = {TORCHSCRIPT_META_FILE: ""}
        with quiet_jit_deprecation():
            self.module = torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
        if not extra[TORCHSCRIPT_META_FILE]:
            raise BadValue(
                f"weights: {path} is a TorchScript archive without {TORCHSCRIPT_META_FILE}; export it with fer export"
            )
        super().__init__(json.loads(extra[TORCHSCRIPT_META_FILE]), path)

    def _forward(self, batch: np.ndarray, embedding: bool) -> tuple[np.ndarray, np.ndarray | None]:
        import torch

        with torch.inference_mode():
            out = self.module(torch.from_numpy(batch))
        if isinstance(out, (tuple, list)):  # (logits, embedding): exported with the embedding output
            return out[0].numpy(), out[1].numpy() if embedding else None
        return out.numpy(), None


class OnnxClassifier(Classifier):
    runtime = "onnxruntime"

    def __init__(self, path: Path, threads: int = 2) -> None:
        import onnxruntime as ort  # imported here: only ONNX users pay for it

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1  # one sequential graph: more inter-op threads only add wake-ups
        # Idle ONNX Runtime threads otherwise spin on the cores between calls, and the detector that
        # runs between two classifications then gets half the CPU.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own exception types for unreadable models
            raise BadValue(f"weights: {path} is not a readable ONNX model ({err}); expected {ACCEPTED}") from err
        props = self.session.get_modelmeta().custom_metadata_map
        if ONNX_META_KEY not in props:
            raise BadValue(
                f"weights: {path} is an ONNX model without '{ONNX_META_KEY}' metadata; export it with fer export"
            )
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [output.name for output in self.session.get_outputs()]
        super().__init__(json.loads(props[ONNX_META_KEY]), path)

    def _forward(self, batch: np.ndarray, embedding: bool) -> tuple[np.ndarray, np.ndarray | None]:
        if embedding:
            logits, hidden = self.session.run([self.output_names[0], "embedding"], {self.input_name: batch})
            return logits, hidden
        return self.session.run(self.output_names[:1], {self.input_name: batch})[0], None


def weights_path(weights: str | Path | None) -> Path:
    """What `weights=` names: a file, a shipped model's name (`default`, `ensemble`; a file of that name wins),
    or None for the default model."""
    if not weights:
        return default_weights()
    path = Path(weights).expanduser()
    if not path.exists() and str(weights) in SHIPPED_MODELS:
        return default_weights(SHIPPED_MODELS[str(weights)])
    return path


def default_weights(name: str | None = None) -> Path:
    """The model the package ships, used wherever no `weights` is given (or another shipped file by name)."""
    path = Path(str(resources.files("fer") / "assets" / (name or DEFAULT_MODEL)))
    if not path.is_file():
        raise MissingInput(
            f"no default model is installed ({path} is missing). Pass weights=<model.onnx, exported .pt, "
            "model.pt or .ckpt>, e.g. the model.pt that `python train.py` writes in its run folder."
        )
    return path


def weights_version(path: str | Path) -> str:
    """What a client is told about the weights: the shipped model's version, or another file's name (never
    its folder, which is the server's business)."""
    path = Path(path)
    shipped = default_weights()
    return DEFAULT_MODEL_VERSION if path.resolve() == shipped.resolve() else path.name


def load_classifier(path: str | Path, threads: int = 2) -> Classifier:
    """Load any weights file this package writes; `threads` sets ONNX Runtime's intra-op threads.

    The torch runtimes use torch's global thread setting (`torch.set_num_threads`), which a
    library should not change behind its caller's back.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"weights: no such file: {path} ({NAME_A_SHIPPED_MODEL})")
    if path.suffix.lower() == ".onnx":
        return OnnxClassifier(path, threads)
    if _is_torchscript(path):
        return TorchScriptClassifier(path)
    try:
        return TorchClassifier(path)
    except ValueError as err:
        raise BadValue(
            f"weights: {path} is not a weights file this package can load; expected {ACCEPTED} ({err})"
        ) from err


def _is_torchscript(path: Path) -> bool:
    # torch.save also writes zips (<archive>/data.pkl ...); only TorchScript archives hold code/.
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any("/code/" in name or name.endswith(f"extra/{TORCHSCRIPT_META_FILE}") for name in names)
