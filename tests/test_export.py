"""TorchScript and ONNX exports: same outputs as the eager model, metadata that survives, a CLI, clear errors."""

import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from fer.export.embedding import remove_embedding_output
from fer.export.export import export_onnx, export_torchscript
from fer.export.write import main, output_paths, parse_args
from fer.faces.image_io import read_grey
from fer.inference.runtime import load_classifier
from fer.labels import LABELS
from fer.models.model_file import Preprocessing
from tests.conftest import DATA_DIR, needs_data, run_script
from tests.tiny_models import SMALL, make_model_file, preprocess, synthetic_crops


def real_crops() -> list[np.ndarray]:
    # 8 FER2013 test faces and 8 CK+48 faces, the first of each class folder: different faces and sizes.
    folders = sorted((DATA_DIR / "fer2013" / "test").iterdir()) + sorted((DATA_DIR / "ckplus48").iterdir())
    files = [min(folder.iterdir()) for folder in folders if folder.is_dir()]
    return [read_grey(path) for path in files[:16]]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    model_file = make_model_file(folder / "model.pt")
    return {
        "torch": model_file,
        "torchscript": export_torchscript(model_file, folder / "model.ts.pt"),
        "onnxruntime": export_onnx(model_file, folder / "model.onnx"),
    }


@pytest.fixture(scope="module")
def classifiers(exported):
    return {runtime: load_classifier(path, threads=1) for runtime, path in exported.items()}


@pytest.fixture(scope="module", params=[pytest.param("real", marks=needs_data("fer2013", "ckplus48")), "synthetic"])
def face_batch(request):
    crops = real_crops() if request.param == "real" else synthetic_crops(16)
    return preprocess(crops, Preprocessing(48, 1, 0.5, 0.5)).numpy()


@pytest.mark.parametrize("batch_size", [1, 5])
@pytest.mark.parametrize("runtime", ["torchscript", "onnxruntime"])
def test_exports_match_eager_model(classifiers, face_batch, batch_size, runtime):
    eager, export = classifiers["torch"], classifiers[runtime]
    assert export.runtime == runtime
    chunks = [face_batch[i : i + batch_size] for i in range(0, len(face_batch), batch_size)]
    expected = np.concatenate([eager.logits(chunk) for chunk in chunks])
    got = np.concatenate([export.logits(chunk) for chunk in chunks])
    # Parity at 1e-4 only means something if the outputs differ between faces by much more.
    assert expected.std(axis=0).mean() > 0.05
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    np.testing.assert_allclose(export.probabilities(face_batch).sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("runtime", ["torchscript", "onnxruntime"])
def test_exports_carry_the_embedding_of_the_eager_model(classifiers, face_batch, runtime):
    """The second output is the head's hidden layer, the same in every format, and the logits beside it are
    the ones a logits-only call gives."""
    eager, export = classifiers["torch"], classifiers[runtime]
    assert export.embedding_size == eager.embedding_size == 256
    logits, embedding = export.outputs(face_batch)
    expected_logits, expected = eager.outputs(face_batch)
    assert embedding.shape == (len(face_batch), 256) and embedding.min() >= 0  # after the ReLU
    assert expected.std(axis=0).mean() > 0.01
    np.testing.assert_allclose(embedding, expected, atol=1e-4, rtol=0)
    np.testing.assert_array_equal(logits, export.logits(face_batch))
    np.testing.assert_allclose(logits, expected_logits, atol=1e-4, rtol=0)


def test_metadata_survives_every_format(exported, classifiers):
    for runtime, classifier in classifiers.items():
        assert classifier.runtime == runtime
        assert (classifier.labels, classifier.image_size, classifier.channels) == (LABELS, 48, 1)
        assert (classifier.mean, classifier.std) == (0.5, 0.5)
        assert classifier.arch["backbone_kwargs"] == SMALL

    with zipfile.ZipFile(exported["torchscript"]) as archive:  # read directly: no torch.jit, no deprecation warning
        ts_meta = archive.read(next(n for n in archive.namelist() if n.endswith("/extra/fer_meta.json")))
    onnx_model = onnx.load(str(exported["onnxruntime"]))
    onnx_meta = {p.key: p.value for p in onnx_model.metadata_props}["fer_meta"]
    for meta, format_name in ((json.loads(ts_meta), "fer-torchscript/1"), (json.loads(onnx_meta), "fer-onnx/1")):
        assert meta["format"] == format_name and meta["outputs"] == ["logits", "embedding"]
        assert meta["embedding"]["output"] == "embedding" and meta["embedding"]["size"] == 256
        assert meta["labels"] == list(LABELS) and meta["arch"]["backbone"] == "compact_cnn"


def test_an_onnx_file_with_the_earlier_format_name_still_loads(exported, classifiers, tmp_path):
    """ONNX files exported before fer-onnx/1 (the shipped ones among them) say fer-torchscript/1."""
    model = onnx.load(str(exported["onnxruntime"]))
    entry = next(p for p in model.metadata_props if p.key == "fer_meta")
    entry.value = json.dumps({**json.loads(entry.value), "format": "fer-torchscript/1"})
    onnx.save(model, str(tmp_path / "earlier.onnx"))
    earlier = load_classifier(tmp_path / "earlier.onnx", threads=1)
    batch = preprocess(synthetic_crops(4), Preprocessing(48, 1, 0.5, 0.5)).numpy()
    assert (earlier.labels, earlier.image_size, earlier.embedding_size) == (LABELS, 48, 256)
    np.testing.assert_array_equal(earlier.logits(batch), classifiers["onnxruntime"].logits(batch))


def test_onnx_file_is_self_contained_with_a_dynamic_batch(exported):
    path = exported["onnxruntime"]
    model = onnx.load(str(path), load_external_data=False)
    assert [i.name for i in model.graph.input] == ["image"] and [o.name for o in model.graph.output] == [
        "logits",
        "embedding",
    ]
    batch_dim = model.graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param and not batch_dim.HasField("dim_value")
    assert max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) >= 17
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith("model.onnx")) == ["model.onnx"]


