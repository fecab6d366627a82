"""Model files: a state_dict plus the metadata to rebuild and feed the network. No pickled modules.

    {"format": "fer-model/1", "arch": {...}, "labels": [...], "image_size": 48, "channels": 1,
     "mean": 0.5, "std": 0.5, "state_dict": {...}}

Loaded with `torch.load(..., weights_only=True)`, so a model file cannot run code. Lightning
checkpoints (.ckpt) of our LightningModule load the same way.

The exported formats (`fer.export`) carry the same metadata as JSON: inside a TorchScript archive as the
extra file `TORCHSCRIPT_META_FILE` (`TORCHSCRIPT_META_FORMAT`), in an ONNX model's `metadata_props` under
`ONNX_META_KEY` (`ONNX_META_FORMAT`; ONNX files exported before it, the shipped ones among them, say
`TORCHSCRIPT_META_FORMAT` and load the same: the readers take the JSON's fields, whatever its format says).
Those names live here, beside the format they describe, so that the runtime reads them without the exporter.
This module imports torch only where a function needs it: ONNX inference reads the names and never loads torch.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fer.labels import LABELS

if TYPE_CHECKING:
    from fer.models.classifier import FERClassifier

FORMAT = "fer-model/1"
TORCHSCRIPT_META_FORMAT = "fer-torchscript/1"  # the JSON a TorchScript archive embeds
ONNX_META_FORMAT = "fer-onnx/1"  # the same JSON in an ONNX file
TORCHSCRIPT_META_FILE = "fer_meta.json"  # extra file inside the TorchScript archive
ONNX_META_KEY = "fer_meta"  # key in the ONNX model's metadata_props


def read_onnx_file(path: str | Path, what: str = "ONNX file"):
    """(onnx.ModelProto, metadata dict) of an ONNX file this package exported; `what` names it in errors."""
    import json

    import onnx  # here: the exporters need it, inference does not

    if not Path(path).is_file():
        raise FileNotFoundError(f"{what}: no such file: {path}")
    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    if ONNX_META_KEY not in props:
        raise ValueError(f"{path}: no {ONNX_META_KEY} metadata; not an {what} exported by this package")
    return model, json.loads(props[ONNX_META_KEY])


# torch 2.14 marks every torch.jit entry point deprecated with messages like
# "`torch.jit.trace` is deprecated. Please switch to `torch.compile` or `torch.export`."
# Only those are silenced; any other FutureWarning still reaches the user.
JIT_DEPRECATION = r"`torch\.jit\.\w+` is deprecated"


@contextlib.contextmanager
def quiet_jit_deprecation():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=JIT_DEPRECATION)
        yield


@dataclass
class Preprocessing:
    image_size: int
    channels: int
    mean: float
    std: float


def save_model_file(path: str | Path, model: FERClassifier, pre: Preprocessing, extra: dict | None = None) -> Path:
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "arch": model.arch.as_dict(),
        "labels": list(LABELS),
        "image_size": pre.image_size,
        "channels": pre.channels,
        "mean": pre.mean,
        "std": pre.std,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        **(extra or {}),
    }
    torch.save(payload, path)
    return path


def load_model_file(path: str | Path) -> tuple[FERClassifier, Preprocessing, dict]:
    """Rebuild a model from a model file or a training checkpoint: (eval-mode model, preprocessing, metadata)."""
    import torch

    from fer.models.classifier import Architecture, FERClassifier

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights: no such file: {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch's reasons run to many lines; their first names the problem
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "weights only load failed" in reason.lower():
            reason = "not a torch file, or one holding pickled objects, which weights_only loading refuses"
        raise ValueError(f"weights: {path} is not a model file or checkpoint this package can read ({reason})") from err
    meta = _metadata(payload, path)
    model = FERClassifier(Architecture(**meta["arch"]))
    try:
        model.load_state_dict(meta["state_dict"])
    except RuntimeError as err:  # weights saved by an older, different version of the architecture
        raise ValueError(f"weights: {path} does not fit the architecture it names ({meta['arch']}): {err}") from err
    model.eval()
    pre = Preprocessing(meta["image_size"], meta["channels"], meta["mean"], meta["std"])
    return model, pre, meta


def own_state_dict(path: str | Path) -> dict | None:
    """The classifier state_dict inside a model file or checkpoint of ours; None for any other file.

    Lets `model.weights` start a run from an earlier run (FER2013 pre-training, then fine-tuning)
    as well as from a publisher's backbone state_dict.
    """
    import torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
        return _metadata(payload, Path(path))["state_dict"]
    except Exception:  # not ours (or not readable): the backbone loader reports what is wrong with it
        return None


def warm_start(model: FERClassifier, state: dict, path: str | Path) -> int:
    """Start `model` from the state_dict of one of our model files (`path` names it in errors): the whole
    backbone must fit; head tensors are copied where they fit (a head of other widths starts fresh).
    Returns how many tensors were copied."""
    own = model.state_dict()
    fitting = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    backbone = [k for k in own if k.startswith("backbone.")]
    if any(k not in fitting for k in backbone):
        raise ValueError(
            f"model.weights: {path} holds no tensors that fit {model.arch.backbone} "
            "(its backbone is a different architecture or size)"
        )
    model.load_state_dict(fitting, strict=False)
    return len(fitting)


def _metadata(payload, path: Path) -> dict:
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        return payload
    if isinstance(payload, dict) and "hyper_parameters" in payload and "state_dict" in payload:
        hp = payload["hyper_parameters"]
        prefix = "net."
        state = {k[len(prefix) :]: v for k, v in payload["state_dict"].items() if k.startswith(prefix)}
        return {
            "arch": hp["arch"],
            "labels": hp.get("labels", list(LABELS)),
            "image_size": hp["image_size"],
            "channels": hp["arch"]["in_chans"],
            "mean": hp["mean"],
            "std": hp["std"],
            "state_dict": state,
        }
    raise ValueError(
        f"weights: {path} is neither a fer model file ({FORMAT}) nor a training checkpoint of this package"
    )
