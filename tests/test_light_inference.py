"""Inference with ONNX weights (the shipped model) loads none of the training stack: the API, infer.py and
fer serve run on numpy, OpenCV and ONNX Runtime (and Hydra for infer.py's options). torch loads only where the
weights are torch ones (or for explain=gradcam), and then lazily."""

import json

import pytest

from tests.conftest import ROOT, run_script
from tests.test_api import two_faces
from tests.tiny_models import make_model_file

# the packages of the `train` extra (pyproject.toml) that inference must not import
HEAVY = (
    "torch",
    "torchvision",
    "lightning",
    "pytorch_lightning",
    "torchmetrics",
    "albumentations",
    "timm",
    "captum",
    "wandb",
    "onnx",
)
MARKER = "LOADED "
REPORT = f"print({MARKER!r} + json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))))"


def loaded_heavy(code: str) -> list[str]:
    """Run `code` in a fresh interpreter at the project root; the heavy packages it left in sys.modules."""
    result = run_script(["-c", f"import json, sys\ntry:\n{_indent(code)}\nfinally:\n    {REPORT}"], cwd=ROOT)
    line = next(line for line in result.stdout.splitlines() if line.startswith(MARKER))
    return json.loads(line[len(MARKER) :])


def _indent(code: str) -> str:
    return "\n".join("    " + line for line in code.splitlines())


def infer_py(*args: str) -> str:
    """infer.py's real main, run as `python infer.py <args>` runs it."""
    return f"import runpy\nsys.argv = ['infer.py', *{list(args)!r}]\nrunpy.run_path('infer.py', run_name='__main__')"


def test_the_api_with_the_shipped_model_imports_no_training_library(tmp_path):
    image = two_faces(tmp_path / "faces.png")
    code = f"import fer\nfaces = fer.predict({str(image)!r})\nassert len(faces) == 2, faces"
    assert loaded_heavy(code) == []


def test_infer_py_with_the_shipped_model_imports_no_training_library(tmp_path):
    """A still image with the shipped model, records written, occlusion saliency included (numpy only)."""
    image = two_faces(tmp_path / "faces.png")
    out = tmp_path / "out"
    code = infer_py(
        f"source={image}",
        "display=false",
        "explain=true",
        f"output.dir={out}",
        f"output.jsonl={out / 'faces.jsonl'}",
        f"hydra.run.dir={tmp_path / 'run'}",
    )
    assert loaded_heavy(code) == []
    assert len((out / "faces.jsonl").read_text().splitlines()) == 2
    assert len(list(out.glob("*_occlusion.png"))) == 2


def test_fer_serve_with_the_shipped_model_imports_no_training_library(tmp_path):
    """The service (fer serve) on the light install: its app built, an image posted, a frame streamed."""
    image = two_faces(tmp_path / "faces.png")
    code = (
        "from starlette.testclient import TestClient\nfrom fer.serve.app import create_app\n"
        f"data = open({str(image)!r}, 'rb').read()\n"
        "with TestClient(create_app()) as client:\n"
        "    answer = client.post('/v1/predict', content=data, headers={'Content-Type': 'image/png'}).json()\n"
        "    assert len(answer['faces']) == 2, answer\n"
        "    with client.websocket_connect('/v1/stream') as ws:\n"
        "        ws.send_bytes(data)\n"
        "        assert ws.receive_json()['frame'] == 1"
    )
    assert loaded_heavy(code) == []


@pytest.mark.slow
def test_torch_weights_do_load_torch(tmp_path):
    """The counter-check: a fer model file (.pt) runs on torch, loaded on demand, and the check sees it."""
    image = two_faces(tmp_path / "faces.png")
    weights = make_model_file(tmp_path / "model.pt")
    code = infer_py(f"source={image}", f"weights={weights}", "display=false", f"hydra.run.dir={tmp_path / 'run'}")
    heavy = loaded_heavy(code)
    assert "torch" in heavy and "lightning" not in heavy and "albumentations" not in heavy, heavy
