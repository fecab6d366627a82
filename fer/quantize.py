"""int8 ONNX models: static quantisation calibrated on real face crops.

Weights are int8 per output channel, activations uint8 with ranges measured on calibration faces
(QDQ format, which ONNX Runtime fuses into integer kernels). On CPUs with VNNI this runs the
classifier about 2.5x faster than float32 and the file is 4x smaller; the accuracy change is
measured, not assumed (`python -m fer.evaluate weights=model.int8.onnx`).

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

from fer.data.image_io import UnreadableImage, read_grey
from fer.data.sources.base import IMAGE_SUFFIXES
from fer.data.transforms import eval_transform, to_tensor
from fer.export import INPUT_NAME, ONNX_META_KEY

INT8 = "onnx_int8"  # the name of this format in export_formats and `python -m fer.export format=`
CALIBRATION_FACES = 512


def quantize_onnx(fp32: str | Path, out: str | Path, faces: np.ndarray, batch: int = 64) -> Path:
    """Quantise an exported float32 ONNX model; `faces` are preprocessed inputs (N x C x H x W float32)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if len(faces) == 0:
        raise ValueError("int8 quantisation needs calibration faces; none were given")

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter({INPUT_NAME: faces[i:i + batch]} for i in range(0, len(faces), batch))

        def get_next(self):
            return next(self.batches, None)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        quant_pre_process(str(fp32), str(prepared))  # shape inference and graph clean-up first, as advised
        quantize_static(str(prepared), str(out), Batches(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=True)
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


def faces_from_folder(folder: str | Path, image_size: int, mean: float, std: float, channels: int,
                      limit: int = CALIBRATION_FACES) -> np.ndarray:
    """Preprocessed faces from a folder of face crops (recursive), for `python -m fer.export`."""
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
            faces.append(to_tensor(resize(image=read_grey(file))["image"], mean, std, channels).numpy())
        except UnreadableImage:
            continue  # a calibration set only needs typical faces; the count below says how many were used
    if not faces:
        raise ValueError(f"calibration: no readable face images in {folder}")
    return np.stack(faces)
