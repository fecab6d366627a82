"""The identity network: MobileFace Identification V1 (the publisher's face-recognition network, whole) as int8 ONNX.

    fer import-weights source=../shared/weights/mobileface     # writes fer/assets/identity_model.onnx
    fer import-weights source=<folder> out=x.onnx faces=../shared/data float_out=x.fp32.onnx

Steps: the MXNet checkpoint is read without MXNet (fer.models.mxnet_graph) into a torch network, exported to
float ONNX (input `input`: N x 1 x 100 x 100, (x / 255 - 0.5) / 0.5; output `embedding`: N x 256, unit rows),
then quantised to int8 (fer.export.quantize, 7-bit weights) with ranges measured on real faces: JAFFE's
Haar-detected faces cut as the encoder cuts them and one CK+48 crop per sequence. The match threshold is
the cosine similarity at a false accept rate of 1e-3 over all pairs of those faces, measured on the written
file itself, and is stored in its metadata with the crop margin, the source's sha256 and the date.

Why int8 with the package's 7-bit weights (`python bench/identity.py --weight-bits`; the figures are in
docs/people.md): its embeddings agree closely with the float network's and verify about as well, in a file a
third the size that runs faster. 8-bit weights agree better but verify no better and are exact only on CPUs
with VNNI (fer/export/quantize.py); keeping a few layers in float would not close the gap either, which is
spread over all of them.

The face sets and the verification measures here are also what bench/identity.py reports; torch is imported
only to build the network.
"""

import datetime
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer.faces.crop import crop_square
from fer.faces.detect import HaarFaceDetector
from fer.faces.image_io import IMAGE_SUFFIXES, read_grey
from fer.inference.identity import (
    CROP_MARGIN,
    FORMAT,
    IMAGE_SIZE,
    INPUT_NAME,
    MEAN,
    META_KEY,
    OUTPUT_NAME,
    STD,
    prepare_crop,
    unit_rows,
)
from fer.inference.profile import file_sha256

STEM = "MobileFace_Identification_V1"  # the general network, not a copy tuned on expressions
EMBEDDING_SIZE = 256
THRESHOLD_FAR = 1e-3  # the match threshold's false accept rate
FARS = (1e-4, 1e-3, 1e-2)
PUBLISHER = "becauseofAI/MobileFace (github.com/becauseofAI/MobileFace), MIT licence"
LICENCE = "MIT, becauseofAI/MobileFace"
DEFAULT_DATA = Path("../shared/data")
INT8_PRECISION = "int8 (QDQ: 7-bit weights per channel, uint8 activations ranged on the faces)"
ONNX_OPSET = 18


# ------------------------------------------------------------------------------------------ the network


def checkpoint(folder: str | Path) -> tuple[Path, Path]:
    """(symbol, params) of the V1 checkpoint in `folder`; a missing file is named with what to pass."""
    folder = Path(folder)
    files = folder / f"{STEM}-symbol.json", folder / f"{STEM}-0000.params"
    for file in files:
        if not file.is_file():
            raise FileNotFoundError(
                f"no {file.name} in {folder}: pass the folder holding the publisher's "
                f"{STEM} files (e.g. ../shared/weights/mobileface)"
            )
    return files


def build_float_network(folder: str | Path):
    """The publisher's whole V1 graph (trunk, FullyConnected, L2Normalization) as an eval-mode torch network."""
    from fer.models.mxnet_graph import load_checkpoint

    symbol, params = checkpoint(folder)
    net, _ = load_checkpoint(symbol, params, (1, IMAGE_SIZE, IMAGE_SIZE))
    return net


def export_float(net, out: Path) -> Path:
    """The float32 network as ONNX, its input named as the identity file's."""
    import torch

    example = torch.zeros(2, 1, IMAGE_SIZE, IMAGE_SIZE)  # batch 2: a size-1 dimension would be specialised
    program = torch.onnx.export(
        net,
        (example,),
        None,
        dynamo=True,
        verbose=False,
        opset_version=ONNX_OPSET,
        input_names=[INPUT_NAME],
        output_names=[OUTPUT_NAME],
        dynamic_shapes=({0: torch.export.Dim("batch")},),
    )
    program.save(out, external_data=False)
    return out


def write_metadata(path: Path, meta: dict) -> None:
    import onnx

    model = onnx.load(str(path))
    kept = [p for p in model.metadata_props if p.key != META_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    entry = model.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta)
    onnx.save(model, str(path))


def read_metadata(path: Path) -> dict:
    import onnx

    return json.loads({p.key: p.value for p in onnx.load(str(path)).metadata_props}[META_KEY])