def test_jit_deprecation_warning_does_not_escape(exported, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_classifier(export_torchscript(exported["torch"], tmp_path / "m.ts.pt"))
    jit_warnings = [w for w in caught if issubclass(w.category, FutureWarning) and "torch.jit" in str(w.message)]
    assert not jit_warnings, [str(w.message) for w in jit_warnings]


def test_torchscript_is_recognised_by_content_not_name(exported, tmp_path):
    renamed = tmp_path / "weights.bin"
    renamed.write_bytes(exported["torchscript"].read_bytes())
    assert load_classifier(renamed).runtime == "torchscript"


@pytest.mark.slow
def test_cli_exports_both_formats_with_their_metadata(tmp_path):
    # Not the defaults (3 channels, 40 px, other normalisation), so nothing can be hard-coded.
    pre = Preprocessing(40, 3, 0.45, 0.25)
    model_file = make_model_file(tmp_path / "net.pt", pre, {"widths": [4, 8]})
    result = run_script(["-m", "fer.export", f"ckpt={model_file}", "format=both"])
    written = [tmp_path / "net.ts.pt", tmp_path / "net.onnx"]
    for path in written:
        assert path.is_file() and str(path) in result.stdout
    eager = load_classifier(model_file)
    batch = preprocess(synthetic_crops(3), pre).numpy()
    for path in written:
        classifier = load_classifier(path)
        assert (classifier.image_size, classifier.channels, classifier.mean, classifier.std) == (40, 3, 0.45, 0.25)
        np.testing.assert_allclose(classifier.logits(batch), eager.logits(batch), atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["ckpt=m.pt", "formt=onnx"], "unknown option 'formt'"),
        (["format=onnx"], "name what to export: ckpt=, ensemble=, to_float= or embedding="),
        (["ckpt=m.pt"], "format= is missing"),
        (["ckpt=m.pt", "format=tflite"], "format=tflite: choose one of torchscript, onnx, onnx_int8, both"),
        (["ckpt=m.pt", "format=onnx_int8"], "format=onnx_int8 needs calibration=<folder"),
        (["ckpt=m.pt", "onnx"], "'onnx' is not key=value"),
        (["ckpt=m.pt", "ensemble=a.onnx,b.onnx"], "ckpt= and ensemble=: name only one of them"),
        (["ensemble=a.onnx", "out=e.onnx"], "name two or more ONNX files"),
        (["ensemble=a.onnx,b.onnx"], "ensemble= needs out="),
        (["ensemble=a.onnx,b.onnx", "out=e.onnx", "format=onnx"], "format= is for ckpt="),
        (["to_float=m.int8.onnx", "out=m.pt"], "to_float= needs calibration="),
        (["to_float=m.int8.onnx", "out=m.pt", "calibration=faces", "limit=0"], "limit=0: expected a number of faces"),
        (["ckpt=m.pt", "embedding=m.onnx"], "ckpt= and embedding=: name only one of them"),
        (["embedding=m.onnx", "format=onnx"], "format= is for ckpt=; embedding= writes one ONNX file"),
    ],
)
def test_cli_usage_errors(argv, message, capsys):
    """`fer export`'s usage errors: one line on stderr, exit code 2."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("fer export: ") and len(err.strip().splitlines()) == 1


def test_cli_output_paths(tmp_path):
    ckpt = tmp_path / "runs" / "epoch=3-step=90.ckpt"  # "=" in the value: split at the first one only
    assert parse_args([f"ckpt={ckpt}", "format=both"])["ckpt"] == str(ckpt)
    assert output_paths(ckpt, "both", None) == {
        "torchscript": ckpt.parent / "epoch=3-step=90.ts.pt",
        "onnx": ckpt.parent / "epoch=3-step=90.onnx",
    }
    assert output_paths(ckpt, "onnx", "deploy/fer.onnx") == {"onnx": Path("deploy/fer.onnx")}
    assert output_paths(ckpt, "both", "deploy") == {
        "torchscript": Path("deploy/epoch=3-step=90.ts.pt"),
        "onnx": Path("deploy/epoch=3-step=90.onnx"),
    }


def test_cli_names_a_missing_input(tmp_path, capsys):
    assert main([f"ckpt={tmp_path / 'absent.pt'}", "format=onnx"]) == 1
    assert "absent.pt" in capsys.readouterr().err


def test_missing_weights_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.onnx"):
        load_classifier(tmp_path / "nope.onnx")


@pytest.mark.parametrize(
    "name, content",
    [
        ("notes.pt", b"not weights at all"),
        ("fake.onnx", b"not an onnx model"),
        ("tensor.pt", None),  # a real torch file, but not ours
    ],
)
def test_wrong_kind_of_weights_file_lists_what_is_accepted(tmp_path, name, content):
    path = tmp_path / name
    if content is None:
        torch.save({"weights": torch.zeros(3)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=name) as error:
        load_classifier(path)
    for kind in (".onnx", "TorchScript", "fer model file", ".ckpt"):
        assert kind in str(error.value)


def int8_export(folder, faces: int):
    """A small model file and its int8 export through the CLI (folder/model.int8.onnx), calibrated on
    a folder of drawn faces; returns (model file, calibration folder)."""
    import cv2

    calibration = folder / "calibration"
    calibration.mkdir()
    for i, crop in enumerate(synthetic_crops(faces, offset=2_000)):
        cv2.imwrite(str(calibration / f"face{i}.png"), crop)
    model_file = make_model_file(folder / "model.pt")
    assert main([f"ckpt={model_file}", "format=onnx_int8", f"calibration={calibration}"]) == 0
    return model_file, calibration


@pytest.mark.slow
def test_int8_onnx_keeps_metadata_and_agrees_with_float(tmp_path):
    """Static int8 quantisation through the CLI, calibrated on a folder of faces of the kind it
    then sees: same labels and preprocessing, probabilities close to float32, mostly the same label.
    (Its accuracy on real faces is measured with fer.evaluate and published in the README.)"""
    model_file, calibration = int8_export(tmp_path, faces=32)
    int8 = load_classifier(tmp_path / "model.int8.onnx", threads=1)
    fp32 = load_classifier(export_onnx(model_file, tmp_path / "fp32.onnx"), threads=1)
    assert (int8.labels, int8.image_size, int8.mean, int8.std) == (fp32.labels, fp32.image_size, fp32.mean, fp32.std)
    assert (tmp_path / "model.int8.onnx").stat().st_size < 0.5 * (tmp_path / "fp32.onnx").stat().st_size
    faces = preprocess(synthetic_crops(16), Preprocessing(48, 1, 0.5, 0.5)).numpy()
    p8, p32 = int8.probabilities(faces), fp32.probabilities(faces)
    assert np.abs(p8 - p32).max() < 0.1
    assert (p8.argmax(1) == p32.argmax(1)).mean() >= 0.8
    # rounding alone: 0.03 here; saturating 8-bit weights on an AVX2 CPU: 1.04 (same model, same faces)
    assert fused_kernel_gap(tmp_path / "model.int8.onnx", faces) < 0.1
    (l8, e8), (_, e32) = int8.outputs(faces), fp32.outputs(faces)
    assert e8.shape == e32.shape == (16, 256) and np.array_equal(l8, int8.logits(faces))
    assert np.abs(e8 - e32).max() < 0.1 * np.abs(e32).max()  # the embedding quantised as the head reads it


def without_embedding(path: Path, out: Path) -> Path:
    """The same ONNX file with its embedding output and the nodes that make it taken out."""
    onnx.save(remove_embedding_output(onnx.load(str(path))), str(out))
    return out


@pytest.mark.parametrize("name", ["default", "ensemble"])
def test_shipped_models_give_embeddings_and_the_same_logits_as_without(tmp_path, name):
    """The embedding output changes nothing of the logits (identical to the last bit: the hidden layer is
    read through a DequantizeLinear of its own, so ONNX Runtime fuses the same kernels) nor of the size."""
    from fer.inference.runtime import weights_path

    shipped = weights_path(name)
    plain = without_embedding(shipped, tmp_path / "plain.onnx")
    with_output = load_classifier(shipped, threads=1)
    assert with_output.embedding_size == (256 if name == "default" else 512)
    faces = preprocess(
        synthetic_crops(32), Preprocessing(with_output.image_size, 1, with_output.mean, with_output.std)
    ).numpy()
    logits, embedding = with_output.outputs(faces)
    np.testing.assert_array_equal(logits, ort_logits(plain, faces))
    assert embedding.shape == (32, with_output.embedding_size) and embedding.std(axis=0).mean() > 0.01
    assert shipped.stat().st_size < 1.01 * plain.stat().st_size


def test_export_adds_the_embedding_output_to_an_older_file(tmp_path, capsys):
    """`fer export embedding=` gives a file exported without the embedding output the one every export has now:
    the same embeddings as the shipped file's, the logits unchanged to the last bit; in place without out=."""
    from fer.inference.runtime import default_weights

    plain = without_embedding(default_weights(), tmp_path / "plain.onnx")
    assert load_classifier(plain, threads=1).embedding_size == 0
    assert main([f"embedding={plain}", f"out={tmp_path / 'added.onnx'}"]) == 0
    assert capsys.readouterr().out.strip() == f"wrote embedding: {tmp_path / 'added.onnx'}"
    added, shipped = load_classifier(tmp_path / "added.onnx", threads=1), load_classifier(default_weights(), threads=1)
    assert added.embedding_size == shipped.embedding_size == 256
    faces = preprocess(synthetic_crops(8), Preprocessing(added.image_size, 1, added.mean, added.std)).numpy()
    logits, embedding = added.outputs(faces)
    np.testing.assert_array_equal(logits, ort_logits(plain, faces))
    np.testing.assert_array_equal(embedding, shipped.outputs(faces)[1])
    assert main([f"embedding={plain}"]) == 0 and load_classifier(plain, threads=1).embedding_size == 256
    assert main([f"embedding={tmp_path / 'absent.onnx'}"]) == 1 and "absent.onnx" in capsys.readouterr().err


