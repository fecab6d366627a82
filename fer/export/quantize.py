"""int8 ONNX models: static quantisation calibrated on real face crops.

Weights are int8 per output channel, activations uint8 with ranges measured on calibration faces
(QDQ format, which ONNX Runtime fuses into integer kernels). On CPUs with VNNI this runs the
classifier faster than float32 (bench/latency.py; docs/results.md) and the file is a quarter of the size; the
accuracy change is measured, not assumed (`fer evaluate weights=model.int8.onnx`).

Weights use 7 of their 8 bits (`reduce_range`). On x86 CPUs without VNNI (AVX2 only, e.g. AMD Zen 3)
ONNX Runtime's uint8 x int8 kernels add products in pairs into 16 bits (vpmaddubsw), which
saturates for 8-bit weights: the same file then gives other outputs there than on a VNNI CPU
(measured with the first shipped model: logits off by up to 1.0, FER2013 PublicTest 65.70 % on an
AVX2 CPU against 66.51 % on VNNI). With weights in [-64, 63] a pair sum fits in 16 bits, so the
integer kernels are exact on every CPU and a figure measured on one machine holds on the others.
"""

import tempfile
from pathlib import Path

import numpy as np
import onnx

from fer.faces.image_io import IMAGE_SUFFIXES, UnreadableImage, read_grey
from fer.faces.preprocess import eval_transform, normalise
from fer.models.model_file import ONNX_META_KEY, read_onnx_file

INT8 = "onnx_int8"  # the name of this format in export_formats and `fer export format=`
CALIBRATION_FACES = 512


