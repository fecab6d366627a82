"""`python -m fer.export`: a model file or checkpoint written in the deployable formats.

    python -m fer.export ckpt=logs/train/runs/<date>/model.pt format=both
    python -m fer.export ckpt=checkpoints/last.ckpt format=onnx out=deploy/fer.onnx
    python -m fer.export ckpt=model.pt format=onnx_int8 calibration=<folder of face crops>

The float formats come from `fer.export.export`, int8 from `fer.export.quantize`; this module is the one
that uses both (the float exporters know nothing of quantisation).
"""

import sys
import tempfile
from pathlib import Path

from fer.export.embedding import add_embedding_to_file
from fer.export.export import EXPORTERS, export_onnx
from fer.export.quantize import INT8, faces_from_folder, quantize_onnx
from fer.models.model_file import load_model_file


def export_onnx_int8(model_file_or_ckpt: str | Path, out: str | Path, calibration: str | Path) -> Path:
    """float32 ONNX, then static int8 quantisation calibrated on a folder of face crops (fer.export.quantize)."""
    _, pre, _ = load_model_file(model_file_or_ckpt)
    faces = faces_from_folder(calibration, pre.image_size, pre.mean, pre.std, pre.channels)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_onnx(model_file_or_ckpt, Path(tmp) / "fp32.onnx", embedding=False)
        # the embedding output is added to the quantised graph, so that it changes none of its fusions
        return add_embedding_to_file(quantize_onnx(fp32, out, faces))


INT8_SUFFIX = ".int8.onnx"
FORMATS = (*EXPORTERS, INT8, "both")
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
    if args["format"] == INT8 and not args.get("calibration"):
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
            if fmt == INT8:
                print(f"wrote {fmt}: {export_onnx_int8(ckpt, path, args['calibration'])}")
            else:
                print(f"wrote {fmt}: {EXPORTERS[fmt][0](ckpt, path)}")
    except (FileNotFoundError, ValueError) as err:
        print(f"fer.export: {err}", file=sys.stderr)
        return 1
    return 0