def embed_file(path: Path, batch: np.ndarray, threads: int = 2) -> np.ndarray:
    """Embeddings from an ONNX file with or without metadata (the importer measures files before writing it)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.concatenate(
        [unit_rows(session.run([OUTPUT_NAME], {name: batch[i : i + 64]})[0]) for i in range(0, len(batch), 64)]
    )


# ------------------------------------------------------------------------------------------ the faces


@dataclass
class FaceSet:
    """Face crops (uint8, as the encoder takes them) with the person each shows."""

    name: str
    crops: list = field(default_factory=list)
    ids: list = field(default_factory=list)
    files: list = field(default_factory=list)
    missed: list = field(default_factory=list)  # images where no face was found
    boxes: list = field(default_factory=list)  # the detector's box of each face, in its image (JAFFE)

    def batch(self) -> np.ndarray:
        return prepare(self.crops)


def prepare(crops: list) -> np.ndarray:
    """Crops as the encoder feeds them, N x 1 x 100 x 100 float32."""
    return np.stack([prepare_crop(crop) for crop in crops])


def jaffe_faces(data_dir: Path, margin: float = CROP_MARGIN) -> FaceSet:
    """JAFFE's 213 photos, the largest Haar face of each cut as IdentityEncoder.embed_boxes cuts it."""
    # JAFFE's faces fill about half the photo: skipping the scales below 0.3 of it finds the same 213 boxes as
    # the default detector, several times faster
    faces, detector = FaceSet("jaffe"), HaarFaceDetector(min_size=0.3)
    for file in sorted((Path(data_dir) / "jaffe").glob("*.tif*")):
        grey = read_grey(file)
        boxes = detector.detect(grey)
        if not boxes:
            faces.missed.append(file.name)
            continue
        faces.crops.append(crop_square(grey, boxes[0], margin, IMAGE_SIZE))
        faces.boxes.append(boxes[0])
        faces.ids.append(file.name.split(".")[0])
        faces.files.append(file.name)
    return faces


def ckplus_faces(data_dir: Path, margin: float = CROP_MARGIN) -> FaceSet:
    """One CK+48 crop per sequence (its last frame): the three frames of a sequence are near-duplicates, so
    pairs of them would flatter the measure. CK+48's crops are as tight as Haar boxes, so each is taken as a
    box covering the whole image and cut at the same margin (what embed_boxes(image, [(0, 0, 48, 48)]) does)."""
    last: dict[str, Path] = {}
    for file in sorted((Path(data_dir) / "ckplus48").rglob("*")):
        match = re.fullmatch(r"(S\d+)_(\d+)_(\d+)", file.stem)
        if file.suffix.lower() in IMAGE_SUFFIXES and match:
            key = f"{match[1]}_{match[2]}"
            if key not in last or file.stem > last[key].stem:
                last[key] = file
    faces = FaceSet("ckplus48")
    for key, file in sorted(last.items()):
        grey = read_grey(file)
        faces.crops.append(crop_square(grey, (0, 0, grey.shape[1], grey.shape[0]), margin, IMAGE_SIZE))
        faces.ids.append(key.split("_")[0])
        faces.files.append(file.name)
    return faces


def identity_sets(data_dir: str | Path, margin: float = CROP_MARGIN) -> dict[str, FaceSet]:
    data_dir = Path(data_dir)
    missing = [name for name in ("jaffe", "ckplus48") if not (data_dir / name).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"no {' or '.join(missing)} folder in {data_dir}: pass faces=<the folder holding "
            "jaffe/ and ckplus48/> (e.g. ../shared/data)"
        )
    return {"jaffe": jaffe_faces(data_dir, margin), "ckplus48": ckplus_faces(data_dir, margin)}


def pooled(sets: dict[str, FaceSet]) -> tuple[np.ndarray, list[str]]:
    """All sets' faces in one batch, with their people."""
    return np.concatenate([s.batch() for s in sets.values()]), pooled_ids(sets)


def pooled_ids(sets: dict[str, FaceSet]) -> list[str]:
    """The people of all sets, each id prefixed by its set's name (no person is in two sets)."""
    return [f"{s.name}:{i}" for s in sets.values() for i in s.ids]


# ------------------------------------------------------------------------------------------ the measures


def pair_scores(embeddings: np.ndarray, ids: list) -> tuple[np.ndarray, np.ndarray]:
    """(genuine, impostor) cosine similarities over all pairs of different images."""
    ids = np.asarray(ids)
    scores = embeddings @ embeddings.T
    upper = np.triu_indices(len(ids), k=1)
    same = ids[upper[0]] == ids[upper[1]]
    values = scores[upper]
    return values[same], values[~same]


