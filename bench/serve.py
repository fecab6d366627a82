"""`fer serve` under load: /v1/predict throughput and latency, /v1/stream frame rates, server memory.

    python bench/serve.py                          # the shipped model, the server's default options
    python bench/serve.py --quick                  # a smoke run (a few requests, seconds)
    python bench/serve.py --serve-arg detector=yunet --serve-arg workers=4 --json serve.json

Loopback only, bounded, stops by itself: it starts `python -m fer.serve` on a free 127.0.0.1 port,
measures, and terminates the server at the end whatever happens. The image is a 640x480 JPEG with one
real face (the JAFFE photo KA.HA1.29 on a grey background, as bench/latency.py builds its frame; the
data folder is ../shared/data or $FER_DATA_DIR), or --image.

- /v1/predict: 1, 4 and 16 concurrent clients (threads, each with its own keep-alive connection),
  --requests requests per level after a warm-up; requests/s and p50 / p95 / p99 latency of the
  answered requests, and how many were refused busy (503; a client waits 5 ms and sends the next).
  Each level the median of --repeats runs.
- /v1/stream: 1 and 8 simulated browser tabs, each sending the JPEG at 30 fps for --seconds without
  waiting for answers (as the page's camera does); per tab the processed frame rate (answers per
  second), frames dropped (sent minus answered, and the server's own `dropped`), and the round trip
  from a frame's send to the answer naming its frame number (p50 / p95, all tabs pooled), and how long
  after a tab's first frame the first answer with a face came (the live loop's first scan; median of
  tabs), and the share of answers with a face (a stream that loses the face is cheap, so fast).
- memory: the server's resident memory (its process and any children) after a warm-up and after
  --rss-requests /v1/predict requests (4 clients).

Targets: /v1/predict with 4 clients >= 80 req/s and p95 <= 60 ms; /v1/stream with 8 tabs >= 25
processed fps per tab and p95 round trip <= 50 ms; memory growth <= 20 MB over 10,000 requests.
The figures include whatever else the machine was doing (say so when it was busy).
"""

import argparse
import asyncio
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fer.faces.image_io import read_grey  # noqa: E402  (numpy, OpenCV, Pillow)
from fer.training.precision import machine_line  # noqa: E402  (standard library only)

DATA_DIR = Path(os.environ.get("FER_DATA_DIR", ROOT.parent / "shared" / "data"))
FACE = DATA_DIR / "jaffe" / "KA.HA1.29.tiff"  # bench/latency.py's face: a happy JAFFE photo
TARGETS = {
    "predict_rps": 80.0,
    "predict_p95_ms": 60.0,
    "stream_fps": 25.0,
    "stream_p95_ms": 50.0,
    "rss_growth_mb": 20.0,
    "rss_requests": 10_000,
}
HOST = "127.0.0.1"


# --- the image and the server ------------------------------------------------------------------