def quantize_onnx(
    fp32: str | Path, out: str | Path, faces: np.ndarray, batch: int = 64, reduce_range: bool = True
) -> Path:
    """Quantise an exported float32 ONNX model; `faces` are preprocessed inputs (N x C x H x W float32).
    `reduce_range=False` gives 8-bit weights, exact only on CPUs with VNNI (below): for comparisons, never shipped."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if len(faces) == 0:
        raise ValueError("int8 quantisation needs calibration faces; none were given")

    input_name = onnx.load(str(fp32), load_external_data=False).graph.input[0].name  # the model's own, whatever it is

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter({input_name: faces[i : i + batch]} for i in range(0, len(faces), batch))

        def get_next(self):
            return next(self.batches, None)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared))  # shape inference and graph clean-up first, as advised
        quantize_static(
            str(prepared),
            str(out),
            Batches(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            reduce_range=reduce_range,
        )
    _copy_metadata(Path(fp32), out)
    return out


def reduce_weight_range(int8: str | Path, out: str | Path) -> Path:
    """Rewrite an int8 QDQ model with 8-bit weights (made before `reduce_range`) to 7-bit weights.

    Each int8 weight becomes round(w / 2) at twice the scale, and each int32 bias round(b / 2) at
    twice its scale (bias scale = input scale x weight scale, which the fused kernels assume). The
    shipped model was converted this way; its figures were measured again afterwards.
    """
    from onnx import numpy_helper

    model = onnx.load(str(int8))
    initializers = {tensor.name: tensor for tensor in model.graph.initializer}
    rescaled: set[str] = set()
    for node in model.graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in initializers:
            continue
        values, scale = initializers[node.input[0]], initializers[node.input[1]]
        array = numpy_helper.to_array(values)
        if array.dtype == np.int8:
            halved = np.clip(np.round(array / 2.0), -64, 63).astype(np.int8)
        elif array.dtype == np.int32:
            halved = np.round(array / 2.0).astype(np.int32)
        else:
            continue  # activations (uint8) keep their calibrated ranges
        if {values.name, scale.name} & rescaled:
            raise ValueError(f"{int8}: weights or scales shared between nodes; not an ONNX Runtime QDQ export")
        rescaled |= {values.name, scale.name}
        values.CopyFrom(numpy_helper.from_array(halved, values.name))
        scale.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(scale) * 2, scale.name))
    out = Path(out)
    onnx.save(model, str(out))
    return out


def _copy_metadata(source: Path, target: Path) -> None:
    """The quantiser drops metadata_props; put our labels, size and normalisation back."""
    meta = {p.key: p.value for p in onnx.load(str(source)).metadata_props}
    model = onnx.load(str(target))
    for key, value in meta.items():
        if key == ONNX_META_KEY or key not in {p.key for p in model.metadata_props}:
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
    onnx.save(model, str(target))


def faces_from_loader(loader, limit: int = CALIBRATION_FACES) -> np.ndarray:
    """Preprocessed faces from an evaluation data loader (training's validation faces)."""
    taken, count = [], 0
    for images, *_ in loader:
        taken.append(images.numpy())
        count += len(images)
        if count >= limit:
            break
    return np.concatenate(taken)[:limit] if taken else np.zeros((0,), np.float32)


def faces_from_folder(
    folder: str | Path, image_size: int, mean: float, std: float, channels: int, limit: int = CALIBRATION_FACES
) -> np.ndarray:
    """Preprocessed faces from a folder of face crops (recursive), for `fer export` (format=onnx_int8, to_float=)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"calibration: no such folder: {folder}")
    resize = eval_transform(image_size)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    # a fixed-seed sample across the whole tree, not the first class folder only
    files = [files[i] for i in sorted(np.random.default_rng(0).permutation(len(files))[:limit])]
    faces = []
    for file in files:
        try:
            faces.append(normalise(resize(image=read_grey(file))["image"], mean, std, channels))
        except UnreadableImage:
            continue  # a calibration set only needs typical faces; the count below says how many were used
    if not faces:
        raise ValueError(f"calibration: no readable face images in {folder}")
    return np.stack(faces)


def float_model_from_int8(int8: str | Path, faces: np.ndarray):
    """Rebuild a float model (our FERClassifier, trainable) from an int8 QDQ file of ours.

    Lets training start from the shipped model when its float file is gone (model files are not kept
    in git): each weight is dequantised; the exporter folded every BatchNorm into the layer before it,
    so each BatchNorm is rebuilt from `faces` (preprocessed inputs, N x C x H x W) to give the folded
    output exactly in eval mode and with batch statistics close to it in training.
    Returns (model, Preprocessing, metadata). Activations are not quantised in the rebuilt model, so
    its outputs differ from the int8 file's by the activation rounding only.
    """
    import torch
    from torch import nn

    from fer.models.classifier import Architecture, FERClassifier
    from fer.models.model_file import Preprocessing

    graph, meta = read_onnx_file(int8, "int8 file")
    dequantised = _dequantised_initializers(graph)
    model = FERClassifier(Architecture(**meta["arch"]))
    inputs = torch.from_numpy(np.ascontiguousarray(faces, dtype=np.float32))
    norm_after = _norm_after_each_layer(model, inputs[:2])
    for name, layer in model.named_modules():
        if not isinstance(layer, (nn.Conv2d, nn.Linear)):
            continue
        weight = dequantised[f"{name}.weight"]
        bias = dequantised.get(f"{name}.bias", dequantised.get(f"{name}.weight_bias"))
        norm = norm_after.get(name)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(weight))
            if not isinstance(norm, nn.modules.batchnorm._BatchNorm):
                layer.bias.copy_(torch.from_numpy(bias))
                continue
            if layer.bias is not None:
                layer.bias.zero_()  # the folded bias lives in the BatchNorm below
            norm.weight.fill_(1.0)
            norm.bias.copy_(torch.from_numpy(bias))
            norm.running_mean.zero_()
            norm.running_var.fill_(1.0 - norm.eps)  # identity + bias: the folded network, exactly
    _fit_batchnorms(model, inputs)
    pre = Preprocessing(meta["image_size"], meta["channels"], meta["mean"], meta["std"])
    return model.eval(), pre, meta


def _dequantised_initializers(graph) -> dict[str, np.ndarray]:
    """float32 values of the int8 weights and int32 biases, keyed by name without `_quantized`."""
    from onnx import numpy_helper

    tensors = {t.name: numpy_helper.to_array(t) for t in graph.graph.initializer}
    values = {}
    for node in graph.graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in tensors:
            continue
        quantised = tensors[node.input[0]]
        if quantised.dtype not in (np.int8, np.int32):
            continue
        scale, zero = tensors[node.input[1]], tensors[node.input[2]] if len(node.input) > 2 else 0
        shape = (-1,) + (1,) * (quantised.ndim - 1)  # per output channel (axis 0)
        real = (quantised.astype(np.float64) - np.reshape(zero, shape if np.ndim(zero) else ())) * np.reshape(
            scale, shape if np.ndim(scale) else ()
        )
        values[node.input[0].removesuffix("_quantized")] = real.astype(np.float32)
    return values


def _norm_after_each_layer(model, sample) -> dict:
    """{convolution or linear layer's name: the BatchNorm that takes its output}, the pairs the exporter folded,
    found by running `sample` through the model: a Sequential's neighbours and a generated trunk's named
    attributes (MobileFace's convolutionN -> batchnormN) alike."""
    import torch
    from torch import nn

    names = {module: name for name, module in model.named_modules()}
    made_by: dict[int, str] = {}
    outputs = []  # kept alive, so that no later tensor reuses the id of one recorded here
    pairs = {}

    def after_layer(module, _inputs, output):
        made_by[id(output)] = names[module]
        outputs.append(output)

    def before_norm(module, inputs):
        if id(inputs[0]) in made_by:
            pairs[made_by[id(inputs[0])]] = module

    hooks = [
        m.register_forward_hook(after_layer)
        if isinstance(m, (nn.Conv2d, nn.Linear))
        else m.register_forward_pre_hook(before_norm)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.modules.batchnorm._BatchNorm))
    ]
    model.eval()
    try:
        with torch.no_grad():
            model(sample)
    finally:
        for hook in hooks:
            hook.remove()
    return pairs


def _fit_batchnorms(model, faces, batch: int = 256) -> None:
    """Give each identity BatchNorm its input's statistics, keeping its eval-mode output unchanged:
    (x - m) / sqrt(v + eps) * sqrt(v + eps) + (m + b) = x + b."""
    import torch
    from torch import nn

    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    sums = {id(n): [0.0, 0.0, 0] for n in norms}

    def record(norm, inputs, _output):
        x = inputs[0].double().transpose(0, 1).flatten(1)  # channels x values
        total = sums[id(norm)]
        total[0], total[1], total[2] = total[0] + x.sum(1), total[1] + (x * x).sum(1), total[2] + x.shape[1]

    hooks = [n.register_forward_hook(record) for n in norms]
    model.eval()
    with torch.no_grad():
        for start in range(0, len(faces), batch):
            model(faces[start : start + batch])
    for hook in hooks:
        hook.remove()
    with torch.no_grad():
        for norm in norms:
            total, squares, count = sums[id(norm)]
            mean = total / count
            var = (squares / count - mean * mean).clamp_min(0)
            norm.running_mean.copy_(mean.float())
            norm.running_var.copy_(var.float())
            norm.bias.add_(mean.float())
            norm.weight.copy_((var + norm.eps).sqrt().float())


def int8_to_float(int8: str | Path, out: str | Path, faces_folder: str | Path, limit: int = 2048) -> str:
    """`fer export to_float=<int8.onnx> out=<model.pt> calibration=<face crops>`: a trainable float model file
    rebuilt from an int8 file of ours (usable as model.weights=<file>); returns the line that says what it wrote."""
    from fer.models.model_file import save_model_file

    _, meta = read_onnx_file(int8, "int8 file")
    faces = faces_from_folder(faces_folder, meta["image_size"], meta["mean"], meta["std"], meta["channels"], limit)
    model, pre, meta = float_model_from_int8(int8, faces)
    extra = {"temperature": meta["temperature"]} if "temperature" in meta else {}
    out = save_model_file(out, model, pre, extra | {"rebuilt_from": str(int8)})
    return f"wrote {out} (float model rebuilt from {int8}; BatchNorm statistics from {len(faces)} faces)"