def threshold_at(impostor: np.ndarray, far: float) -> float:
    """The similarity that at most `far` of the impostor pairs are above (accepted when strictly above)."""
    ranked = np.sort(impostor)[::-1]
    return float(ranked[min(int(far * len(ranked)), len(ranked) - 1)])


def verification(embeddings: np.ndarray, ids: list, fars=FARS) -> dict:
    genuine, impostor = pair_scores(embeddings, ids)
    curve = {}
    for far in fars:
        threshold = threshold_at(impostor, far)
        curve[f"{far:g}"] = {
            "threshold": threshold,
            "tar": float(np.mean(genuine > threshold)),
            "false_accepts": int(np.sum(impostor > threshold)),
        }
    return {
        "genuine_pairs": len(genuine),
        "impostor_pairs": len(impostor),
        "genuine_mean": float(genuine.mean()),
        "impostor_mean": float(impostor.mean()),
        "curve": curve,
    }


def rank1(embeddings: np.ndarray, ids: list) -> dict:
    """Share of faces whose nearest other face is the same person, over faces whose person has another face."""
    ids = np.asarray(ids)
    scores = embeddings @ embeddings.T
    np.fill_diagonal(scores, -np.inf)
    has_mate = np.array([np.sum(ids == i) > 1 for i in ids])
    nearest = ids[np.argmax(scores, axis=1)]
    return {"accuracy": float(np.mean(nearest[has_mate] == ids[has_mate])), "probes": int(has_mate.sum())}


# ------------------------------------------------------------------------------------------ the file


def metadata(folder: Path, margin: float, threshold: float, precision: str, faces: str) -> dict:
    symbol, params = checkpoint(folder)
    return {
        "format": FORMAT,
        "network": f"{STEM} (the publisher's whole network)",
        "input": INPUT_NAME,
        "output": OUTPUT_NAME,
        "image_size": IMAGE_SIZE,
        "channels": 1,
        "mean": MEAN,
        "std": STD,
        "embedding_size": EMBEDDING_SIZE,
        "crop_margin": margin,
        "threshold": threshold,
        "threshold_far": THRESHOLD_FAR,
        "threshold_pairs": f"all pairs of {faces} (JAFFE Haar faces, CK+48 one crop per sequence), "
        "this file's embeddings",
        "precision": precision,
        "faces": faces,
        "publisher": PUBLISHER,
        "licence": LICENCE,
        "source": {
            "params": params.name,
            "params_sha256": file_sha256(params),
            "symbol": symbol.name,
            "symbol_sha256": file_sha256(symbol),
        },
        "date": datetime.date.today().isoformat(),
    }


def finish(path: Path, folder: Path, sets: dict[str, FaceSet], margin: float, precision: str) -> float:
    """Measure the file's threshold on the faces and write the metadata; returns the threshold."""
    batch, ids = pooled(sets)
    threshold = threshold_at(pair_scores(embed_file(path, batch), ids)[1], THRESHOLD_FAR)
    counts = ", ".join(f"{len(s.crops)} {s.name}" for s in sets.values())
    # stored unrounded: rounding down would accept more impostor pairs than FAR 1e-3 allows
    write_metadata(path, metadata(folder, margin, threshold, precision, f"{counts} faces"))
    return threshold


def import_identity(
    folder: str | Path,
    out: str | Path,
    data_dir: str | Path = DEFAULT_DATA,
    margin: float = CROP_MARGIN,
    float_out: str | Path | None = None,
) -> Path:
    """Build, quantise and write the identity file (and the float one where `float_out` names it)."""
    from fer.export.quantize import quantize_onnx

    folder, out = Path(folder), Path(out)
    sets = identity_sets(data_dir, margin)
    net = build_float_network(folder)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_float(net, Path(tmp) / "fp32.onnx")
        quantize_onnx(fp32, out, pooled(sets)[0])
        finish(out, folder, sets, margin, INT8_PRECISION)
        if float_out:
            Path(float_out).write_bytes(fp32.read_bytes())
            finish(Path(float_out), folder, sets, margin, "float32")
    return out


def written(out: Path) -> str:
    """The line that says what `import_identity` wrote."""
    meta = read_metadata(out)
    size = out.stat().st_size / 1e6
    return f"wrote {out} ({size:.2f} MB; threshold {meta['threshold']:.4f} at FAR {THRESHOLD_FAR:g})"


# The old command-line name says the new one and stops: a stage's module never runs the front door (fer.cli).
if __name__ == "__main__":
    raise SystemExit(
        "python -m fer.export.identity is now "
        "`fer import-weights source=<folder> [out=<file>] [faces=<folder>] [margin=<m>] [float_out=<file>]`"
    )