def face_jpeg(image: Path | None) -> tuple[bytes, str]:
    """The JPEG every request sends, and where it came from."""
    if image is not None:
        if not image.is_file():
            raise SystemExit(f"--image {image}: no such file")
        if image.suffix.lower() in (".jpg", ".jpeg"):
            return image.read_bytes(), str(image)
        grey = read_grey(image)
        return cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes(), str(image)
    if not FACE.is_file():
        raise SystemExit(
            f"no face image: {FACE} is missing (the real data lives in ../shared/data or "
            f"$FER_DATA_DIR); pass one with --image PATH (a 640x480 photo with one face)"
        )
    canvas = np.full((480, 640, 3), 90, np.uint8)
    canvas[110:366, 180:436] = cv2.cvtColor(cv2.resize(read_grey(FACE), (256, 256)), cv2.COLOR_GRAY2BGR)
    return cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes(), f"{FACE.name} in a 640x480 frame"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """`python -m fer.serve` on a free loopback port, for the length of a `with` block."""

    def __init__(self, options: list[str], log: Path, start_timeout: float = 120.0) -> None:
        self.port = free_port()
        self.token = next((o.partition("=")[2] for o in options if o.startswith("token=")), None) or None
        # /v1/predict wants the token as a bearer header, /v1/stream as ?token=
        self.auth = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        self.command = [sys.executable, "-m", "fer.serve", f"port={self.port}", f"host={HOST}", *options]
        self.log, self.start_timeout = log, start_timeout
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        self.log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env=env, stdout=self.log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
        try:
            self.wait_healthy()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"the server exited {self.process.returncode} while starting: "
                    f"{' '.join(self.command)}\n{self.log_tail()}"
                )
            conn = self.connection(timeout=2)
            try:
                status, body, _ = request(conn, "GET", "/healthz")
                if status == 200 and json.loads(body).get("status") == "ok":
                    return
            except (OSError, http.client.HTTPException, ValueError):
                pass
            finally:
                conn.close()
            time.sleep(0.2)
        raise SystemExit(f"the server did not answer /healthz within {self.start_timeout:.0f} s\n{self.log_tail()}")

    def log_tail(self) -> str:
        self.log_file.flush()
        return self.log.read_text(errors="replace")[-3000:]

    def connection(self, timeout: float = 30.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(HOST, self.port, timeout=timeout)

    def rss_mb(self) -> float:
        """Resident memory of the server process and its children (uvicorn may fork workers)."""
        process = psutil.Process(self.process.pid)
        return sum(p.memory_info().rss for p in [process, *process.children(recursive=True)]) / 2**20

    def __exit__(self, *exc) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.log_file.close()


def request(
    conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> tuple[int, bytes, http.client.HTTPResponse]:
    conn.request(method, path, body=body, headers=headers or {})
    response = conn.getresponse()
    return response.status, response.read(), response


def quantile(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


# --- /v1/predict -------------------------------------------------------------------------------


def predict_load(server: Server, jpeg: bytes, clients: int, requests: int, time_cap: float) -> dict:
    """`requests` POSTs shared among `clients` threads (each its own keep-alive connection), or as
    many as `time_cap` seconds allow. Latency of the answered (200) requests; 503s counted as busy."""
    headers = {"Content-Type": "image/jpeg", **server.auth}
    lock = threading.Lock()
    left = [requests]
    latencies: list[float] = []
    counts = {"ok": 0, "busy": 0, "failed": 0}
    errors: list[str] = []
    deadline = time.perf_counter() + time_cap

    def client() -> None:
        conn = server.connection()
        try:
            while time.perf_counter() < deadline:
                with lock:
                    if left[0] <= 0:
                        return
                    left[0] -= 1
                start = time.perf_counter()
                try:
                    status, body, _ = request(conn, "POST", "/v1/predict", jpeg, headers)
                except (OSError, http.client.HTTPException) as err:
                    conn.close()
                    conn = server.connection()
                    with lock:
                        counts["failed"] += 1
                        errors.append(repr(err))
                    continue
                elapsed = (time.perf_counter() - start) * 1000
                with lock:
                    if status == 200:
                        counts["ok"] += 1
                        latencies.append(elapsed)
                    elif status == 503:
                        counts["busy"] += 1
                    else:
                        counts["failed"] += 1
                        errors.append(f"HTTP {status}: {body[:200]!r}")
                if status == 503:
                    time.sleep(0.005)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(time_cap + 60)
    wall = time.perf_counter() - start
    ordered = sorted(latencies)
    return {
        "clients": clients,
        "sent": requests - left[0],
        **counts,
        "wall_s": wall,
        "rps": counts["ok"] / wall if wall > 0 else 0.0,
        "p50": quantile(ordered, 0.5),
        "p95": quantile(ordered, 0.95),
        "p99": quantile(ordered, 0.99),
        "capped": left[0] > 0,
        "errors": errors[:3],
    }


def median_run(runs: list[dict]) -> dict:
    keys = ("rps", "p50", "p95", "p99", "ok", "busy", "failed", "wall_s")
    return {
        **runs[0],
        **{k: statistics.median(r[k] for r in runs) for k in keys},
        "capped": any(r["capped"] for r in runs),
        "runs": len(runs),
        "errors": [e for r in runs for e in r["errors"]][:3],
    }


# --- /v1/stream --------------------------------------------------------------------------------


async def one_tab(url: str, jpeg: bytes, fps: float, seconds: float, start_at: float) -> dict:
    """A browser tab: JPEG frames at `fps` for `seconds` (on a fixed schedule, never waiting for
    answers) while answers are read as they come."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    loop = asyncio.get_running_loop()
    sent: dict[int, float] = {}
    rtts: list[float] = []
    answers = {
        "frames": 0,
        "errors": 0,
        "dropped": 0,
        "in_window": 0,
        "last": [],
        "closed": None,
        "first_face": None,
        "with_face": 0,
    }
    async with connect(url, max_size=2**24, compression=None, open_timeout=30) as ws:
        end_of_sending = [float("inf")]

        async def receive() -> None:
            async for message in ws:
                now = loop.time()
                if isinstance(message, bytes):
                    continue
                data = json.loads(message)
                if data.get("type") == "frame":
                    answers["frames"] += 1
                    answers["in_window"] += now <= end_of_sending[0]
                    answers["dropped"] = max(answers["dropped"], int(data.get("dropped", 0)))
                    answers["last"] = data.get("faces", [])
                    answers["with_face"] += bool(answers["last"])
                    if answers["last"] and answers["first_face"] is None and sent:
                        answers["first_face"] = (now - sent[1]) * 1000
                    if data.get("frame") in sent:
                        rtts.append((now - sent[data["frame"]]) * 1000)
                elif data.get("type") == "error":
                    answers["errors"] += 1

        receiver = asyncio.create_task(receive())
        await asyncio.sleep(max(0.0, start_at - loop.time()))
        first = loop.time()
        count = int(round(seconds * fps))
        for i in range(count):
            await asyncio.sleep(max(0.0, first + i / fps - loop.time()))
            sent[i + 1] = loop.time()  # the server numbers binary messages from 1 on each connection
            try:
                await ws.send(jpeg)
            except ConnectionClosed as err:  # e.g. 1013: more streams than the server's max_streams
                answers["closed"] = (
                    f"closed by the server: {err.rcvd.code if err.rcvd else ''} {err.rcvd.reason if err.rcvd else ''}"
                )
                break
        end_of_sending[0] = loop.time()
        # the last answers: the frame in processing and the one waiting (newest wins) come within a second
        deadline = loop.time() + 3.0
        while loop.time() < deadline and answers["frames"] + answers["errors"] < len(sent):
            before = answers["frames"]
            await asyncio.sleep(0.3)
            if answers["frames"] == before:
                break
        receiver.cancel()
        try:
            await receiver
        except (asyncio.CancelledError, Exception):
            pass
    window = end_of_sending[0] - first
    return {
        "sent": len(sent),
        "answered": answers["frames"],
        "errors": answers["errors"],
        "server_dropped": answers["dropped"],
        "fps": answers["in_window"] / window if window > 0 else 0.0,
        "rtts": rtts,
        "faces": len(answers["last"]),
        "closed": answers["closed"],
        "first_face_ms": answers["first_face"],
        "with_face": answers["with_face"],
    }


def stream_load(server: Server, jpeg: bytes, tabs: int, fps: float, seconds: float) -> dict:
    url = f"ws://{HOST}:{server.port}/v1/stream" + (f"?token={quote(server.token)}" if server.token else "")

    async def run() -> list[dict]:
        start_at = asyncio.get_running_loop().time() + 0.5  # every tab connected before the first frame
        return await asyncio.gather(
            *(one_tab(url, jpeg, fps, seconds, start_at + i / (fps * tabs)) for i in range(tabs))
        )

    results = asyncio.run(asyncio.wait_for(run(), timeout=seconds + 60))
    rtts = sorted(r for result in results for r in result["rtts"])
    rates = sorted(r["fps"] for r in results)
    return {
        "tabs": tabs,
        "fps_target": fps,
        "seconds": seconds,
        "fps_min": rates[0],
        "fps_median": statistics.median(rates),
        "sent": sum(r["sent"] for r in results),
        "answered": sum(r["answered"] for r in results),
        "errors": sum(r["errors"] for r in results),
        "server_dropped": sum(r["server_dropped"] for r in results),
        "p50": quantile(rtts, 0.5),
        "p95": quantile(rtts, 0.95),
        "faces": min(r["faces"] for r in results),
        "closed": [r["closed"] for r in results if r["closed"]],
        "first_face_ms": [r["first_face_ms"] for r in results],
        "with_face": sum(r["with_face"] for r in results),
    }


# --- memory ------------------------------------------------------------------------------------


def memory_growth(server: Server, jpeg: bytes, count: int, time_cap: float, warmup: int = 200) -> dict:
    predict_load(server, jpeg, 4, warmup, time_cap)  # warm-up: arenas, caches, thread pools settle
    before = server.rss_mb()
    result = predict_load(server, jpeg, 4, count, time_cap)
    after = server.rss_mb()
    return {
        "requests": result["ok"],
        "asked": count,
        "before_mb": before,
        "after_mb": after,
        "growth_mb": after - before,
        "capped": result["capped"],
        "failed": result["failed"],
    }


# --- the table ---------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def targets_cell(checks: list[tuple[bool, str]]) -> str:
    """Each target with its own verdict: 'met: >= 80 req/s; MISSED: p95 <= 60 ms'."""
    return "; ".join(f"{verdict(ok)}: {what}" for ok, what in checks)


def table(predict: list[dict], stream: list[dict], memory: dict | None) -> list[str]:
    lines = [
        "| measure | load | rate | p50 ms | p95 ms | p99 ms | also | target |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in predict:
        target = ""
        if r["clients"] == 4:
            target = targets_cell(
                [
                    (r["rps"] >= TARGETS["predict_rps"], f">= {TARGETS['predict_rps']:.0f} req/s"),
                    (r["p95"] <= TARGETS["predict_p95_ms"], f"p95 <= {TARGETS['predict_p95_ms']:.0f} ms"),
                ]
            )
        also = f"{r['ok']:.0f} answered, {r['busy']:.0f} busy (503), {r['failed']:.0f} failed"
        also += f"; median of {r['runs']}" if r["runs"] > 1 else ""
        also += "; time cap hit" if r["capped"] else ""
        lines.append(
            f"| /v1/predict | {r['clients']} client{'s' if r['clients'] > 1 else ''} | "
            f"{r['rps']:.1f} req/s | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | {also} | {target} |"
        )
    for r in stream:
        target = ""
        if r["tabs"] == 8:
            target = targets_cell(
                [
                    (r["fps_min"] >= TARGETS["stream_fps"], f">= {TARGETS['stream_fps']:.0f} fps per tab"),
                    (r["p95"] <= TARGETS["stream_p95_ms"], f"round trip p95 <= {TARGETS['stream_p95_ms']:.0f} ms"),
                ]
            )
        rate = (
            f"{r['fps_median']:.1f} fps per tab"
            if r["tabs"] == 1
            else f"{r['fps_median']:.1f} fps per tab (lowest {r['fps_min']:.1f})"
        )
        also = (
            f"{r['sent']} frames sent, {r['sent'] - r['answered']} not answered "
            f"(server's dropped: {r['server_dropped']}), {r['errors']} errors"
        )
        found = sorted(ms for ms in r["first_face_ms"] if ms is not None)
        also += f"; a face in {100 * r['with_face'] / max(1, r['answered']):.0f} % of answers"
        also += f"; first face {found[len(found) // 2]:.0f} ms after the first frame" if found else "; no face found"
        also += (
            f" ({len(found)} of {len(r['first_face_ms'])} tabs found one)"
            if 0 < len(found) < len(r["first_face_ms"])
            else ""
        )
        also += f"; {len(r['closed'])} tab(s) {r['closed'][0]}" if r["closed"] else ""
        lines.append(
            f"| /v1/stream round trip | {r['tabs']} tab{'s' if r['tabs'] > 1 else ''} at "
            f"{r['fps_target']:.0f} fps, {r['seconds']:.0f} s | {rate} | {r['p50']:.1f} | {r['p95']:.1f} | "
            f"| {also} | {target} |"
        )
    if memory is not None:
        full = memory["requests"] >= TARGETS["rss_requests"]
        judged = (
            f"{verdict(memory['growth_mb'] <= TARGETS['rss_growth_mb'])}: growth"
            if full
            else "not judged (fewer requests than the target's): growth"
        )
        lines.append(
            f"| server RSS | {memory['requests']:,} /v1/predict, 4 clients | "
            f"{memory['before_mb']:.0f} -> {memory['after_mb']:.0f} MB: {memory['growth_mb']:+.1f} MB | "
            f"| | | {'time cap hit; ' if memory['capped'] else ''}{memory['failed']} failed | "
            f"{judged} <= {TARGETS['rss_growth_mb']:.0f} MB over {TARGETS['rss_requests']:,} |"
        )
    return lines


def progress(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", type=Path, help="the photo every request sends (default: a JAFFE face in 640x480)")
    parser.add_argument(
        "--serve-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option for `python -m fer.serve` (repeatable), e.g. detector=yunet, workers=4",
    )
    parser.add_argument("--clients", default="1,4,16", help="/v1/predict concurrency levels")
    parser.add_argument("--requests", type=int, default=400, help="/v1/predict requests per level and run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per /v1/predict level (their median)")
    parser.add_argument("--warmup", type=int, default=30, help="/v1/predict requests before measuring")
    parser.add_argument("--tabs", default="1,8", help="/v1/stream simulated tabs")
    parser.add_argument("--fps", type=float, default=30.0, help="frames per second each tab sends")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds each /v1/stream run sends")
    parser.add_argument("--rss-requests", type=int, default=TARGETS["rss_requests"], help="0 skips the memory run")
    parser.add_argument("--time-cap", type=float, default=60.0, help="seconds at most per /v1/predict run")
    parser.add_argument("--rss-time-cap", type=float, default=600.0, help="seconds at most for the memory run")
    parser.add_argument("--quick", action="store_true", help="a smoke run: few requests, short streams")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.repeats, args.warmup, args.seconds = 8, 1, 2, 1.0
        args.rss_requests, args.time_cap, args.rss_time_cap = 20, 10.0, 10.0
    clients = [int(c) for c in args.clients.split(",") if c]
    tabs = [int(t) for t in args.tabs.split(",") if t]

    # a SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C, so the server is terminated too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    jpeg, source = face_jpeg(args.image)
    progress("starting the server")
    with tempfile.TemporaryDirectory() as tmp, Server(args.serve_arg, Path(tmp) / "server.log") as server:
        conn = server.connection()
        status, body, _ = request(conn, "POST", "/v1/predict", jpeg, {"Content-Type": "image/jpeg", **server.auth})
        if status != 200:
            raise SystemExit(f"/v1/predict answered {status}: {body[:300]!r}\n{server.log_tail()}")
        faces = json.loads(body).get("faces", [])
        conn.close()
        if len(faces) != 1:
            print(f"warning: the server found {len(faces)} faces in the image, not 1", file=sys.stderr)
        predict_load(server, jpeg, 1, args.warmup, args.time_cap)
        predict = []
        for n in clients:
            progress(f"/v1/predict, {n} client(s), {args.repeats} x {args.requests} requests")
            predict.append(
                median_run([predict_load(server, jpeg, n, args.requests, args.time_cap) for _ in range(args.repeats)])
            )
        stream = []
        for n in tabs:
            progress(f"/v1/stream, {n} tab(s) at {args.fps:g} fps for {args.seconds:g} s")
            stream.append(stream_load(server, jpeg, n, args.fps, args.seconds))
        memory = None
        if args.rss_requests:
            progress(f"server RSS over {args.rss_requests} /v1/predict requests")
            memory = memory_growth(
                server, jpeg, args.rss_requests, args.rss_time_cap, warmup=min(200, args.rss_requests)
            )
        errors = [e for r in predict for e in r["errors"]]

    shown = " ".join(["python bench/serve.py", *sys.argv[1:]])
    print(f"{machine_line()}\n")
    print(
        f"command: `{shown}`; "
        f"server: `{' '.join(['python -m fer.serve', f'host={HOST}', 'port=<free>', *args.serve_arg])}`"
    )
    print(
        f"image: {source}, {len(jpeg) / 1024:.0f} kB JPEG; the server found {len(faces)} face(s)"
        + (f", {faces[0]['label']} {faces[0]['score']:.2f}" if faces else "")
        + "\n"
    )
    print("\n".join(table(predict, stream, memory)))
    if errors:
        print("\nfirst errors: " + "; ".join(errors))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine_line(),
                    "command": shown,
                    "serve_args": args.serve_arg,
                    "image": source,
                    "predict": predict,
                    "stream": stream,
                    "memory": memory,
                    "targets": TARGETS,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
