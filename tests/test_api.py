"""The Python API (`import fer`): the snippets of the README and docs/api.md as written, every input kind,
batches, streams."""

import json
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import fer
from fer.labels import LABELS
from tests.conftest import ROOT
from tests.test_infer import make_video


def two_faces(path: Path) -> Path:
    """A photo with two drawn faces (Haar finds them; no data needed)."""
    from fer.data.synthetic_faces import draw_face, sample_identity

    canvas = np.full((300, 520, 3), 190, np.uint8)
    for i in range(2):
        canvas[50:250, 30 + i * 260 : 230 + i * 260] = draw_face(sample_identity(40 + i), 3 + i, seed=i, size=200)
    cv2.imwrite(str(path), canvas)
    return path


def one_face(path: Path, expression: int, seed: int) -> Path:
    """A photo of one drawn person showing `expression` (an index into LABELS)."""
    from fer.data.synthetic_faces import draw_face, sample_identity

    canvas = np.full((300, 320, 3), 190, np.uint8)
    canvas[50:250, 60:260] = draw_face(sample_identity(7), expression, seed=seed, size=200)
    cv2.imwrite(str(path), canvas)
    return path


def python_snippets(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.S)


def readme_api_snippets() -> list[str]:
    section = Path(ROOT / "README.md").read_text().split("## Python API", 1)[1].split("\n## ", 1)[0]
    return python_snippets(section)


def docs_snippets() -> list[str]:
    """Every python snippet of the docs pages (docs/api.md holds the API's; any page may add one)."""
    return [snippet for page in sorted((ROOT / "docs").glob("*.md")) for snippet in python_snippets(page.read_text())]


@pytest.fixture(scope="module")
def recognizer():
    return fer.Recognizer()


