"""`fer serve`'s application with the shipped model, through starlette's TestClient (and raw ASGI calls
where a client must misbehave): every endpoint, every error status, the worker pool's limit, and the
WebSocket stream (frame numbers, tracking, bad frames, newest wins, the rate cap)."""

import asyncio
import base64
import json
import re
import struct
import threading
import time
import zlib

import anyio
import cv2
import numpy as np
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from fer.api import Recognizer
from fer.data.synthetic_faces import draw_face, sample_identity
from fer.errors import BadValue, UserError
from fer.inference.frames import Frame
from fer.inference.outputs import records
from fer.inference.profile import DEFAULT_METHOD
from fer.labels import LABELS
from fer.serve.app import create_app
from fer.serve.options import ServeOptions, is_loopback, parse_options, usage
from fer.serve.service import STOP_WAIT_S, service_detector

FACE = draw_face(sample_identity(0), 3, seed=0, size=200)
RECORD_KEYS = list(records(Frame("x", 0, 0.0, None), [])[0])  # output.jsonl's keys, in order


def scene(x: int = 20) -> np.ndarray:
    """640x480 with one drawn face (Haar finds it) whose left edge is at `x`."""
    canvas = np.full((480, 640, 3), 80, np.uint8)
    canvas[140:340, x : x + 200] = FACE
    return canvas


def two_faces(path):
    """A photo with two drawn faces, as tests/test_api.py draws it (not imported: that module loads torch)."""
    canvas = np.full((300, 520, 3), 190, np.uint8)
    for i in range(2):
        canvas[50:250, 30 + i * 260 : 230 + i * 260] = draw_face(sample_identity(40 + i), 3 + i, seed=i, size=200)
    cv2.imwrite(str(path), canvas)
    return path


def jpeg(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image)[1].tobytes()


