"""`fer export` (also `python -m fer.export`): a model file or checkpoint in the deployable formats (int8
included), several exported models as one ensemble file, a trainable float model rebuilt from an int8 file, or
the embedding output added to an ONNX file exported without it.

    fer export ckpt=logs/train/runs/<date>/model.pt format=both
    fer export ckpt=checkpoints/last.ckpt format=onnx out=deploy/fer.onnx
    fer export ckpt=model.pt format=onnx_int8 calibration=<folder of face crops>
    fer export ensemble=a.int8.onnx,b.int8.onnx out=ensemble.onnx
    fer export to_float=fer/assets/default_model.onnx out=float/model.pt calibration=<folder of face crops>
    fer export embedding=old.onnx [out=new.onnx]        # in place without out=

One of ckpt=, ensemble=, to_float= and embedding= says what is exported. The float formats come from
`fer.export.export`, int8 and to_float from `fer.export.quantize`, ensembles from `fer.export.ensemble`, the
embedding output from `fer.export.embedding` (every ONNX file written here has it already; embedding= is for
files exported before it existed); this module is the one that uses them all (the float exporters know nothing of
quantisation).
"""

import sys
import tempfile
from pathlib import Path

from fer.errors import BadValue
from fer.export.embedding import add_embedding_to_file
from fer.export.ensemble import merge_ensemble
from fer.export.export import EXPORTERS, export_onnx
from fer.export.quantize import INT8, faces_from_folder, int8_to_float, quantize_onnx
from fer.models.model_file import load_model_file
from fer.utils.commands import key_values


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
SOURCES = ("ckpt", "ensemble", "to_float", "embedding")  # what is exported: exactly one of them
OPTIONS = {
    "ckpt": None,
    "format": None,
    "out": None,
    "calibration": None,
    "ensemble": None,
    "to_float": None,
    "embedding": None,
    "limit": "2048",
}
USAGE = (
    "usage: fer export ckpt=<model.pt or .ckpt> format=torchscript|onnx|onnx_int8|both "
    "[out=<file; a folder for format=both>] [calibration=<folder of face crops; for onnx_int8>] | "
    "fer export ensemble=<a.onnx>,<b.onnx>[,...] out=<file.onnx> | "
    "fer export to_float=<int8.onnx> out=<model.pt> calibration=<folder of face crops> [limit=2048] | "
    "fer export embedding=<model.onnx> [out=<file; default: in place>]"
)


def parse_args(argv: list[str]) -> dict[str, str | None]:
    """The options of `fer export`, checked for the kind of export they ask for (BadValue says what is wrong)."""
    args = key_values(argv, OPTIONS, USAGE)
    given = [key for key in SOURCES if args[key]]
    if len(given) != 1:
        raise BadValue(
            f"{' and '.join(f'{k}=' for k in given)}: name only one of them\n{USAGE}"
            if given
            else f"name what to export: ckpt=, ensemble=, to_float= or embedding=\n{USAGE}"
        )
    source = given[0]
    if source == "ckpt":
        if not args["format"]:
            raise BadValue(f"format= is missing; choose one of {', '.join(FORMATS)}\n{USAGE}")
        if args["format"] not in FORMATS:
            raise BadValue(f"format={args['format']}: choose one of {', '.join(FORMATS)}")
        if args["format"] == INT8 and not args["calibration"]:
            raise BadValue("format=onnx_int8 needs calibration=<folder of face crops like the ones it will see>")
        return args
    if args["format"]:
        raise BadValue(
            f"format= is for ckpt=; {source}= writes one {'model' if source == 'to_float' else 'ONNX'} "
            f"file, named by out={' (default: the file itself)' if source == 'embedding' else ''}"
        )
    if source == "embedding":
        return args
    if not args["out"]:
        raise BadValue(f"{source}= needs out=<the file to write>\n{USAGE}")
    if source == "ensemble" and len([m for m in args["ensemble"].split(",") if m]) < 2:
        raise BadValue(f"ensemble={args['ensemble']}: name two or more ONNX files, separated by commas")
    if source == "to_float":
        if not args["calibration"]:
            raise BadValue("to_float= needs calibration=<folder of face crops> to rebuild the BatchNorm statistics")
        if not args["limit"].isdigit() or int(args["limit"]) < 1:
            raise BadValue(f"limit={args['limit']}: expected a number of faces (1 or more)")
    return args


def export(args: dict[str, str | None]) -> list[str]:
    """Write what parsed `args` ask for; one line per file written."""
    if args["ensemble"]:
        return [f"wrote ensemble: {merge_ensemble([m for m in args['ensemble'].split(',') if m], args['out'])}"]
    if args["to_float"]:
        return [int8_to_float(args["to_float"], args["out"], args["calibration"], int(args["limit"]))]
    if args["embedding"]:
        return [f"wrote embedding: {add_embedding_to_file(args['embedding'], args['out'])}"]
    ckpt = Path(args["ckpt"])
    written = []
    for fmt, path in output_paths(ckpt, args["format"], args["out"]).items():
        if fmt == INT8:
            written.append(f"wrote {fmt}: {export_onnx_int8(ckpt, path, args['calibration'])}")
        else:
            written.append(f"wrote {fmt}: {EXPORTERS[fmt][0](ckpt, path)}")
    return written


def output_paths(ckpt: Path, fmt: str, out: str | None) -> dict[str, Path]:
    """Where each format goes: `out` is the file for one format and the folder for both; default next to ckpt."""
    formats = list(EXPORTERS) if fmt == "both" else [fmt]
    stem = ckpt.stem
    if out and fmt != "both":
        return {fmt: Path(out)}
    folder = Path(out) if out else ckpt.parent
    return {f: folder / f"{stem}{EXPORTERS[f][1] if f in EXPORTERS else INT8_SUFFIX}" for f in formats}


def main(argv: list[str] | None = None) -> int:
    """A usage error is one line and exit code 2; a file that cannot be read or used, one line and exit code 1."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if any(arg in ("-h", "--help", "help") for arg in argv):
        print(f"{__doc__.strip()}\n\n{USAGE}")
        return 0
    try:
        args = parse_args(argv)
    except BadValue as err:
        print(f"fer export: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    try:
        for line in export(args):
            print(line)
    except (FileNotFoundError, ValueError) as err:
        print(f"fer export: {' '.join(str(err).split())}", file=sys.stderr)
        return 1
    return 0
