"""Export a trained model to TorchScript or ONNX, each file carrying the metadata needed to feed it.

    python -m fer.export ckpt=logs/train/runs/<date>/model.pt format=both
    python -m fer.export ckpt=checkpoints/last.ckpt format=onnx out=deploy/fer.onnx

Both formats embed the same JSON (`fer-torchscript/1`: labels, image size, channels, mean, std,
arch, outputs "logits", temperature): as the extra file `fer_meta.json` of the TorchScript archive and as the
`fer_meta` entry of the ONNX model's `metadata_props`. `fer.runtime.load_classifier` reads it
back, so an exported file is all an inference machine needs.
"""

import contextlib
import json
import sys
import warnings
from pathlib import Path

import torch

from fer.models.model_file import Preprocessing, load_model_file

META_FORMAT = "fer-torchscript/1"
TORCHSCRIPT_META_FILE = "fer_meta.json"  # extra file inside the TorchScript archive
ONNX_META_KEY = "fer_meta"  # key in the ONNX model's metadata_props
ONNX_OPSET = 18
INPUT_NAME, OUTPUT_NAME = "image", "logits"

# torch 2.14 marks every torch.jit entry point deprecated with messages like
# "`torch.jit.trace` is deprecated. Please switch to `torch.compile` or `torch.export`."
# Only those are silenced; any other FutureWarning still reaches the user.
JIT_DEPRECATION = r"`torch\.jit\.\w+` is deprecated"


@contextlib.contextmanager
def quiet_jit_deprecation():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning, message=JIT_DEPRECATION)
        yield


def export_metadata(pre: Preprocessing, meta: dict) -> dict:
    return {
        "format": META_FORMAT, "labels": list(meta["labels"]), "image_size": pre.image_size,
        "channels": pre.channels, "mean": pre.mean, "std": pre.std, "arch": meta["arch"], "outputs": OUTPUT_NAME,
        # divide the logits by this before the softmax (fitted on validation data; 1.0 when not fitted)
        "temperature": float(meta.get("temperature", 1.0)),
    }


def _example_input(pre: Preprocessing) -> torch.Tensor:
    # A batch of 2, not 1: the ONNX exporter specialises a dimension of size 1 and could not mark it dynamic.
    return torch.zeros(2, pre.channels, pre.image_size, pre.image_size)


def export_torchscript(model_file_or_ckpt: str | Path, out: str | Path) -> Path:
    model, pre, meta = load_model_file(model_file_or_ckpt)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with quiet_jit_deprecation(), torch.no_grad():
        traced = torch.jit.trace(model, _example_input(pre))
        # Freezing inlines the weights as constants and folds eval-mode batch norm into the convolutions.
        frozen = torch.jit.freeze(traced)
        torch.jit.save(frozen, str(out), _extra_files={TORCHSCRIPT_META_FILE: json.dumps(export_metadata(pre, meta))})
    return out


def export_onnx(model_file_or_ckpt: str | Path, out: str | Path) -> Path:
    model, pre, meta = load_model_file(model_file_or_ckpt)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    program = torch.onnx.export(
        model, (_example_input(pre),), None, dynamo=True, verbose=False, opset_version=ONNX_OPSET,
        input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
        dynamic_shapes=({0: torch.export.Dim("batch")},),  # per positional input: dimension 0 is the batch
    )
    program.model.metadata_props[ONNX_META_KEY] = json.dumps(export_metadata(pre, meta))
    # One self-contained file (weights inline) unless the model passes protobuf's 2 GB limit.
    program.save(out, external_data=False)
    return out


def export_onnx_int8(model_file_or_ckpt: str | Path, out: str | Path, calibration: str | Path) -> Path:
    """float32 ONNX, then static int8 quantisation calibrated on a folder of face crops (fer.quantize)."""
    import tempfile

    from fer.quantize import faces_from_folder, quantize_onnx

    _, pre, _ = load_model_file(model_file_or_ckpt)
    faces = faces_from_folder(calibration, pre.image_size, pre.mean, pre.std, pre.channels)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(model_file_or_ckpt, Path(tmp) / "fp32.onnx")
        return quantize_onnx(fp32, out, faces)


EXPORTERS = {"torchscript": (export_torchscript, ".ts.pt"), "onnx": (export_onnx, ".onnx")}
INT8_SUFFIX = ".int8.onnx"
FORMATS = (*EXPORTERS, "onnx_int8", "both")
USAGE = ("usage: python -m fer.export ckpt=<model.pt or .ckpt> format=torchscript|onnx|onnx_int8|both "
         "[out=<file; a folder for format=both>] [calibration=<folder of face crops; for onnx_int8>]")


class UsageError(ValueError):
    pass


def parse_args(argv: list[str]) -> dict[str, str]:
    args = {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise UsageError(f"expected key=value, got '{arg}'")
        if key not in ("ckpt", "format", "out", "calibration"):
            raise UsageError(f"unknown key '{key}' (known: ckpt, format, out, calibration)")
        args[key] = value
    for key in ("ckpt", "format"):
        if not args.get(key):
            raise UsageError(f"missing key '{key}'")
    if args["format"] not in FORMATS:
        raise UsageError(f"format={args['format']}: choose one of {', '.join(FORMATS)}")
    if args["format"] == "onnx_int8" and not args.get("calibration"):
        raise UsageError("format=onnx_int8 needs calibration=<folder of face crops like the ones it will see>")
    return args


def output_paths(ckpt: Path, fmt: str, out: str | None) -> dict[str, Path]:
    """Where each format goes: `out` is the file for one format and the folder for both; default next to ckpt."""
    formats = list(EXPORTERS) if fmt == "both" else [fmt]
    stem = ckpt.stem
    if out and fmt != "both":
        return {fmt: Path(out)}
    folder = Path(out) if out else ckpt.parent
    return {f: folder / f"{stem}{EXPORTERS[f][1] if f in EXPORTERS else INT8_SUFFIX}" for f in formats}


def main(argv: list[str]) -> int:
    try:
        args = parse_args(argv)
    except UsageError as err:
        print(f"fer.export: {err}\n{USAGE}", file=sys.stderr)
        return 2
    ckpt = Path(args["ckpt"])
    try:
        for fmt, path in output_paths(ckpt, args["format"], args.get("out")).items():
            if fmt == "onnx_int8":
                print(f"wrote {fmt}: {export_onnx_int8(ckpt, path, args['calibration'])}")
            else:
                print(f"wrote {fmt}: {EXPORTERS[fmt][0](ckpt, path)}")
    except (FileNotFoundError, ValueError) as err:
        print(f"fer.export: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