def png_header_bomb(side: int) -> bytes:
    """A 1-bit grey PNG of side x side pixels, all black: a few tens of KB that decode to side² pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte, then the row's bits
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row * 500) for _ in range(side // 500)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def error_of(response, status: int) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["status"] == status and isinstance(body["error"], str) and body["error"], body
    assert "/work" not in body["error"] and "site-packages" not in body["error"], body  # no server paths
    return body["error"]


def client_for(**options) -> TestClient:
    return TestClient(create_app(ServeOptions(**options)))


@pytest.fixture(scope="module")
def client():
    # stream frames are sent faster than a camera would; the rate cap has its own test
    with client_for(stream_max_fps=1000) as c:
        yield c


@pytest.fixture(scope="module")
def faces_png(tmp_path_factory):
    return two_faces(tmp_path_factory.mktemp("faces") / "two faces.png")


# --- health, model, predict -------------------------------------------------------------------------


def test_healthz_and_model(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    model = client.get("/v1/model").json()
    assert model["labels"] == list(LABELS)
    assert model["version"] == "v3" and model["weights"] == "default_model.onnx"
    assert (model["runtime"], model["input_size"], model["channels"]) == ("onnxruntime", 100, 1)
    assert 0 < model["temperature"] < 2 and model["detector"] == "haar" and model["tta_flip"] is True
    assert model["limits"] == {"max_body_mb": 10.0, "max_pixels": 40_000_000, "stream_max_fps": 1000.0}


def test_predict_raw_and_multipart_give_the_apis_records(client, faces_png):
    data = faces_png.read_bytes()
    # the Python API on the same pixels (the service decodes straight to grey) with the service's detector
    # settings: the same faces
    api_recognizer = Recognizer(detector=service_detector(ServeOptions()))
    expected = api_recognizer.predict(cv2.imread(str(faces_png), cv2.IMREAD_GRAYSCALE))
    raw = client.post("/v1/predict", content=data, headers={"Content-Type": "image/png"})
    assert raw.status_code == 200, raw.text
    answer = raw.json()
    assert (answer["width"], answer["height"]) == (520, 300)
    assert set(answer["timing_ms"]) == {"queue", "decode", "predict", "total"}
    assert answer["timing_ms"]["total"] >= answer["timing_ms"]["predict"] > 0
    assert len(answer["faces"]) == 2 and all(list(face) == RECORD_KEYS for face in answer["faces"])
    for face, api in zip(answer["faces"], expected):
        assert face["source"] == "upload" and face["frame"] == 0
        assert face["box"] == api["box"] and face["label"] == api["label"]
        assert face["probs"] == pytest.approx(api["probs"], abs=1e-5)

    # multipart: the file's name is the records' source, as a plain label (no folders)
    form = client.post("/v1/predict", files={"image": ("../photos/two faces.png", data, "image/png")})
    assert form.status_code == 200, form.text
    assert [f["source"] for f in form.json()["faces"]] == ["two faces.png"] * 2
    assert [f["box"] for f in form.json()["faces"]] == [f["box"] for f in answer["faces"]]
    octets = client.post("/v1/predict", content=jpeg(scene()), headers={"Content-Type": "application/octet-stream"})
    assert [f["label"] for f in octets.json()["faces"]] == [
        api_recognizer.predict(cv2.imdecode(np.frombuffer(jpeg(scene()), np.uint8), cv2.IMREAD_GRAYSCALE))[0]["label"]
    ]


def test_no_face_is_an_empty_list(client):
    blank = jpeg(np.full((120, 160, 3), 128, np.uint8))
    answer = client.post("/v1/predict", content=blank, headers={"Content-Type": "image/jpeg"}).json()
    assert answer["faces"] == [] and (answer["width"], answer["height"]) == (160, 120)


def test_explain_occlusion_returns_a_png_per_face(client):
    response = client.post(
        "/v1/predict?explain=occlusion", content=jpeg(scene()), headers={"Content-Type": "image/jpeg"}
    )
    (face,) = response.json()["faces"]
    overlay = cv2.imdecode(np.frombuffer(base64.b64decode(face["saliency_png"]), np.uint8), cv2.IMREAD_COLOR)
    assert overlay is not None and overlay.shape == (192, 384, 3)  # the face beside the face under its heatmap
    assert error_of(
        client.post("/v1/predict?explain=gradcam", content=b"x", headers={"Content-Type": "image/png"}), 422
    ).startswith("explain='gradcam'")


# --- errors -----------------------------------------------------------------------------------------


def test_bad_bodies_and_types(client):
    def post(body: bytes, kind: str | None = "image/jpeg"):
        return client.post("/v1/predict", content=body, headers={"Content-Type": kind} if kind else {})

    good = jpeg(scene())
    assert "empty" in error_of(post(b""), 422)
    assert "not an image" in error_of(post(b"\xff"), 422)
    assert "not an image" in error_of(post(b"<html>hello</html>" * 20), 422)
    assert "truncated JPEG" in error_of(post(good[: len(good) // 2]), 422)
    assert "text/plain" in error_of(post(b"hello", "text/plain"), 415)
    assert "application/json" in error_of(post(b"{}", "application/json"), 415)
    assert "no Content-Type" in error_of(post(good, None), 415)
    no_field = client.post("/v1/predict", files={"photo": ("a.jpg", good, "image/jpeg")})
    assert "no file field named image" in error_of(no_field, 422)
    text_field = client.post(
        "/v1/predict", data={"image": "not a file"}, files={"other": ("a.jpg", good, "image/jpeg")}
    )
    error_of(text_field, 422)


def test_not_found_and_wrong_method_are_json(client):
    assert "the endpoints are" in error_of(client.get("/v1/nothing"), 404)
    assert "the endpoints are" in error_of(client.get("/static/nothing.js"), 404)
    response = client.get("/v1/predict")
    assert "use POST" in error_of(response, 405) and response.headers["allow"] == "POST"


def test_token():
    with client_for(token="s3cret", workers=1) as c:
        assert c.get("/healthz").status_code == 200 and c.get("/").status_code == 200  # the page asks for it
        assert "no token" in error_of(c.get("/v1/model"), 401)
        assert "wrong" in error_of(c.get("/v1/model", headers={"Authorization": "Bearer nope"}), 401)
        assert c.get("/v1/model").headers["www-authenticate"] == "Bearer"
        assert c.get("/v1/model", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        error_of(c.post("/v1/predict", content=jpeg(scene()), headers={"Content-Type": "image/jpeg"}), 401)
        ok = c.post(
            "/v1/predict",
            content=jpeg(scene()),
            headers={"Content-Type": "image/jpeg", "Authorization": "Bearer s3cret"},
        )
        assert ok.status_code == 200 and len(ok.json()["faces"]) == 1
        for query in ("", "?token=nope"):
            with c.websocket_connect("/v1/stream" + query) as ws, pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
            assert closed.value.code == 1008 and "token" in closed.value.reason
        with c.websocket_connect("/v1/stream?token=s3cret") as ws:
            ws.send_bytes(jpeg(scene()))
            assert ws.receive_json()["frame"] == 1


def test_a_token_is_also_read_from_the_environment():
    assert parse_options([], {"FER_SERVE_TOKEN": "t0k"}).token == "t0k"
    assert parse_options(["token=0123"], {"FER_SERVE_TOKEN": "t0k"}).token == "0123"  # a string as written


class Response:
    """What a raw ASGI call answered."""

    def __init__(self) -> None:
        self.status, self.headers, self.body = None, {}, b""

    def json(self) -> dict:
        return json.loads(self.body)


def asgi_post(app, headers: dict, chunks: list[bytes], then_wait: bool = False) -> Response:
    """POST /v1/predict straight to the app: the body in `chunks`, as a client would stream it, with exactly
    the headers given (a false Content-Length, or none); `then_wait`: the client stops sending after them."""
    response = Response()

    async def receive():
        if chunks:
            return {"type": "http.request", "body": chunks.pop(0), "more_body": True}
        if then_wait:
            await anyio.sleep_forever()
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            response.status = message["status"]
            response.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            response.body += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/predict",
        "raw_path": b"/v1/predict",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    anyio.run(app, scope, receive, send)
    return response


@pytest.fixture(scope="module")
def small():
    """A server with small limits: 1 KB bodies, 10 000 pixels, 0.5 s to send a body."""
    app = create_app(ServeOptions(workers=1, max_body_mb=1 / 1024, max_pixels=10_000, read_timeout_s=0.5))
    with TestClient(app) as c:
        yield app, c


def test_body_limits(small):
    app, c = small
    big = bytes(2000)
    declared = c.post("/v1/predict", content=big, headers={"Content-Type": "image/jpeg"})
    assert "2000 bytes" in error_of(declared, 413)
    streamed = c.post("/v1/predict", content=iter([big[:900], big[900:]]), headers={"Content-Type": "image/jpeg"})
    assert "more than 1024 bytes" in error_of(streamed, 413)  # no Content-Length: counted as it came
    # a Content-Length that lies: the bytes are counted all the same
    lying = asgi_post(app, {"Content-Type": "image/jpeg", "Content-Length": "10"}, [bytes(600), bytes(600), bytes(600)])
    assert lying.status == 413 and "max_body_mb" in lying.json()["error"]
    # a client that stops sending: 408 after read_timeout_s
    slow = asgi_post(app, {"Content-Type": "image/jpeg"}, [bytes(100)], then_wait=True)
    assert slow.status == 408 and "0.5 s" in slow.json()["error"]


def test_pixel_limits_are_checked_before_decoding(small):
    _, c = small
    over = c.post(
        "/v1/predict",
        content=cv2.imencode(".png", np.zeros((101, 100), np.uint8))[1].tobytes(),
        headers={"Content-Type": "image/png"},
    )
    assert "100 x 101" in error_of(over, 413)  # width x height
    under = c.post(
        "/v1/predict",
        content=cv2.imencode(".png", np.zeros((100, 100), np.uint8))[1].tobytes(),
        headers={"Content-Type": "image/png"},
    )
    assert under.status_code == 200 and under.json()["faces"] == []


def test_decompression_bomb_is_refused_without_decoding(client):
    """A 20000 x 20000 PNG (400 M pixels in some 50 KB) is refused from its header: Pillow's own bomb error
    maps to 413 as well, and the server's memory does not grow by the 400 MB decoding would take."""
    import resource

    bomb = png_header_bomb(20_000)
    assert len(bomb) < 100_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert "max_pixels" in error_of(
        client.post("/v1/predict", content=bomb, headers={"Content-Type": "image/png"}), 413
    )
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KB: far less than 400 MB
    # below Pillow's limit and above ours: our check names the size
    medium = png_header_bomb(8_000)
    assert "8000 x 8000" in error_of(
        client.post("/v1/predict", content=medium, headers={"Content-Type": "image/png"}), 413
    )


