"""MXNet checkpoints without MXNet: read `<stem>-symbol.json` and `<stem>-NNNN.params`, build a torch network.

    params = read_params("MobileFace_Identification_V1-0000.params")   # {"conv1_weight": ndarray, ...}
    symbol = read_symbol("MobileFace_Identification_V1-symbol.json")
    spec = graph_spec(symbol, input_shape=(1, 100, 100))               # plain JSON-able layer list
    net = build_module(spec)                                           # a torch.fx GraphModule
    load_params(net, spec, params, source="...-0000.params")

The spec is the network's structure without its weights: `{"input": [C, H, W], "layers": [[op, name,
attrs, inputs], ...], ...}`, layer 0 being the input and `inputs` indexing earlier layers; attributes
equal to the defaults in `DEFAULTS` are left out. Names are the graph's own, so parameters keep them in
the state_dict (`conv1.weight`, `bn1.running_mean`). The built module is generated Python code (torch.fx),
so it runs like a hand-written forward: trainable, channels-last friendly, traceable with torch.jit.trace
and exportable with torch.onnx.export(dynamo=True).

Operators: Convolution (2-D, `num_group`, `no_bias`, `dilate`), BatchNorm (`fix_gamma`, `eps`; MXNet's
defaults fix_gamma=True and eps=1e-3 when absent), `_maximum_scalar`/`_minimum_scalar` (a maximum at 0
feeding a minimum at 6 is ReLU6), the scalar arithmetic `_plus/_minus/_rminus/_mul/_div/_rdiv_scalar`,
elemwise_add, Flatten, FullyConnected (`no_bias`, `flatten`) and L2Normalization (`mode`, `eps`).
"""

import json
import keyword
import math
import operator
import re
import struct
from pathlib import Path

import numpy as np
import torch
from torch import fx, nn
from torch.nn import functional as F

SPEC_FORMAT = "fer-mxnet-graph/1"

# The params file: a list header, each NDArray, then the names (see MXNet's NDArray::Save / Load).
LIST_MAGIC = 0x112
ARRAY_V1_MAGIC, ARRAY_V2_MAGIC, ARRAY_V3_MAGIC = 0xF993FAC8, 0xF993FAC9, 0xF993FACA
DTYPES = {0: np.float32, 1: np.float64, 2: np.float16, 3: np.uint8, 4: np.int32, 5: np.int8, 6: np.int64}
CPU_CONTEXT = 1

# Spec attributes that may be left out, with their values (MXNet's defaults where MXNet has one).
DEFAULTS = {
    "conv": {"stride": [1, 1], "pad": [0, 0], "dilate": [1, 1], "groups": 1, "bias": True},
    "batchnorm": {"eps": 1e-3, "fix_gamma": True},
    "clip": {"min": None, "max": None},
    "fc": {"bias": True, "flatten": True},
    "l2norm": {"mode": "instance", "eps": 1e-10},
}
# torch name -> MXNet suffix of each layer's parameters (MXNet names them "<layer>_<suffix>")
PARAMS = {
    "conv": {"weight": "weight", "bias": "bias"},
    "batchnorm": {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_var"},
    "fc": {"weight": "weight", "bias": "bias"},
}
SCALAR_OPS = {
    "_plus_scalar": "add",
    "_minus_scalar": "sub",
    "_rminus_scalar": "rsub",
    "_mul_scalar": "mul",
    "_div_scalar": "div",
    "_rdiv_scalar": "rdiv",
}
SUPPORTED = (
    "Convolution",
    "BatchNorm",
    "_maximum_scalar",
    "_minimum_scalar",
    *SCALAR_OPS,
    "elemwise_add",
    "Flatten",
    "FullyConnected",
    "L2Normalization",
)


class MXNetFormatError(ValueError):
    """A params or symbol file this reader cannot use, or one that does not fit the network."""


# ---------------------------------------------------------------------------------------------- params


class _Reader:
    def __init__(self, data: bytes, source: str) -> None:
        self.data, self.pos, self.source = data, 0, source

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise MXNetFormatError(
                f"{self.source}: truncated or not an MXNet params file "
                f"(wanted {size} bytes at offset {self.pos} of {len(self.data)})"
            )
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))

    def u32(self) -> int:
        return self.unpack("I")[0]

    def i32(self) -> int:
        return self.unpack("i")[0]

    def u64(self) -> int:
        return self.unpack("Q")[0]