def ort_logits(path: Path, faces: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"image": faces})[0]


def fused_kernel_gap(int8_onnx, faces: np.ndarray) -> float:
    """Largest logit difference between ONNX Runtime's fused integer kernels and the same QDQ graph
    run unfused (dequantise, float op, quantise: the file's exact meaning). Beyond rounding where the
    kernels saturate, as 8-bit weights do on x86 CPUs without VNNI (fer/export/quantize.py)."""
    import onnxruntime as ort

    outputs = []
    for level in (ort.GraphOptimizationLevel.ORT_ENABLE_ALL, ort.GraphOptimizationLevel.ORT_DISABLE_ALL):
        options = ort.SessionOptions()
        options.graph_optimization_level = level
        session = ort.InferenceSession(str(int8_onnx), options, providers=["CPUExecutionProvider"])
        outputs.append(session.run(None, {session.get_inputs()[0].name: faces})[0])
    return float(np.abs(outputs[0] - outputs[1]).max())


def test_shipped_int8_model_computes_the_same_on_every_cpu():
    """The shipped file's integer kernels are exact on this CPU, VNNI or not (7-bit weights), so the
    figures published for it hold on the machines of other users."""
    from fer.inference.runtime import default_weights

    shipped = load_classifier(default_weights())
    faces = preprocess(
        synthetic_crops(32), Preprocessing(shipped.image_size, shipped.channels, shipped.mean, shipped.std)
    ).numpy()
    spread = float(np.abs(shipped.logits(faces)).max())
    # rounding through v3's ~50 layers: 0.100 of a 3.30 logit spread (3 %) on an AVX2 CPU; v2 0.034 of
    # 2.72; v1 with 8-bit weights saturating there: 1.04
    assert fused_kernel_gap(default_weights(), faces) < 0.05 * spread


