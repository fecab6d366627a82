"""MobileFace face-recognition networks (MIT, becauseofAI/MobileFace) as backbones, from their MXNet files.

    create_backbone("mobileface", variant="v1", in_chans=1)                          # random weights
    create_backbone("mobileface", weights="../shared/weights/mobileface", variant="v2")  # the publisher's

The backbone is the convolutional trunk of the face-recognition network (everything before its
Flatten + FullyConnected embedding) followed by global average pooling, so any input size works and
`num_features` is the trunk's channel count. The trunk's structure ships with the package
(`fer/models/mobileface_trunks.py`, generated from the graphs with `fer import-weights source=<folder of the
MobileFace files> what=trunks`), so model files trained from it rebuild without the MXNet files; only the weights
come from them. Each network's input scaling is left to our normalisation config
(`TRUNKS[variant]["native"]`: V1 (x - 127.5) / 127.5 is mean 0.5, std 0.5 on [0, 1] images; V2's own
(x - 127.5) / 128 is mean 0.5, std 128/255). V2 reads BGR: for a grey input its first convolution's
filters are summed over the three channels (the same response as grey repeated three times).
"""

import hashlib
import re
from pathlib import Path

import torch
from torch import nn

from fer.models.mobileface_trunks import TRUNKS
from fer.models.mxnet_graph import MXNetFormatError, build_module, graph_spec, load_params, read_params, read_symbol

STEMS = {"v1": "MobileFace_Identification_V1", "v2": "MobileFace_Identification_V2"}
NATIVE_INPUT = {"v1": (1, 100, 100), "v2": (3, 112, 112)}
# V1's graph has no input scaling; its publisher scales by the caller, as (x - 127.5) / 127.5
CALLER_SCALING = {"v1": [["sub", 127.5], ["div", 127.5]]}
PARAMS_SUFFIX, SYMBOL_SUFFIX = "-0000.params", "-symbol.json"
HOW_TO_POINT = (
    "point model.weights at the MobileFace_Identification_V1 or _V2 checkpoint stem "
    "(e.g. ../shared/weights/mobileface/MobileFace_Identification_V1) or at the folder holding them"
)


class MobileFace(nn.Module):
    """The trunk of MobileFace `variant` (a torch.fx network with the graph's layer names), pooled to a
    `pooled_side` x `pooled_side` grid (1: global average). A grid keeps where a feature is, as the compact
    CNN's does: a raised brow and a raised lip corner can look alike locally."""

    def __init__(self, variant: str = "v1", in_chans: int = 1, pooled_side: int = 1) -> None:
        super().__init__()
        spec = trunk_spec(variant)
        self.variant = variant
        self.trunk = build_module(spec, in_chans)
        self.pool = nn.AdaptiveAvgPool2d(pooled_side)
        self.num_features = spec["output_shape"][0] * pooled_side * pooled_side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.trunk(x)), 1)


def trunk_spec(variant: str) -> dict:
    if variant not in TRUNKS:
        raise ValueError(
            f"mobileface variant {variant!r}: choose one of {', '.join(sorted(TRUNKS))} (model.variant=v1|v2)"
        )
    return TRUNKS[variant]


def mobileface_backbone(
    in_chans: int, weights: str | None = None, variant: str = "v1", pooled_side: int = 1
) -> MobileFace:
    """A MobileFace trunk, from the publisher's MXNet files where `weights` names them (`pretrained=true`
    without them is refused by the backbone registry, fer.models.backbones: there is no download)."""
    model = MobileFace(variant, in_chans, pooled_side)
    if weights:
        load_mobileface_weights(model, weights)
    return model


def checkpoint_files(weights: str | Path, variant: str) -> tuple[Path, Path]:
    """(symbol, params) paths for `weights`: a checkpoint stem, the folder holding the stems, or either file."""
    path = Path(weights).expanduser()
    if path.is_dir():
        stem = path / STEMS[variant]
    elif path.name.endswith(SYMBOL_SUFFIX):
        stem = path.with_name(path.name[: -len(SYMBOL_SUFFIX)])
    elif re.search(r"-\d{4}\.params$", path.name):  # any epoch's file, not only -0000
        stem = path.with_name(path.name[: -len(PARAMS_SUFFIX)])
    else:
        stem = path
    other = next((v for v, s in STEMS.items() if s == stem.name and v != variant), None)
    if other:
        raise ValueError(
            f"model.weights: {weights} is MobileFace {other.upper()} but the variant is {variant}: "
            f"set model.variant={other}"
        )
    params = path if path.name.endswith(".params") and not path.is_dir() else stem.with_name(stem.name + PARAMS_SUFFIX)
    return stem.with_name(stem.name + SYMBOL_SUFFIX), params