def read_ndarray_list(path: str | Path) -> list[tuple[str, np.ndarray]]:
    """The (name, array) pairs of an MXNet params file, names as stored (`arg:conv1_weight`, `aux:...`)."""
    path = Path(path)
    reader = _Reader(path.read_bytes(), str(path))
    magic, _reserved = reader.u64(), reader.u64()
    if magic != LIST_MAGIC:
        raise MXNetFormatError(f"{path}: not an MXNet params file (header {magic:#x}, expected {LIST_MAGIC:#x})")
    count = reader.u64()
    if count > len(reader.data):
        raise MXNetFormatError(f"{path}: not an MXNet params file (claims {count} arrays)")
    arrays = [_read_array(reader) for _ in range(count)]
    name_count = reader.u64()
    if name_count not in (0, count):
        raise MXNetFormatError(f"{path}: {count} arrays but {name_count} names")
    names = [reader.take(reader.u64()).decode("utf-8") for _ in range(name_count)] or [str(i) for i in range(count)]
    if reader.pos != len(reader.data):
        raise MXNetFormatError(f"{path}: {len(reader.data) - reader.pos} unexpected bytes after the names")
    return [(name, array) for name, array in zip(names, arrays) if array is not None]


def read_params(path: str | Path) -> dict[str, np.ndarray]:
    """name -> array, without the `arg:` / `aux:` prefixes (parameters and BatchNorm statistics alike)."""
    params = {}
    for name, array in read_ndarray_list(path):
        key = name.split(":", 1)[1] if name.startswith(("arg:", "aux:")) else name
        if key in params:
            raise MXNetFormatError(f"{path}: {key} is stored twice")
        params[key] = array
    return params


def _read_array(reader: _Reader) -> np.ndarray | None:
    magic = reader.u32()
    if magic in (ARRAY_V2_MAGIC, ARRAY_V3_MAGIC):
        storage = reader.i32()
        if storage != 0:
            raise MXNetFormatError(f"{reader.source}: sparse arrays (storage type {storage}) are not supported")
        ndim = reader.i32() if magic == ARRAY_V3_MAGIC else reader.u32()
        shape = reader.unpack(f"{max(ndim, 0)}q")
    elif magic == ARRAY_V1_MAGIC:
        ndim = reader.u32()
        shape = reader.unpack(f"{ndim}q")
    else:  # the legacy layout (MXNet < 1.0): no magic, the first word is ndim, dimensions are uint32
        ndim = magic
        if ndim > 32:
            raise MXNetFormatError(f"{reader.source}: not an MXNet params file (array header {magic:#x})")
        shape = reader.unpack(f"{ndim}I")
    if ndim <= 0 or any(d < 0 for d in shape):  # an empty ("none") array: nothing more is stored
        return None
    _device_type, _device_id = reader.i32(), reader.i32()
    type_flag = reader.i32()
    if type_flag not in DTYPES:
        raise MXNetFormatError(f"{reader.source}: unsupported array dtype flag {type_flag}")
    dtype = np.dtype(DTYPES[type_flag]).newbyteorder("<")
    data = reader.take(math.prod(shape) * dtype.itemsize)
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def write_params(path: str | Path, arrays: dict[str, np.ndarray], legacy: bool = False) -> Path:
    """Write an MXNet params file (names as given, e.g. `arg:conv1_weight`); `legacy` writes the pre-1.0 layout."""
    codes = {np.dtype(t): code for code, t in DTYPES.items()}
    out = [struct.pack("<QQQ", LIST_MAGIC, 0, len(arrays))]
    for array in arrays.values():
        array = np.asarray(array)
        code = codes[array.dtype]
        if legacy:
            out.append(struct.pack(f"<I{array.ndim}I", array.ndim, *array.shape))
        else:
            out.append(struct.pack(f"<IiI{array.ndim}q", ARRAY_V2_MAGIC, 0, array.ndim, *array.shape))
        out.append(struct.pack("<iii", CPU_CONTEXT, 0, code))
        out.append(np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes())
    out.append(struct.pack("<Q", len(arrays)))
    for name in arrays:
        encoded = name.encode("utf-8")
        out.append(struct.pack("<Q", len(encoded)) + encoded)
    path = Path(path)
    path.write_bytes(b"".join(out))
    return path


