"""Export a trained model to TorchScript or ONNX, each file carrying the metadata needed to feed it.

    export_onnx("logs/train/runs/<date>/model.pt", "deploy/fer.onnx")   # or export_torchscript

`fer export` (fer/export/write.py) runs these from the command line, int8 included. Both formats embed the same
JSON (`fer-torchscript/1` or `fer-onnx/1`: labels, image size, channels, mean, std, arch, outputs "logits" and
"embedding" (fer.export.embedding), temperature): as the extra file `fer_meta.json` of the TorchScript archive and
as the `fer_meta` entry of the ONNX model's `metadata_props`. `fer.inference.runtime.load_classifier` reads it
back, so an exported file is all an inference machine needs.
"""

import json
from pathlib import Path

import onnx
import torch
from torch import nn

from fer.export.embedding import EMBEDDING, LAYER, add_embedding_output
from fer.models.model_file import (
    ONNX_META_FORMAT,
    ONNX_META_KEY,
    TORCHSCRIPT_META_FILE,
    TORCHSCRIPT_META_FORMAT,
    Preprocessing,
    load_model_file,
    quiet_jit_deprecation,
)

ONNX_OPSET = 18
INPUT_NAME, OUTPUT_NAME = "image", "logits"


def export_metadata(pre: Preprocessing, meta: dict, format_name: str) -> dict:
    return {
        "format": format_name,
        "labels": list(meta["labels"]),
        "image_size": pre.image_size,
        "channels": pre.channels,
        "mean": pre.mean,
        "std": pre.std,
        "arch": meta["arch"],
        "outputs": OUTPUT_NAME,
        # divide the logits by this before the softmax (fitted on validation data; 1.0 when not fitted)
        "temperature": float(meta.get("temperature", 1.0)),
    }


class WithEmbedding(nn.Module):
    """The network whose forward returns (logits, embedding) (`FERClassifier.forward_with_embedding`), for tracing."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.model.forward_with_embedding(x)


def _example_input(pre: Preprocessing) -> torch.Tensor:
    # A batch of 2, not 1: the ONNX exporter specialises a dimension of size 1 and could not mark it dynamic.
    return torch.zeros(2, pre.channels, pre.image_size, pre.image_size)


def export_torchscript(model_file_or_ckpt: str | Path, out: str | Path) -> Path:
    model, pre, meta = load_model_file(model_file_or_ckpt)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    metadata = export_metadata(pre, meta, TORCHSCRIPT_META_FORMAT)
    metadata.update(
        outputs=[OUTPUT_NAME, EMBEDDING], embedding={"output": EMBEDDING, "size": model.embedding_size, "layer": LAYER}
    )
    with quiet_jit_deprecation(), torch.no_grad():
        traced = torch.jit.trace(WithEmbedding(model).eval(), _example_input(pre))
        # Freezing inlines the weights as constants and folds eval-mode batch norm into the convolutions.
        frozen = torch.jit.freeze(traced)
        torch.jit.save(frozen, str(out), _extra_files={TORCHSCRIPT_META_FILE: json.dumps(metadata)})
    return out


def export_onnx(model_file_or_ckpt: str | Path, out: str | Path, embedding: bool = True) -> Path:
    """float32 ONNX; `embedding=False` leaves the embedding output off (the int8 writer quantises the plain graph,
    then adds it)."""
    model, pre, meta = load_model_file(model_file_or_ckpt)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    program = torch.onnx.export(
        model,
        (_example_input(pre),),
        None,
        dynamo=True,
        verbose=False,
        opset_version=ONNX_OPSET,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_shapes=({0: torch.export.Dim("batch")},),  # per positional input: dimension 0 is the batch
    )
    program.model.metadata_props[ONNX_META_KEY] = json.dumps(export_metadata(pre, meta, ONNX_META_FORMAT))
    # One self-contained file (weights inline) unless the model passes protobuf's 2 GB limit.
    program.save(out, external_data=False)
    if embedding:
        onnx.save(add_embedding_output(onnx.load(str(out))), str(out))
    return out


EXPORTERS = {"torchscript": (export_torchscript, ".ts.pt"), "onnx": (export_onnx, ".onnx")}