@pytest.mark.slow
def test_float_model_rebuilt_from_int8_trains_from_where_the_int8_file_is(tmp_path):
    """`fer export to_float=` gives a trainable model file whose outputs are the int8
    file's (up to activation rounding) in eval mode, and close to them with batch statistics (train
    mode), so fine-tuning starts from the shipped model rather than from a different network."""
    from fer.models.model_file import load_model_file

    _, calibration = int8_export(tmp_path, faces=64)
    int8_file = tmp_path / "model.int8.onnx"
    assert main([f"to_float={int8_file}", f"out={tmp_path / 'rebuilt.pt'}", f"calibration={calibration}"]) == 0

    rebuilt, pre, meta = load_model_file(tmp_path / "rebuilt.pt")
    faces = preprocess(synthetic_crops(64, offset=2_000), pre)
    int8_logits = load_classifier(int8_file, threads=1).logits(faces.numpy())
    with torch.no_grad():
        eval_logits = rebuilt(faces).numpy()
        no_dropout = {m: m.p for m in rebuilt.modules() if isinstance(m, (torch.nn.Dropout, torch.nn.Dropout2d))}
        rebuilt.train()
        for module in no_dropout:
            module.p = 0.0
        train_logits = rebuilt(faces).numpy()  # batch statistics of the faces the BatchNorms were fitted on
    spread = float(np.abs(int8_logits).max())
    assert np.abs(eval_logits - int8_logits).max() < 0.05 * spread + 0.05
    assert np.abs(train_logits - eval_logits).max() < 1e-3 * spread + 1e-3
    assert (eval_logits.argmax(1) == int8_logits.argmax(1)).mean() >= 0.9
    assert meta["arch"]["backbone"] == "compact_cnn" and pre.image_size == 48