# ---------------------------------------------------------------------------------------------- symbol


def read_symbol(path: str | Path) -> dict:
    path = Path(path)
    try:
        symbol = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MXNetFormatError(f"{path}: not an MXNet symbol file (not JSON: {err})") from err
    if not isinstance(symbol, dict) or "nodes" not in symbol or "heads" not in symbol:
        raise MXNetFormatError(f"{path}: not an MXNet symbol file (no nodes and heads)")
    return symbol


def _attrs(node: dict) -> dict:
    # MXNet wrote the attributes as "param" (< 0.9), "attr" (< 1.0) or "attrs"
    return {**node.get("param", {}), **node.get("attr", {}), **node.get("attrs", {})}


def _ints(text: str) -> list[int]:
    return [int(v) for v in re.findall(r"-?\d+", text)]


def _bool(text) -> bool:
    return str(text).strip().lower() in ("true", "1")


def graph_spec(
    symbol: dict,
    input_shape: tuple[int, int, int],
    output: str | None = None,
    drop_input_scaling: bool = False,
    source: str = "",
) -> dict:
    """The layer list of `symbol` (a parsed -symbol.json) for an input of `input_shape` (C, H, W).

    `output`: the name of the node whose result is the network's output (default: the graph's head);
    only what it depends on is kept. `drop_input_scaling`: leave out the scalar arithmetic applied to
    the input itself (a normalisation the caller then does), recorded in `input_scaling`.
    """
    nodes = symbol["nodes"]
    where = f"{source}: " if source else ""
    by_name = {}
    for index, node in enumerate(nodes):
        by_name.setdefault(node["name"], index)
    head = symbol["heads"][0][0] if output is None else by_name.get(output)
    if head is None:
        raise MXNetFormatError(f"{where}no node named {output!r}")

    def data_inputs(node: dict) -> list[int]:
        inputs = [i[0] for i in node["inputs"]]
        return inputs[:1] if node["op"] in PARAMS_OF else inputs

    needed, stack = set(), [head]
    while stack:
        index = stack.pop()
        if index not in needed:
            needed.add(index)
            stack.extend(data_inputs(nodes[index]))
    variables = [i for i in sorted(needed) if nodes[i]["op"] == "null"]
    if len(variables) != 1:
        raise MXNetFormatError(f"{where}expected one input variable, found {[nodes[i]['name'] for i in variables]}")
    consumers: dict[int, list[int]] = {}
    for index in sorted(needed):
        for source_index in data_inputs(nodes[index]):
            consumers.setdefault(source_index, []).append(index)

    layer_of = {variables[0]: 0}  # graph node -> layer index
    layers = [["input", nodes[variables[0]]["name"], {"channels": int(input_shape[0])}, []]]
    shapes = [tuple(int(v) for v in input_shape)]
    scaling, fused = [], set()
    for index in sorted(needed):
        node = nodes[index]
        op, name, attrs = node["op"], node["name"], _attrs(node)
        if op == "null" or index in fused:
            continue
        inputs = [layer_of[i] for i in data_inputs(node)]
        shape = shapes[inputs[0]]
        if drop_input_scaling and op in SCALAR_OPS and inputs == [0]:
            scaling.append([SCALAR_OPS[op], float(attrs["scalar"])])
            layer_of[index] = 0
            continue
        if op == "Convolution":
            kernel = _ints(attrs["kernel"])
            if len(kernel) != 2 or attrs.get("layout", "NCHW") not in ("NCHW", "None"):
                raise MXNetFormatError(f"{where}{name}: only 2-D NCHW convolutions are supported")
            spec = {
                "out": int(attrs["num_filter"]),
                "kernel": kernel,
                "stride": _ints(attrs.get("stride", "(1, 1)")),
                "pad": _ints(attrs.get("pad", "(0, 0)")),
                "dilate": _ints(attrs.get("dilate", "(1, 1)")),
                "groups": int(attrs.get("num_group", 1)),
                "bias": not _bool(attrs.get("no_bias", False)),
            }
            if shape[0] % spec["groups"] or spec["out"] % spec["groups"]:
                raise MXNetFormatError(
                    f"{where}{name}: {shape[0]} input channels do not split into {spec['groups']} groups"
                )
            size = [
                (s + 2 * p - d * (k - 1) - 1) // st + 1
                for s, p, d, k, st in zip(shape[1:], spec["pad"], spec["dilate"], kernel, spec["stride"])
            ]
            layer, shape = ["conv", name, spec], (spec["out"], *size)
        elif op == "BatchNorm":
            if int(attrs.get("axis", 1)) != 1:
                raise MXNetFormatError(f"{where}{name}: only BatchNorm over axis 1 is supported")
            # use_global_stats and momentum only change training; eval mode uses the moving statistics
            layer = [
                "batchnorm",
                name,
                {"eps": float(attrs.get("eps", 1e-3)), "fix_gamma": _bool(attrs.get("fix_gamma", True))},
            ]
        elif op in ("_maximum_scalar", "_minimum_scalar"):
            bound = float(attrs["scalar"])
            clip = {"min": bound} if op == "_maximum_scalar" else {"max": bound}
            after = consumers.get(index, [])
            other = "_minimum_scalar" if op == "_maximum_scalar" else "_maximum_scalar"
            if index != head and len(after) == 1 and nodes[after[0]]["op"] == other:  # max then min: one clip
                second = nodes[after[0]]
                clip |= (
                    {"min": float(_attrs(second)["scalar"])}
                    if other == "_maximum_scalar"
                    else {"max": float(_attrs(second)["scalar"])}
                )
                fused.add(after[0])
                layer_of[after[0]] = len(layers)
            if clip.get("min") is not None and clip.get("max") is not None and clip["min"] > clip["max"]:
                raise MXNetFormatError(f"{where}{name}: clip range {clip['min']}..{clip['max']} is empty")
            layer = ["clip", name, clip]
        elif op in SCALAR_OPS:
            layer = ["scalar", name, {"fn": SCALAR_OPS[op], "value": float(attrs["scalar"])}]
        elif op == "elemwise_add":
            if shapes[inputs[1]] != shape:
                raise MXNetFormatError(f"{where}{name}: adds shapes {shape} and {shapes[inputs[1]]}")
            layer = ["add", name, {}]
        elif op == "Flatten":
            layer, shape = ["flatten", name, {}], (math.prod(shape),)
        elif op == "FullyConnected":
            flatten = _bool(attrs.get("flatten", True))
            if not flatten and len(shape) != 1:
                raise MXNetFormatError(f"{where}{name}: FullyConnected with flatten=False needs a flat input")
            spec = {
                "in": math.prod(shape),
                "out": int(attrs["num_hidden"]),
                "bias": not _bool(attrs.get("no_bias", False)),
                "flatten": flatten,
            }
            layer, shape = ["fc", name, spec], (spec["out"],)
        elif op == "L2Normalization":
            mode = attrs.get("mode", "instance")
            if mode not in ("instance", "channel", "spatial") or (mode == "spatial" and len(shape) < 2):
                raise MXNetFormatError(f"{where}{name}: L2Normalization mode {mode} does not apply here")
            layer = ["l2norm", name, {"mode": mode, "eps": float(attrs.get("eps", 1e-10))}]
        else:
            raise MXNetFormatError(f"{where}{name}: operator {op} is not supported (supported: {', '.join(SUPPORTED)})")
        params = _param_names(node, nodes, layer[0], name)
        if params:
            layer[2]["params"] = params
        layer_of[index] = len(layers)
        layers.append([layer[0], layer[1], _compact(layer[0], layer[2]), inputs])
        shapes.append(shape)
    raw_users = [
        nodes[i]["name"]
        for i in sorted(needed)
        if nodes[i]["op"] != "null" and layer_of.get(i) != 0 and variables[0] in data_inputs(nodes[i])
    ]
    if scaling and raw_users:
        raise MXNetFormatError(
            f"{where}the input is also used unscaled (by {raw_users[0]}): its scaling cannot be left out"
        )
    return {
        "format": SPEC_FORMAT,
        "input": list(shapes[0]),
        "input_scaling": scaling,
        "output_shape": list(shapes[-1]),
        "layers": layers,
    }


