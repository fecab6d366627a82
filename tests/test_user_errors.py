"""What a new user meets first: one-line errors, linked folders, empty sources, progress and its summary."""

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_script
from tests.test_api import two_faces


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def image(tmp_path) -> Path:
    return two_faces(tmp_path / "faces.png")


def test_missing_source(tmp_path):
    line = one_line_error(run_script(["infer.py", f"source={tmp_path / 'nowhere'}", "display=false"], check=False))
    assert "source=" in line and "nowhere" in line and "no such file or folder" in line


def test_camera_that_cannot_be_opened():
    line = one_line_error(run_script(["infer.py", "source=webcam:9", "display=false"], check=False))
    assert "camera 9" in line and "source=webcam:9" in line


def test_unreadable_weights(tmp_path, image):
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    line = one_line_error(
        run_script(["infer.py", f"source={image}", f"weights={tmp_path / 'model.onnx'}", "display=false"], check=False)
    )
    assert line.startswith("error: weights:") and "model.onnx" in line


def test_unknown_option_value(image):
    line = one_line_error(run_script(["infer.py", f"source={image}", "faces=most", "display=false"], check=False))
    assert "faces='most'" in line and "all, largest" in line


def test_full_traceback_on_request(tmp_path):
    result = subprocess.run(
        [sys.executable, "infer.py", f"source={tmp_path / 'nowhere'}", "display=false"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "HYDRA_FULL_ERROR": "1"},
    )
    assert result.returncode != 0 and "Traceback" in result.stderr and "MissingInput" in result.stderr


def test_programming_errors_still_raise():
    from fer.api import Recognizer

    with pytest.raises(TypeError):
        Recognizer().predict(object())


def test_folder_of_linked_label_folders_is_read_in_full(tmp_path):
    """A test set assembled from links (one sub-folder per label, each a link to elsewhere), plus a link
    back up the tree that must not loop: every image once."""
    store = tmp_path / "store"
    for label in ("happy", "sad"):
        for i in range(3):
            (store / label).mkdir(parents=True, exist_ok=True)
            two_faces(store / label / f"{label}{i}.png")
    test_set = tmp_path / "test_set"
    test_set.mkdir()
    for label in ("happy", "sad"):
        (test_set / label).symlink_to(store / label, target_is_directory=True)
    (store / "happy" / "loop").symlink_to(test_set, target_is_directory=True)
    out = tmp_path / "faces.jsonl"
    result = run_script(["infer.py", f"source={test_set}", f"output.jsonl={out}", "display=false", "print_faces=false"])
    sources = {json.loads(line)["source"] for line in out.read_text().splitlines()}
    assert len(sources) == 6, sources
    assert "6 images, 12 face(s), 0 failed" in result.stdout


def test_source_without_images_is_an_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    line = one_line_error(run_script(["infer.py", f"source={empty}", "display=false"], check=False))
    assert "holds no image" in line
    (empty / "clip.mp4").write_bytes(b"")
    line = one_line_error(run_script(["infer.py", f"source={empty}", "display=false"], check=False))
    assert "clip.mp4" in line and "source=<file>" in line


def run_on_a_terminal(args: list[str], timeout: float = 300) -> str:
    """Run an entry point with stdout and stderr on a pseudo-terminal, as in a user's shell; all it printed."""
    controller, terminal = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=terminal,
        stderr=terminal,
        stdin=subprocess.DEVNULL,
        env=env,
        close_fds=True,
    )
    os.close(terminal)
    chunks = []
    while True:
        ready, _, _ = select.select([controller], [], [], timeout)
        if not ready:
            process.kill()
            raise AssertionError("no output for too long")
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the process ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=timeout)
    os.close(controller)
    assert process.returncode == 0
    return b"".join(chunks).decode(errors="replace")


@pytest.fixture
def folder(tmp_path) -> Path:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(4):
        two_faces(photos / f"p{i}.png")
    return photos


def test_folder_on_a_terminal_shows_a_progress_bar_and_the_summary(folder):
    shown = run_on_a_terminal(["infer.py", f"source={folder}", "display=false", "print_faces=false"])
    assert "4/4" in shown and "images" in shown  # the bar's done / total
    assert "4 images, 8 face(s), 0 failed" in shown


def test_progress_false_and_piped_output_print_the_summary_only(folder):
    quiet = run_on_a_terminal(["infer.py", f"source={folder}", "display=false", "print_faces=false", "progress=false"])
    assert "4/4" not in quiet and "4 images, 8 face(s), 0 failed" in quiet
    piped = run_script(["infer.py", f"source={folder}", "display=false", "print_faces=false"])
    assert [line for line in piped.stdout.splitlines() if line.strip()] == [
        line for line in piped.stdout.splitlines() if "4 images, 8 face(s), 0 failed" in line
    ]
    assert "4/4" not in piped.stderr


def test_video_progress_knows_its_length(tmp_path):
    from tests.test_infer import make_video

    video = make_video(tmp_path / "clip.mp4", frames=10)
    shown = run_on_a_terminal(["infer.py", f"source={video}", "display=false"])
    assert "10/10" in shown and "frames" in shown
    assert "10 frames," in shown


@pytest.mark.slow
def test_evaluate_on_a_terminal_shows_faces_done_out_of_the_total(tmp_path):
    from tests.tiny_models import make_model_file
    from tests.trees import make_fer2013_folders

    root = make_fer2013_folders(tmp_path / "data" / "fer2013", twins=True)
    weights = make_model_file(tmp_path / "m.pt")
    args = [
        "-m",
        "fer.cli",
        "evaluate",
        f"hydra.run.dir={tmp_path / 'run'}",
        f"weights={weights}",
        "data=fer2013",
        f"paths.data_dir={root.parent}",
    ]
    shown = run_on_a_terminal(args)
    images = json.loads((tmp_path / "run" / "summary.json").read_text())["metrics"]["images"]
    assert f"{images}/{images}" in shown and "faces" in shown
    assert f"{images}/{images}" not in run_script(args).stderr  # not a terminal: no bar