@pytest.mark.slow
def test_the_shipped_model_rebuilds_as_a_float_model(tmp_path):
    """The rebuild finds each folded BatchNorm by what takes the layer's output, so a backbone whose layers are
    named attributes (the shipped MobileFace trunk: convolutionN -> batchnormN) rebuilds as the compact CNN does,
    its eval outputs the int8 file's up to activation rounding."""
    import cv2

    from fer.inference.runtime import default_weights
    from fer.models.model_file import load_model_file

    calibration = tmp_path / "calibration"
    calibration.mkdir()
    for i, crop in enumerate(synthetic_crops(48, offset=2_000)):
        cv2.imwrite(str(calibration / f"face{i}.png"), crop)
    out = tmp_path / "rebuilt.pt"
    assert main([f"to_float={default_weights()}", f"out={out}", f"calibration={calibration}"]) == 0

    rebuilt, pre, meta = load_model_file(out)
    faces = preprocess(synthetic_crops(32, offset=3_000), pre)
    int8_logits = load_classifier(default_weights(), threads=1).logits(faces.numpy())
    with torch.no_grad():
        eval_logits = rebuilt(faces).numpy()
    spread = float(np.abs(int8_logits).max())
    assert meta["arch"]["backbone"] == "mobileface"
    assert np.abs(eval_logits - int8_logits).max() < 0.15 * spread
    assert (eval_logits.argmax(1) == int8_logits.argmax(1)).mean() >= 0.9


def test_rebuilding_needs_an_int8_file_of_ours(tmp_path, capsys):
    argv = [f"to_float={tmp_path / 'missing.onnx'}", f"out={tmp_path / 'out.pt'}", f"calibration={tmp_path}"]
    assert main(argv) == 1 and "int8 file: no such file" in capsys.readouterr().err