PARAMS_OF = {"Convolution": "conv", "BatchNorm": "batchnorm", "FullyConnected": "fc"}


def _param_names(node: dict, nodes: list[dict], kind: str, name: str) -> dict:
    """The MXNet names of a layer's parameters, where they differ from `<layer>_<suffix>`."""
    if kind not in PARAMS:
        return {}
    names = [nodes[i[0]]["name"] for i in node["inputs"][1:]]
    unusual = {}
    for torch_name, name_of_param in zip(PARAMS[kind], names):
        if name_of_param != f"{name}_{PARAMS[kind][torch_name]}":
            unusual[torch_name] = name_of_param
    return unusual


def _compact(op: str, attrs: dict) -> dict:
    return {k: v for k, v in attrs.items() if DEFAULTS.get(op, {}).get(k, object()) != v}


def _full(op: str, attrs: dict) -> dict:
    return {**DEFAULTS.get(op, {}), **attrs}


# ----------------------------------------------------------------------------------------------- build


class L2Normalize(nn.Module):
    """MXNet's L2Normalization: x / sqrt(sum(x^2) + eps) over all but the batch axis (instance), the
    channel axis (channel) or the spatial axes (spatial)."""

    def __init__(self, mode: str = "instance", eps: float = 1e-10) -> None:
        super().__init__()
        self.mode, self.eps = mode, eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dims = {"instance": tuple(range(1, x.dim())), "channel": (1,), "spatial": tuple(range(2, x.dim()))}[self.mode]
        return x * torch.rsqrt(x.pow(2).sum(dims, keepdim=True) + self.eps)

    def extra_repr(self) -> str:
        return f"mode={self.mode}, eps={self.eps}"


