"""`fer import-weights source=<folder of the publisher's MobileFace files>`: MobileFace (MIT, becauseofAI/MobileFace)
brought into the package from its MXNet files, read without MXNet.

    fer import-weights source=../shared/weights/mobileface                  # the identity network (fer/assets)
    fer import-weights source=<folder> out=x.onnx faces=../shared/data float_out=x.fp32.onnx
    fer import-weights source=<folder> what=trunks                          # fer/models/mobileface_trunks.py

what=identity (the default) writes the face-identity network who-is-who uses, int8 with its match threshold
measured on JAFFE and CK+48 faces (fer/export/identity.py); what=trunks regenerates the trunk structures
training builds MobileFace backbones from (fer/models/mobileface.py). Training reads the weights themselves from
the folder (model.weights=<folder>), so it needs no import.
"""

from pathlib import Path

from fer.errors import BadValue
from fer.utils.commands import key_values, needs_train_extra, run_command

WHAT = ("identity", "trunks")
OPTIONS = {
    "source": None,
    "what": "identity",
    "out": None,
    "faces": "../shared/data",
    "margin": None,
    "float_out": None,
}
USAGE = (
    "usage: fer import-weights source=<folder of MobileFace_Identification_V1/V2 files> [what=identity|trunks] "
    "[out=<int8 file; default: the shipped identity network>] [faces=<folder holding jaffe/ and ckplus48/>] "
    "[margin=<crop margin>] [float_out=<also the float32 file>]"
)


def import_weights(argv: list[str]) -> str:
    options = key_values(argv, OPTIONS, USAGE, required=("source",))
    if options["what"] not in WHAT:
        raise BadValue(f"what={options['what']}: choose one of {', '.join(WHAT)}")
    needs_train_extra("import-weights")
    try:
        if options["what"] == "trunks":
            from fer.models.mobileface import write_trunks

            return f"wrote {write_trunks(options['source'])}"
        from fer.export.identity import import_identity, written
        from fer.inference.identity import CROP_MARGIN, shipped_identity_model

        margin = float(options["margin"]) if options["margin"] else CROP_MARGIN
        out = import_identity(
            options["source"],
            options["out"] or shipped_identity_model(),
            Path(options["faces"]),
            margin,
            options["float_out"],
        )
    except (FileNotFoundError, ValueError) as err:  # a folder without the files, a bad margin: one line
        raise BadValue(str(err)) from err
    return written(out)


def main(argv: list[str] | None = None) -> int:
    return run_command(argv, USAGE, "fer import-weights", import_weights)
