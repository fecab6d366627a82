"""`fer serve` as a user runs it: a real process on a loopback port, a face posted over HTTP, a frame over a
real WebSocket, then SIGTERM and a clean exit; and the command line's help and one-line errors."""

import json
import os
import re
import shutil
import subprocess
import sys
import threading
from importlib import metadata

import cv2
import httpx
import numpy as np
import pytest
from websockets.sync.client import connect

from fer.data.synthetic_faces import draw_face, sample_identity
from tests.conftest import ROOT

START_TIMEOUT_S = 90
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    "PYTHONUNBUFFERED": "1",
}


def face_jpeg() -> bytes:
    canvas = np.full((480, 640, 3), 80, np.uint8)
    canvas[140:340, 220:420] = draw_face(sample_identity(0), 3, seed=0, size=200)
    return cv2.imencode(".jpg", canvas)[1].tobytes()


def fer_script() -> list[str] | None:
    """The installed `fer` console script, when the package is installed with it (pip install -e .)."""
    scripts = [e for e in metadata.entry_points(group="console_scripts") if e.name == "fer"]
    path = shutil.which("fer")
    return [path] if scripts and scripts[0].value == "fer.cli:main" and path else None


class Server:
    """A started `fer serve` process; its port is read from uvicorn's "running on" line (port=0: any free port)."""

    def __init__(self, command: list[str]) -> None:
        self.process = subprocess.Popen(
            [*command, "port=0", "workers=1"],
            cwd=ROOT,
            env=ENV,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self.lines: list[str] = []
        self.started = threading.Event()
        self.port: int | None = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            found = re.search(r"running on https?://127\.0\.0\.1:(\d+)", line)
            if found:
                self.port = int(found.group(1))
                self.started.set()
        self.started.set()  # the process ended

    def output(self) -> str:
        return "".join(self.lines)[-4000:]

    def url(self) -> str:
        if not self.started.wait(START_TIMEOUT_S) or self.port is None:
            pytest.fail(f"fer serve did not start within {START_TIMEOUT_S} s:\n{self.output()}")
        return f"127.0.0.1:{self.port}"

    def stop(self) -> int:
        self.process.terminate()  # SIGTERM, as a service manager stops it
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            pytest.fail(f"fer serve did not stop within 30 s of SIGTERM:\n{self.output()}")


@pytest.mark.slow
@pytest.mark.timeout(240)
@pytest.mark.parametrize("command", ["python -m fer.serve", "fer serve"])
def test_a_real_server_answers_http_and_websocket_then_stops_cleanly(command):
    if command == "fer serve":
        # the installed script, or (not installed, as in a checkout run from source) what it runs
        launcher = [sys.executable, "-c", "import sys; from fer.cli import main; sys.exit(main())"]
        argv = [*(fer_script() or launcher), "serve"]
    else:
        argv = [sys.executable, "-m", "fer.serve"]
    server = Server(argv)
    try:
        address = server.url()
        with httpx.Client(base_url=f"http://{address}", timeout=60) as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            assert http.get("/v1/model").json()["version"] == "v3"
            answer = http.post("/v1/predict", files={"image": ("face.jpg", face_jpeg(), "image/jpeg")})
            assert answer.status_code == 200, answer.text
            (face,) = answer.json()["faces"]
            assert face["source"] == "face.jpg" and face["label"] in face["probs"]
        with connect(f"ws://{address}/v1/stream", open_timeout=30) as socket:
            socket.send(face_jpeg())
            message = json.loads(socket.recv(timeout=60))
            assert message["type"] == "frame" and message["frame"] == 1 and message["width"] == 640
    finally:
        code = server.stop()
    assert code == 0, server.output()
    assert "Finished server process" in server.output()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)


def test_help_lists_the_command_and_its_options():
    front = run_cli("-m", "fer.cli", "--help")
    assert front.returncode == 0 and re.search(r"^\s+serve\s", front.stdout, re.M), front.stdout
    serve = run_cli("-m", "fer.cli", "serve", "--help")
    assert serve.returncode == 0 and "host=127.0.0.1" in serve.stdout and "max_pixels=" in serve.stdout
    assert run_cli("-m", "fer.serve", "--help").stdout == serve.stdout
    unknown = run_cli("-m", "fer.cli", "fly")
    assert unknown.returncode == 2 and "unknown command 'fly'" in unknown.stderr


@pytest.mark.parametrize(
    "args, says",
    [
        (["host=0.0.0.0"], "host=0.0.0.0 lets other machines connect: set token="),
        (["port=http"], "port=http: expected a whole number"),
        (["colour=blue"], "unknown option 'colour'"),
    ],
)
def test_a_wrong_start_is_one_line_and_exit_2(args, says):
    env_token = {k: v for k, v in ENV.items() if k != "FER_SERVE_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "fer.serve", *args], cwd=ROOT, env=env_token, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and says in result.stderr and "Traceback" not in result.stderr, result.stderr