def module_names(spec: dict) -> dict[int, str]:
    """Layer index -> attribute name in the built module, for the layers that are modules."""
    taken, names = set(dir(nn.Module)) | {"graph", "code"}, {}
    for index, (op, name, _, _) in enumerate(spec["layers"]):
        if op not in PARAMS and op != "l2norm":
            continue
        clean = re.sub(r"\W+", "_", name).strip("_") or "layer"
        clean = f"l_{clean}" if clean[0].isdigit() else clean
        clean = f"{clean}_" if keyword.iskeyword(clean) else clean
        unique, n = clean, 1
        while unique in taken:
            unique, n = f"{clean}_{n}", n + 1
        taken.add(unique)
        names[index] = unique
    return names


_SCALAR_FN = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "div": operator.truediv}


def build_module(spec: dict, in_chans: int | None = None) -> fx.GraphModule:
    """A torch network for the spec, with default (random) initialisation; `in_chans` replaces the
    input's channel count (the convolutions reading the input are built for it)."""
    names = module_names(spec)
    graph, modules = fx.Graph(), {}
    values, channels, ranks = [], [], []
    for index, (op, name, attrs, inputs) in enumerate(spec["layers"]):
        a = _full(op, attrs)
        args = [values[i] for i in inputs]
        x, c, rank = (args[0], channels[inputs[0]], ranks[inputs[0]]) if inputs else (None, None, None)
        node_name = re.sub(r"\W+", "_", name).strip("_") or op
        if op == "input":
            value, c, rank = graph.placeholder("x"), in_chans or a["channels"], 1 + len(spec["input"])
        elif op in ("conv", "batchnorm", "fc", "l2norm"):
            if op == "conv":
                if c % a["groups"]:
                    raise ValueError(
                        f"{name}: {c} input channels do not split into {a['groups']} groups "
                        "(a grouped convolution on the input cannot take other channel counts)"
                    )
                module = nn.Conv2d(c, a["out"], a["kernel"], a["stride"], a["pad"], a["dilate"], a["groups"], a["bias"])
                c = a["out"]
            elif op == "batchnorm":
                module = (nn.BatchNorm2d if rank == 4 else nn.BatchNorm1d)(c, eps=a["eps"])
                if a["fix_gamma"]:  # MXNet's fix_gamma: the scale is 1 and is not learnt
                    module.weight.requires_grad_(False)
            elif op == "fc":
                if a["flatten"] and rank > 2:
                    x = graph.call_function(torch.flatten, (x, 1))
                module, c, rank = nn.Linear(a["in"], a["out"], a["bias"]), a["out"], 2
            else:
                module = L2Normalize(a["mode"], a["eps"])
            modules[names[index]] = module
            value = graph.call_module(names[index], (x,))
        elif op == "clip":
            if (a["min"], a["max"]) == (0.0, 6.0):
                value = graph.create_node("call_function", F.relu6, (x,), name=node_name)
            else:
                value = graph.create_node(
                    "call_function", torch.clamp, (x,), {"min": a["min"], "max": a["max"]}, name=node_name
                )
        elif op == "scalar":
            fn, v = a["fn"], a["value"]
            target, call_args = (_SCALAR_FN[fn[1:]], (v, x)) if fn.startswith("r") else (_SCALAR_FN[fn], (x, v))
            value = graph.create_node("call_function", target, call_args, name=node_name)
        elif op == "add":
            value = graph.create_node("call_function", operator.add, tuple(args), name=node_name)
        elif op == "flatten":
            value = graph.create_node("call_function", torch.flatten, (x, 1), name=node_name)
            c, rank = None, 2
        else:
            raise ValueError(f"{name}: unknown layer kind {op!r} in the spec")
        values.append(value)
        channels.append(c)
        ranks.append(rank)
    graph.output(values[-1])
    return fx.GraphModule(modules, graph, class_name="MXNetGraph")