@pytest.mark.slow
def test_readme_and_docs_snippets_run_as_written(tmp_path):
    assert len(readme_api_snippets()) >= 1 and len(python_snippets((ROOT / "docs" / "api.md").read_text())) >= 2
    snippets = readme_api_snippets() + docs_snippets()
    two_faces(tmp_path / "photo.jpg")
    two_faces(tmp_path / "group.png")
    for name in ("happy1", "happy2", "neutral1", "sad1"):  # a person's labelled photos (docs/calibration.md)
        one_face(tmp_path / f"{name}.jpg", LABELS.index(name[:-1]), seed=int(name[-1]))
    for video in ("clip.mp4", "interview.mp4"):  # the videos the snippets name
        make_video(tmp_path / video, frames=6)
    for snippet in snippets:  # each in a fresh interpreter, in a folder holding the files it names
        result = subprocess.run(
            [sys.executable, "-c", snippet], cwd=tmp_path, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, f"snippet failed:\n{snippet}\n{result.stderr[-3000:]}"


def test_the_one_liner_with_the_shipped_model(tmp_path):
    image = two_faces(tmp_path / "faces.png")
    result = subprocess.run(
        [sys.executable, "-c", f"import fer; print(fer.Recognizer().predict({str(image)!r}))"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("'label'") == 2 and "'probs'" in result.stdout


def test_the_shipped_ensemble_by_name_is_its_members_mean(tmp_path, recognizer):
    """weights="ensemble": the second shipped file, one graph of two networks (112 px input, log mean probabilities)."""
    ensemble = fer.Recognizer(weights="ensemble")
    assert ensemble.classifier.path.name == "ensemble_model.onnx" and ensemble.classifier.image_size == 112
    faces = ensemble.predict(two_faces(tmp_path / "faces.png"))
    alone = recognizer.predict(tmp_path / "faces.png")
    assert [f["box"] for f in faces] == [f["box"] for f in alone] and len(faces) == 2
    assert all(abs(sum(f["probs"].values()) - 1) < 1e-4 for f in faces)
    assert any(abs(f["probs"][k] - g["probs"][k]) > 1e-3 for f, g in zip(faces, alone) for k in LABELS)  # another model
    with pytest.raises(FileNotFoundError, match="ensembel.*default, ensemble"):
        fer.Recognizer(weights="ensembel")


def test_every_input_kind_gives_the_same_faces(tmp_path, recognizer):
    path = two_faces(tmp_path / "faces.png")
    bgr = cv2.imread(str(path))
    from PIL import Image

    by_path = recognizer.predict(path)
    assert [f["face"] for f in by_path] == [0, 1]
    inputs = {
        "str": str(path),
        "bgr": bgr,
        "bytes": path.read_bytes(),
        "pil": Image.open(path),
        "grey": cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY),
    }
    for kind, image in inputs.items():
        faces = recognizer.predict(image)
        assert [f["box"] for f in faces] == [f["box"] for f in by_path], kind
        assert [f["label"] for f in faces] == [f["label"] for f in by_path], kind
    rgb = recognizer.predict(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), rgb=True)
    assert [f["probs"] for f in rgb] == [f["probs"] for f in recognizer.predict(bgr)]


def test_records_are_json_and_match_infer_output(tmp_path, recognizer):
    path = two_faces(tmp_path / "faces.png")
    faces = recognizer.predict(path)
    assert json.loads(json.dumps(faces)) == faces
    for face in faces:
        assert list(face["probs"]) == list(LABELS)
        assert sum(face["probs"].values()) == pytest.approx(1.0, abs=1e-4)
        assert face["label"] == max(face["probs"], key=face["probs"].get)
    out = tmp_path / "faces.jsonl"
    subprocess.run(
        [sys.executable, "infer.py", f"source={path}", f"output.jsonl={out}", "display=false"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    written = [json.loads(line) for line in out.read_text().splitlines()]
    # a source gets person ids (p1, p2: its people); a lone predict() call names only enrolled people
    assert [w.pop("person") for w in written] == ["p1", "p2"] and [f.pop("person") for f in faces] == [None, None]
    assert written == faces


def test_no_face_is_an_empty_list(recognizer):
    assert recognizer.predict(np.full((240, 320, 3), 128, np.uint8)) == []


def test_predict_many_batches_across_images_and_keeps_going_past_a_bad_file(tmp_path, recognizer):
    good = [two_faces(tmp_path / f"faces{i}.png") for i in range(3)]
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff not an image")
    inputs = [good[0], tmp_path / "broken.jpg", good[1], tmp_path / "missing.png", good[2]]
    results = recognizer.predict_many(inputs, batch_size=3)
    assert len(results) == 5
    for i in (0, 2, 4):
        single = recognizer.predict(inputs[i])
        assert [f["box"] for f in results[i]] == [f["box"] for f in single]
        for batched, alone in zip(results[i], single):
            assert np.allclose(list(batched["probs"].values()), list(alone["probs"].values()), atol=1e-5)
    for i in (1, 3):
        assert len(results[i]) == 1 and results[i][0]["face"] is None and str(inputs[i].name) in results[i][0]["error"]


def test_crops_without_a_detector():
    crops = fer.Recognizer(detector=None)
    face = np.random.default_rng(0).integers(0, 255, (48, 48), np.uint8)
    (only,) = crops.predict(face)
    assert only["box"] is None and only["face"] == 0


def test_stream_follows_a_video_frame_by_frame(tmp_path, recognizer):
    video = make_video(tmp_path / "clip.mp4", frames=12)
    frames = list(recognizer.stream(video))
    assert len(frames) == 12
    assert all(faces and faces[0]["frame"] == i for i, faces in enumerate(frames))
    xs = [faces[0]["box"][0] for faces in frames]
    assert xs[-1] > xs[0]  # the face moves right in the clip, and the held boxes follow it


def test_bad_arguments_are_named():
    with pytest.raises(fer.UserError, match="faces='most'"):
        fer.Recognizer(faces="most")
    with pytest.raises(fer.UserError, match="detector='dlib'"):
        fer.Recognizer(detector="dlib")
    with pytest.raises(FileNotFoundError, match="weights: no such file"):
        fer.Recognizer(weights="nope.onnx")
    with pytest.raises(TypeError, match="expected a path"):
        fer.Recognizer().predict(42)