def load_mobileface_weights(model: MobileFace, weights: str | Path) -> None:
    """Load the publisher's MXNet weights into the trunk; every trunk tensor must be there with its shape."""
    symbol_file, params_file = checkpoint_files(weights, model.variant)
    if not params_file.is_file():
        raise FileNotFoundError(
            f"model.weights: no MobileFace weights at {params_file} (from model.weights={weights}); {HOW_TO_POINT}"
        )
    if symbol_file.is_file():  # the graph beside the weights must be this variant's
        found = graph_trunk_spec(read_symbol(symbol_file), model.variant, str(symbol_file))
        if found["layers"] != trunk_spec(model.variant)["layers"]:
            raise MXNetFormatError(
                f"model.weights: {symbol_file} is not the graph of MobileFace {model.variant}; " + HOW_TO_POINT
            )
    try:
        load_params(model.trunk, trunk_spec(model.variant), read_params(params_file), str(params_file))
    except MXNetFormatError as err:
        raise MXNetFormatError(f"model.weights: {err}; {HOW_TO_POINT}") from err


# ------------------------------------------------------------------------- the shipped trunk descriptions


def trunk_output(symbol: dict) -> str:
    """The node the embedding starts from: the input of the Flatten (or of the FullyConnected layer)."""
    nodes = symbol["nodes"]
    for node in nodes:
        if node["op"] in ("Flatten", "FullyConnected"):
            return nodes[node["inputs"][0][0]]["name"]
    raise MXNetFormatError("no Flatten or FullyConnected node: not a MobileFace graph")


def graph_trunk_spec(symbol: dict, variant: str, source: str = "") -> dict:
    """The trunk of a MobileFace graph (input scaling left out) with its native input and normalisation."""
    spec = graph_spec(
        symbol, NATIVE_INPUT[variant], output=trunk_output(symbol), drop_input_scaling=True, source=source
    )
    scaling = spec["input_scaling"] or CALLER_SCALING[variant]
    mean, std = normalisation(scaling)
    spec["native"] = {
        "image_size": NATIVE_INPUT[variant][1],
        "channels": NATIVE_INPUT[variant][0],
        "mean": mean,
        "std": std,
        "scaling": scaling,
    }
    return spec


def normalisation(scaling: list) -> tuple[float, float]:
    """The (mean, std) on [0, 1] images equal to scalar ops applied to 0-255 pixels: x -> a * x + b."""
    a, b = 1.0, 0.0
    for fn, value in scaling:
        if fn == "add":
            b += value
        elif fn == "sub":
            b -= value
        elif fn == "mul":
            a, b = a * value, b * value
        elif fn == "div":
            a, b = a / value, b / value
        else:
            raise ValueError(f"input scaling {fn} is not an affine map of the pixels")
    # a * 255 * x01 + b == (x01 - mean) / std
    std = 1.0 / (255.0 * a)
    return round(-b * std, 12), round(std, 12)


def generate_trunks(folder: str | Path) -> dict:
    folder = Path(folder)
    trunks = {}
    for variant, stem in STEMS.items():
        symbol_file = folder / f"{stem}{SYMBOL_SUFFIX}"
        spec = graph_trunk_spec(read_symbol(symbol_file), variant, str(symbol_file))
        trunks[variant] = {
            "source": symbol_file.name,
            "sha256": hashlib.sha256(symbol_file.read_bytes()).hexdigest(),
            **spec,
        }
    return trunks


def render_trunks(trunks: dict) -> str:
    lines = [
        '"""The MobileFace trunks (structure only, no weights), one layer per line: [op, name, attrs, inputs].',
        "",
        "Generated from the publisher's -symbol.json files by `fer import-weights source=<folder> what=trunks`;",
        "do not edit (tests/test_mobileface.py checks it against the files when they are present).",
        "Format: fer/models/mxnet_graph.py (graph_spec).",
        '"""',
        "",
        "# fmt: off",
        "TRUNKS = {",
    ]
    for variant, spec in trunks.items():
        lines.append(f"    {variant!r}: {{")
        for key, value in spec.items():
            if key != "layers":
                lines.append(f"        {key!r}: {value!r},")
        lines.append("        'layers': [")
        lines += [f"            {layer!r}," for layer in spec["layers"]]
        lines += ["        ],", "    },"]
    lines += ["}", ""]
    return "\n".join(lines)


TRUNKS_FILE = Path(__file__).with_name("mobileface_trunks.py")


def write_trunks(folder: str | Path) -> Path:
    """fer/models/mobileface_trunks.py regenerated from the publisher's -symbol.json files in `folder`."""
    TRUNKS_FILE.write_text(render_trunks(generate_trunks(folder)))
    return TRUNKS_FILE


# The old command-line name says the new one and stops: a stage's module never runs the front door (fer.cli).
if __name__ == "__main__":
    raise SystemExit("python -m fer.models.mobileface is now `fer import-weights source=<folder> what=trunks`")