class GateDetector:
    """A detector that holds the worker until the test lets it go: the pool is full, deterministically."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def detect(self, grey):
        self.entered.set()
        assert self.release.wait(30)
        return []


def test_busy_workers_answer_503_with_retry_after():
    gate = GateDetector()
    app = create_app(ServeOptions(workers=1, queue=0), detector_factory=lambda: gate)
    with TestClient(app) as c:
        first = []
        sender = threading.Thread(
            target=lambda: first.append(
                c.post("/v1/predict", content=jpeg(scene()), headers={"Content-Type": "image/jpeg"})
            )
        )
        sender.start()
        try:
            assert gate.entered.wait(30)  # the only worker is busy
            busy = c.post("/v1/predict", content=jpeg(scene()), headers={"Content-Type": "image/jpeg"})
            assert "busy" in error_of(busy, 503) and busy.headers["retry-after"] == "1"
        finally:
            gate.release.set()
            sender.join(30)
        assert first[0].status_code == 200 and first[0].json()["faces"] == []
        # the place is free again
        assert c.post("/v1/predict", content=jpeg(scene()), headers={"Content-Type": "image/jpeg"}).status_code == 200


# --- the page ---------------------------------------------------------------------------------------


def test_page_and_its_files_with_a_content_security_policy(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for element in (
        'id="video"',
        'id="overlay"',
        'id="label"',
        'id="bars"',
        'id="fps"',
        'id="rtt"',
        'id="status"',
        'type="file"',
        'id="token"',
    ):
        assert element in page.text, element
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "ws://testserver" in policy and "frame-ancestors 'none'" in policy
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "window.ferState" in script.text and "/v1/stream" in script.text
    assert client.get("/static/style.css").status_code == 200
    for text in (page.text, script.text, client.get("/static/style.css").text):
        assert not re.search(r"https?://|//cdn|@import", text)  # nothing fetched from anywhere else


# --- the stream -------------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_stream_answers_frames_tracks_a_face_and_survives_a_bad_frame(client):
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_bytes(jpeg(scene(20)))
        first = ws.receive_json()
        assert first["type"] == "frame" and first["frame"] == 1 and (first["width"], first["height"]) == (640, 480)
        assert first["dropped"] == 0 and first["server_ms"] > 0

        ws.send_bytes(b"not a jpeg")
        error = ws.receive_json()
        assert error["type"] == "error" and error["frame"] == 2 and "not an image" in error["error"]

        # the face moves 4 px a frame; the live loop finds it (its scan runs beside the frames) and follows it
        boxes, frame = [], 2
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (len(boxes) < 2 or boxes[-1][0] - boxes[0][0] < 20):
            frame += 1
            ws.send_bytes(jpeg(scene(min(20 + 4 * frame, 420))))
            answer = ws.receive_json()
            assert answer["type"] == "frame" and answer["frame"] == frame  # one at a time: each is answered
            assert len(answer["faces"]) <= 1
            if answer["faces"]:
                face = answer["faces"][0]
                assert list(face) == RECORD_KEYS and face["source"] == "stream" and face["frame"] == frame
                boxes.append(face["box"])
            time.sleep(0.02)  # as a camera would: time for the loop's threads between frames
        assert len(boxes) >= 2, "no face within 60 s"
        assert boxes[-1][0] - boxes[0][0] >= 20, boxes  # the box moved with the face


@pytest.mark.timeout(120)
def test_stream_newest_frame_wins(client):
    frames = [jpeg(scene(20 + 10 * i)) for i in range(20)]
    with client.websocket_connect("/v1/stream") as ws:
        for data in frames:  # all at once, faster than any server answers
            ws.send_bytes(data)
        answers = []
        while not answers or answers[-1]["frame"] < len(frames):
            answers.append(ws.receive_json())
        numbers = [a["frame"] for a in answers]
        assert numbers == sorted(set(numbers)) and numbers[0] == 1 and numbers[-1] == 20  # the newest is answered
        assert len(answers) < len(frames) and answers[-1]["dropped"] == len(frames) - len(answers), numbers


@pytest.mark.timeout(120)
def test_stream_rate_cap():
    with client_for(workers=1, stream_max_fps=2) as c, c.websocket_connect("/v1/stream") as ws:
        for _ in range(5):  # frame 1 takes the cap's one frame; 2-5 come within the same half second
            ws.send_bytes(jpeg(scene()))
        assert ws.receive_json()["frame"] == 1
        time.sleep(0.6)  # past 1 / stream_max_fps: the cap lets a frame through again
        ws.send_bytes(jpeg(scene()))
        answer = ws.receive_json()
        assert answer["frame"] == 6 and answer["dropped"] == 4


def serve_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith(("fer-serve", "fer-face"))}


@pytest.mark.timeout(120)
def test_stopping_the_service_joins_every_thread_it_started():
    """A stopped service leaves no thread of its own behind: a stream's loop threads still inside OpenCV or
    ONNX Runtime as the interpreter exits could abort the process (seen as "terminate called ...")."""
    before = serve_threads()
    with client_for(workers=2) as c:
        with c.websocket_connect("/v1/stream") as ws, c.websocket_connect("/v1/stream") as left_open:
            for socket in (ws, left_open):
                socket.send_bytes(jpeg(scene()))
                assert socket.receive_json()["frame"] == 1
            assert (
                c.post("/v1/predict", content=jpeg(scene()), headers={"Content-Type": "image/jpeg"}).status_code == 200
            )
            assert len(serve_threads() - before) >= 6  # 2 workers; 2 streams: each a thread, a detector, a follower
    assert sorted(t.name for t in serve_threads() - before) == []  # the other tests' services are still open


async def stop_while_a_connection_hangs(app, gate: GateDetector, release_after_s: float | None) -> tuple[set, float]:
    """Raw ASGI: the service starts, a stream connection sends a frame that the gate holds, and the service
    stops while that connection is still open and its frame in flight (its client neither leaves nor reads).
    The gate opens `release_after_s` after the stop begins (None: only once the stop has returned).
    The threads of the service alive right after the stop, and how long the stop took."""
    before = serve_threads()
    lifespan_in, lifespan_out, socket_in, socket_out = (asyncio.Queue() for _ in range(4))
    lifespan = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, lifespan_in.get, lifespan_out.put)
    )
    await lifespan_in.put({"type": "lifespan.startup"})
    assert (await lifespan_out.get())["type"] == "lifespan.startup.complete"
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": "/v1/stream",
        "raw_path": b"/v1/stream",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        "subprotocols": [],
    }
    connection = asyncio.ensure_future(app(scope, socket_in.get, socket_out.put))
    await socket_in.put({"type": "websocket.connect"})
    assert (await socket_out.get())["type"] == "websocket.accept"
    await socket_in.put({"type": "websocket.receive", "bytes": jpeg(scene())})
    assert await asyncio.get_running_loop().run_in_executor(None, gate.entered.wait, 30)  # the frame is in flight
    if release_after_s is not None:
        threading.Timer(release_after_s, gate.release.set).start()
    started = time.perf_counter()
    await lifespan_in.put({"type": "lifespan.shutdown"})
    assert (await lifespan_out.get())["type"] == "lifespan.shutdown.complete"
    took = time.perf_counter() - started
    left = serve_threads() - before
    gate.release.set()
    connection.cancel()
    await asyncio.gather(connection, lifespan, return_exceptions=True)
    return left, took


@pytest.mark.timeout(120)
def test_a_stop_while_a_frame_is_in_flight_joins_the_streams_thread():
    """The stop overtakes a connection on purpose: its frame is held in the detector and its client has not
    left when the service stops (as when a connection outlasts uvicorn's graceful wait). The service, not
    the connection, owns the guarantee: once its stop returns, none of its threads is alive."""
    gate = GateDetector()
    app = create_app(ServeOptions(workers=1), detector_factory=lambda: gate)
    left, took = asyncio.run(stop_while_a_connection_hangs(app, gate, release_after_s=0.5))
    assert sorted(t.name for t in left) == []
    assert 0.4 < took < STOP_WAIT_S  # it waited for the frame, and no longer than it needed


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_stop_waits_for_a_stuck_stream_no_longer_than_its_bound():
    gate = GateDetector()
    app = create_app(ServeOptions(workers=1), detector_factory=lambda: gate)
    left, took = asyncio.run(stop_while_a_connection_hangs(app, gate, release_after_s=None))
    assert STOP_WAIT_S - 0.5 < took < STOP_WAIT_S + 2  # the bound holds; the thread was named in the log
    # the stuck thread is left (and named in the log): the detector the gate holds, and the stream's own thread
    # while it waits for it (its wait and the service's are both 5 s: which ends first varies)
    assert any(t.name == "fer-face-detector" for t in left), (took, [t.name for t in left])
    for thread in left:  # the gate opens a little later: then they end
        thread.join(30)


def test_stream_connections_are_bounded_and_other_sites_refused():
    with client_for(workers=1, max_streams=1) as c:
        with c.websocket_connect("/v1/stream", headers={"origin": "http://evil.example"}) as ws:
            with pytest.raises(WebSocketDisconnect) as refused:
                ws.receive_json()
            assert refused.value.code == 1008 and "cors_origins" in refused.value.reason
        with c.websocket_connect("/v1/stream", headers={"origin": "http://testserver"}) as ws:
            with c.websocket_connect("/v1/stream") as second, pytest.raises(WebSocketDisconnect) as full:
                second.receive_json()
            assert full.value.code == 1013
            ws.send_bytes(jpeg(scene()))
            assert ws.receive_json()["frame"] == 1
        with c.websocket_connect("/v1/stream") as ws:  # the place was given back
            ws.send_bytes(jpeg(scene()))
            assert ws.receive_json()["frame"] == 1


# --- options ----------------------------------------------------------------------------------------


def test_a_public_address_needs_a_token():
    for host in ("0.0.0.0", "192.168.1.5", "::", "example.org"):
        with pytest.raises(BadValue) as refused:
            parse_options([f"host={host}"], {})
        assert f"host={host}" in str(refused.value) and "token=" in str(refused.value)
        assert "FER_SERVE_TOKEN" in str(refused.value)
        assert parse_options([f"host={host}", "token=x"], {}).host == host
    with pytest.raises(BadValue):
        create_app(ServeOptions(host="0.0.0.0"))  # the app checks too, not only the command line
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"))


@pytest.mark.parametrize(
    "args, named",
    [
        (["nope=1"], "unknown option 'nope'"),
        (["port=abc"], "port=abc: expected a whole number"),
        (["tta_flip=maybe"], "tta_flip=maybe: expected true or false"),
        (["port"], "'port' is not key=value"),
        (["workers=0"], "workers=0: must be at least 1"),
        (["max_pixels=0"], "max_pixels=0: must be greater than 0"),
        (["detector=cnn"], "detector=cnn: choose one of haar, yunet, none"),
        (["ssl_certfile=cert.pem"], "both ssl_certfile"),
        (["weights=/no/such/model.onnx"], "weights=/no/such/model.onnx: no such file"),
        (["weights=ensembel"], "weights=ensembel: no such file (or name a shipped model: default, ensemble)"),
        (["cors_origins=http://a.example"], "cors_origins=http://a.example: expected a list"),
    ],
)
def test_option_errors_name_the_option(args, named):
    with pytest.raises(UserError) as err:
        parse_options(args, {})
    assert named in str(err.value) and "\n" not in str(err.value)


def test_options_parse_and_help():
    options = parse_options(["port=9000", "workers=3", "cors_origins=[http://a.example:3000]", "weights=null"], {})
    assert (options.port, options.workers, options.cors_origins, options.weights) == (
        9000,
        3,
        ["http://a.example:3000"],
        None,
    )
    assert parse_options(["weights=ensemble"], {}).weights == "ensemble"  # a shipped model's name, not a file
    text = usage()
    for name in (
        "host=127.0.0.1",
        "port=8000",
        "token=null",
        "workers=2",
        "queue=32",
        "max_pixels=40000000",
        "stream_max_fps=30.0",
        "cors_origins=[]",
        "ssl_keyfile=null",
    ):
        assert name in text, name


def test_cors_is_off_by_default_and_on_for_listed_origins(client):
    preflight = {"Origin": "http://app.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.get("/healthz", headers={"Origin": "http://app.example"}).headers
    with client_for(workers=1, cors_origins=["http://app.example"]) as c:
        allowed = c.options("/v1/predict", headers=preflight)
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "http://app.example"
        assert c.options("/v1/predict", headers={**preflight, "Origin": "http://evil.example"}).status_code == 400


def test_the_token_never_reaches_the_access_log():
    import logging

    from fer.serve.auth import RedactToken

    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/v1/stream?token=s3cret&x=1"),
        None,
    )
    assert (
        RedactToken().filter(record)
        and record.getMessage() == '127.0.0.1:5000 - "WebSocket /v1/stream?token=***&x=1" [accepted]'
    )


def test_multipart_uploads_stay_in_memory(client, monkeypatch):
    """Starlette spools multipart files over 1 MB to a temporary file; the service keeps them in memory."""
    import tempfile

    def no_disk(*args, **kwargs):
        raise AssertionError("a temporary file was written")

    big = cv2.imencode(".png", np.random.default_rng(0).integers(0, 255, (700, 700, 3), np.uint8))[1].tobytes()
    assert len(big) > 1_100_000
    monkeypatch.setattr(tempfile, "mkstemp", no_disk)  # SpooledTemporaryFile rolls over through it
    monkeypatch.setattr(tempfile, "TemporaryFile", no_disk)
    response = client.post("/v1/predict", files={"image": ("noise.png", big, "image/png")})
    assert response.status_code == 200 and response.json()["width"] == 700


# --- calibration profiles ----------------------------------------------------------------------------


def calibration_files(seeds=range(2)) -> list[tuple[str, tuple[str, bytes, str]]]:
    """Multipart fields of drawn photos of one person, each named by its expression."""
    fields = []
    for i, label in enumerate(LABELS):
        for seed in seeds:
            canvas = np.full((300, 320, 3), 90, np.uint8)
            canvas[50:250, 60:260] = draw_face(sample_identity(7), i, seed=seed, size=200)
            fields.append((label, (f"{label}{seed}.jpg", jpeg(canvas), "image/jpeg")))
    return fields


def test_a_profile_from_labelled_photos_is_fitted_and_a_stream_applies_it(client):
    answer = client.post("/v1/profile", files=calibration_files())
    assert answer.status_code == 200, answer.text
    profile = answer.json()
    assert profile["format"] == "fer-profile/1" and profile["counts"] == [2] * 7
    assert profile["model_file"] == "default_model.onnx" and "/work" not in answer.text
    with client.websocket_connect("/v1/stream") as ws:
        ws.send_text(json.dumps({"type": "profile", "profile": profile}))
        set_ = ws.receive_json()
        assert set_["type"] == "profile" and set_["profile"].startswith(f"method {DEFAULT_METHOD}")
        wrong = {**profile, "model_sha256": "0" * 64}
        ws.send_text(json.dumps({"type": "profile", "profile": wrong}))
        refused = ws.receive_json()
        assert refused["type"] == "error" and "sha256 000000000000" in refused["error"]
        ws.send_text(json.dumps({"type": "profile", "profile": {"method": "nope"}}))
        assert ws.receive_json()["type"] == "error"
        ws.send_bytes(jpeg(scene()))  # the connection goes on
        assert ws.receive_json()["frame"] == 1
        ws.send_text(json.dumps({"type": "profile", "profile": None}))
        assert ws.receive_json() == {"type": "profile", "profile": None}


def test_profile_requests_that_cannot_be_served_are_named(client):
    assert "not expressions" in error_of(
        client.post("/v1/profile", files=[("grumpy", ("a.jpg", jpeg(scene()), "image/jpeg"))]), 422
    )
    assert "multipart" in error_of(
        client.post("/v1/profile", content=jpeg(scene()), headers={"Content-Type": "image/jpeg"}), 415
    )
    blank = np.full((200, 200, 3), 120, np.uint8)
    assert "no face was found" in error_of(
        client.post("/v1/profile", files=[("happy", ("a.jpg", jpeg(blank), "image/jpeg"))]), 422
    )
    assert "choose one of" in error_of(client.post("/v1/profile?method=magic", files=calibration_files([0])), 422)


def test_the_services_profile_applies_to_every_request(tmp_path, client):
    fitted = client.post("/v1/profile", files=calibration_files()).json()
    path = tmp_path / "me.json"
    path.write_text(json.dumps(fitted))
    with client_for(workers=1, profile=str(path)) as c:
        assert c.get("/v1/model").json()["profile"].startswith(f"method {DEFAULT_METHOD}")
        calibrated = c.post("/v1/predict", content=jpeg(scene()), headers={"Content-Type": "image/jpeg"}).json()
    plain = client.post("/v1/predict", content=jpeg(scene()), headers={"Content-Type": "image/jpeg"}).json()
    assert calibrated["faces"][0]["probs"] != plain["faces"][0]["probs"]
    with pytest.raises(UserError, match="profile=.*no such file"):
        parse_options([f"profile={tmp_path / 'none.json'}"], {})


def test_streams_can_build_each_faces_own_baseline():
    with client_for(workers=1, baseline="auto", stream_max_fps=1000) as c:
        assert c.get("/v1/model").json()["baseline"] == "auto"
        with c.websocket_connect("/v1/stream") as ws:
            for frame in range(1, 4):
                ws.send_bytes(jpeg(scene()))
                assert ws.receive_json()["frame"] == frame
    with pytest.raises(UserError, match="baseline=maybe: choose off or auto"):
        parse_options(["baseline=maybe"], {})


def test_each_stream_has_its_own_people_and_people_off_gives_none():
    """Stream messages name each face's person (p1, ...); a second connection's people are its own."""

    def persons(ws, frames: int = 10) -> list:
        """Each face's person over `frames` answers with a face (the live loop's first answers have none)."""
        found = []
        for _ in range(300):
            ws.send_bytes(jpeg(scene()))
            found += [face["person"] for face in ws.receive_json()["faces"]]
            if len(found) >= frames:
                break
            time.sleep(0.01)
        return found

    with client_for(workers=1, stream_detect_every=1, stream_max_fps=1000) as c:
        with c.websocket_connect("/v1/stream") as first, c.websocket_connect("/v1/stream") as second:
            assert set(persons(first)) == {"p1"} and set(persons(second)) == {"p1"}
    with (
        client_for(workers=1, stream_detect_every=1, stream_max_fps=1000, people="off") as c,
        c.websocket_connect("/v1/stream") as ws,
    ):
        seen = persons(ws)
        assert seen and set(seen) == {None}