def input_layers(spec: dict) -> set[int]:
    """Indices of the convolutions whose input channels are the network input's (through ops that keep channels)."""
    from_input, convs = {0}, set()
    for index, (op, _, _, inputs) in enumerate(spec["layers"][1:], start=1):
        if any(i in from_input for i in inputs):
            if op == "conv":
                convs.add(index)
            elif op in ("batchnorm", "clip", "scalar", "add", "l2norm"):
                from_input.add(index)
    return convs


def load_params(module: nn.Module, spec: dict, params: dict[str, np.ndarray], source: str = "params") -> list[str]:
    """Copy MXNet arrays (names without `arg:`/`aux:`) into a module built from `spec`; every parameter and
    statistic of the network must be found with its shape. Weights of the convolutions on the input are
    adapted when the input has other channels (summed for grey: same response as grey repeated).
    Returns the names of the arrays left unused (e.g. the layers after a trunk)."""
    names, first = module_names(spec), input_layers(spec)
    missing, used = [], set()
    with torch.no_grad():
        for index, module_name in names.items():
            op, name, attrs, _ = spec["layers"][index]
            if op not in PARAMS:
                continue
            layer = module.get_submodule(module_name)
            a = _full(op, attrs)
            for torch_name, suffix in PARAMS[op].items():
                target = getattr(layer, torch_name)
                if target is None:
                    continue
                mx_name = a.get("params", {}).get(torch_name, f"{name}_{suffix}")
                if op == "batchnorm" and torch_name == "weight" and a["fix_gamma"]:
                    target.fill_(1.0)  # MXNet ignores the stored gamma
                    used.add(mx_name)
                    continue
                if mx_name not in params:
                    missing.append(mx_name)
                    continue
                value = torch.from_numpy(np.asarray(params[mx_name], dtype=np.float32))
                if (
                    index in first
                    and torch_name == "weight"
                    and value.ndim == 4
                    and value.shape != target.shape
                    and value.shape[0] == target.shape[0]
                    and value.shape[2:] == target.shape[2:]
                ):
                    value = adapt_input_channels(value, target.shape[1])
                if value.shape != target.shape:
                    raise MXNetFormatError(
                        f"{source}: {mx_name} has shape {tuple(value.shape)}, the network needs "
                        f"{tuple(target.shape)} (weights of another network?)"
                    )
                target.copy_(value)
                used.add(mx_name)
    if missing:
        raise MXNetFormatError(
            f"{source}: {len(missing)} tensors of the network are not in the file, e.g. "
            f"{', '.join(missing[:3])} (weights of another network?)"
        )
    return sorted(set(params) - used)


def adapt_input_channels(weight: torch.Tensor, channels: int) -> torch.Tensor:
    """Filters for `channels` input channels from filters for others: summed over the stored channels and
    shared equally, so an image repeated over the channels gets the original response to it."""
    return weight.sum(dim=1, keepdim=True).repeat(1, channels, 1, 1) / channels


def load_checkpoint(
    symbol_path: str | Path, params_path: str | Path, input_shape: tuple[int, int, int], output: str | None = None
) -> tuple[fx.GraphModule, dict]:
    """The whole graph of an MXNet checkpoint (or up to `output`) as an eval-mode torch network, and its spec."""
    spec = graph_spec(read_symbol(symbol_path), input_shape, output, source=str(symbol_path))
    net = build_module(spec)
    load_params(net, spec, read_params(params_path), str(params_path))
    return net.eval(), spec
