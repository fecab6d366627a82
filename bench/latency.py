"""Inference latency: per-stage and end-to-end milliseconds per frame, batched throughput, memory.

    python bench/latency.py                                   # the shipped model
    python bench/latency.py --weights logs/default_model/final/model.pt --json latency.json
    python bench/latency.py --weights ensemble --only-loops --loop-sizes 640x480 --loop-faces 1   # one cell

640x480 frames holding one real face (a JAFFE photo when ../shared/data is there, else a drawn
face) go through the stages of the live loop: read (decode a JPEG frame), detect, preprocess
(crop, resize, normalise), classify, draw. Reports p50/p95 per stage and end to end
- for each runtime (eager torch, TorchScript, ONNX Runtime float32 and int8; a model file is
  exported to each on the fly), with the default detector on every frame, one pass per face;
- for each detector (haar, yunet) with the fastest runtime;
- for the two video loops (`fer.inference.video`) as infer.py runs them (RecognizerOptions' defaults): the exact loop
  (detection on the frame itself every N frames; video files' default, and every source's until
  2026-12-02) and the live loop (cameras' default: full-frame detection on its own thread, each
  face followed by a window search on another), on moving-face videos at 640x480, 1280x720 and 1920x1080 with
  1 and 5 faces, served as a 30 fps camera to infer.py's own camera loop (`Recognizer.frames`: the
  frame decoded on its reader thread, faces found and classified, then drawn): per-frame p50 / p95 /
  p99 from the frame's arrival to the frame drawn, frames dropped (the camera delivered a newer one
  before the loop was ready), and the share of faces found;
and the batched classifier rate (faces/s at batch 64), and the RSS growth of the real `infer.py`
loop over a generated video of --rss-frames frames.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import psutil
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fer.api import Recognizer  # noqa: E402
from fer.data.synthetic_faces import draw_face, sample_identity  # noqa: E402
from fer.export.export import export_onnx, export_torchscript  # noqa: E402
from fer.export.write import export_onnx_int8  # noqa: E402
from fer.faces.detect import detector_named  # noqa: E402
from fer.faces.image_io import read_grey, to_grey_uint8  # noqa: E402
from fer.inference.options import RecognizerOptions  # noqa: E402
from fer.inference.overlay import draw  # noqa: E402
from fer.inference.predictor import Predictor  # noqa: E402
from fer.inference.runtime import load_classifier, weights_path  # noqa: E402

DATA_DIR = Path(os.environ.get("FER_DATA_DIR", ROOT.parent / "shared" / "data"))
RESOLUTIONS = ((640, 480), (1280, 720), (1920, 1080))
SUBJECTS = ("KA.HA1.29", "KL.HA1.158", "KM.HA1.4", "KR.HA1.74", "MK.HA1.116")  # five JAFFE people


def face_frame(shift: int = 0) -> np.ndarray:
    face = face_images(1)[0]
    canvas = np.full((480, 640, 3), 90, np.uint8)
    canvas[110:366, 180 + shift : 436 + shift] = cv2.resize(face, (256, 256))
    return canvas


def face_images(count: int) -> list[np.ndarray]:
    """`count` different faces: JAFFE photos (head and shoulders) when the data is there, else drawn faces."""
    faces = []
    for i, name in enumerate(SUBJECTS[:count]):
        photo = DATA_DIR / "jaffe" / f"{name}.tiff"
        faces.append(
            cv2.cvtColor(read_grey(photo), cv2.COLOR_GRAY2BGR)
            if photo.is_file()
            else draw_face(sample_identity(i), 3, 0, 256)
        )
    return faces


def moving_faces_video(size: tuple[int, int], count: int, frames: int) -> list[bytes]:
    """JPEG frames of `count` faces side by side, swaying left and right (2 s a sway at 30 fps) and
    bobbing up and down; a face is 45 % of the frame's height alone, 19 % in a row of five."""
    width, height = size
    side = int(height * (0.45 if count == 1 else 0.19))
    faces = [cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA) for face in face_images(count)]
    slot = width // count
    encoded = []
    for i in range(frames):
        canvas = np.full((height, width, 3), 90, np.uint8)
        sway = np.sin(2 * np.pi * i / 60)
        for k, face in enumerate(faces):
            x = int(
                k * slot + (slot - side) / 2 + sway * 0.3 * (slot - side) / 2 + (0.12 * side * sway if count > 1 else 0)
            )
            y = int((height - side) / 2 + 0.1 * side * np.cos(2 * np.pi * i / 45))
            canvas[y : y + side, x : x + side] = face
        encoded.append(cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    return encoded


class StandInCamera:
    """JPEG frames served as a camera at `fps` serves them: `read` waits for the next frame's time, then
    decodes it, as OpenCV decodes a webcam's MJPEG inside `read`; `due[i]` is when frame i arrived."""

    def __init__(self, encoded: list[bytes], fps: float) -> None:
        self.encoded, self.period = encoded, 1.0 / fps
        self.due: list[float] = []

    def isOpened(self) -> bool:
        return True

    def read(self):
        if len(self.due) == len(self.encoded):
            return False, None
        due = self.due[0] + len(self.due) * self.period if self.due else time.perf_counter()
        time.sleep(max(0.0, due - time.perf_counter()))
        self.due.append(due)
        return True, cv2.imdecode(np.frombuffer(self.encoded[len(self.due) - 1], np.uint8), cv2.IMREAD_COLOR)

    def release(self) -> None:
        pass


def camera_run(recognizer: Recognizer, encoded: list[bytes], expected: int, fps: float = 30.0) -> dict:
    """infer.py's camera loop (`Recognizer.frames` on a camera: a reader thread decodes each frame and
    keeps the newest, the loop finds and classifies faces, the caller draws) fed `encoded` as a camera
    at `fps`. Per-frame ms: from the frame's arrival to the frame drawn (decode, waiting for the loop,
    faces, draw); frames the camera replaced before the loop took them count as dropped."""
    camera = StandInCamera(encoded, fps)
    times, found = [], []
    for frame, faces, _ in recognizer.frames("webcam", capture_factory=lambda index: camera):
        draw(frame.image, faces, recognizer.predictor.stage_ms, in_place=True)  # as infer.py draws
        times.append((time.perf_counter() - camera.due[frame.index]) * 1000)
        found.append(min(len(faces), expected) / expected)
    skip = min(30, len(times) // 4)  # the first second: the live loop's first scan, caches warming up
    ordered = sorted(times[skip:])
    return {
        "p50": statistics.median(ordered),
        "p95": ordered[int(0.95 * (len(ordered) - 1))],
        "p99": ordered[int(0.99 * (len(ordered) - 1))],
        "frames": len(encoded),
        "processed": len(times),
        "dropped": len(encoded) - len(times),
        "faces_found": float(np.mean(found[skip:])),
    }


def loops_table(
    weights: Path,
    detector: str,
    frames: int,
    threads: int,
    repeats: int = 3,
    sizes: tuple[tuple[int, int], ...] = RESOLUTIONS,
    counts: tuple[int, ...] = (1, 5),
    people_off_too: bool = False,
) -> dict:
    """The exact loop beside the live loop, per resolution and face count; each cell the median of
    `repeats` runs (the loops take turns, so a noisy spell of the machine hits each). `people_off_too`: the
    live loop without person ids as well (what re-identification costs)."""
    options = replace(RecognizerOptions(), weights=str(weights), detector=detector, threads=threads)
    loops = {
        "exact": Recognizer.from_options(replace(options, realtime=False)),
        "live": Recognizer.from_options(options),
    }
    if people_off_too:
        loops["live-off"] = Recognizer.from_options(replace(options, people="off"))
    print(
        f"\nvideo loops as a 30 fps camera sees them (detector={detector}, detect_every={options.detect_every}, "
        f"tta_flip={options.tta_flip}), {frames} frames each; ms p50 / p95 / p99 (first second left out), "
        f"median of {repeats} runs"
    )
    print(f"{'frame':<11}{'faces':>6}{'loop':>9}{'p50':>9}{'p95':>9}{'p99':>9}{'dropped':>9}{'faces found':>13}")
    rows = []
    for size in sizes:
        for count in counts:
            encoded = moving_faces_video(size, count, frames)
            runs = {name: [] for name in loops}
            for _ in range(repeats):
                for name, recognizer in loops.items():
                    runs[name].append(camera_run(recognizer, encoded, count))
            for name, results in runs.items():
                result = {
                    "size": f"{size[0]}x{size[1]}",
                    "faces": count,
                    "loop": name,
                    "runs": len(results),
                    **{key: statistics.median(r[key] for r in results) for key in results[0]},
                }
                rows.append(result)
                print(
                    f"{result['size']:<11}{count:>6}{name:>9}{result['p50']:>9.2f}{result['p95']:>9.2f}"
                    f"{result['p99']:>9.2f}{result['dropped']:>9}{result['faces_found']:>13.2f}"
                )
    return {"detector": detector, "detect_every": options.detect_every, "repeats": repeats, "rows": rows}


def p50_p95(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def percentiles(values: list[float]) -> str:
    return "{:6.2f} / {:6.2f}".format(*p50_p95(values))


def stage_latency(predictor: Predictor, encoded: list[bytes], step=None) -> dict[str, list[float]]:
    """Milliseconds per stage and frame; `step` (grey frame -> faces) defaults to detecting in every frame."""
    step = step or predictor.predict
    times = {k: [] for k in ("read", "detect", "preprocess", "classify", "draw", "total")}
    for data in encoded:
        predictor.stage_ms.clear()  # a frame that skips a stage (held boxes) spends nothing on it
        start = time.perf_counter()
        frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        read_done = time.perf_counter()
        faces = step(to_grey_uint8(frame))
        predicted = time.perf_counter()
        draw(frame, faces, predictor.stage_ms, in_place=True)
        end = time.perf_counter()
        times["read"].append((read_done - start) * 1000)
        for stage in ("detect", "preprocess", "classify"):
            times[stage].append(predictor.stage_ms.get(stage, 0.0))
        times["draw"].append((end - predicted) * 1000)
        times["total"].append((end - start) * 1000)
    return times


def batched_rate(classifier, batch: int = 64, repeats: int = 10) -> float:
    x = (
        np.random.default_rng(0)
        .standard_normal((batch, classifier.channels, classifier.image_size, classifier.image_size))
        .astype(np.float32)
    )
    classifier.probabilities(x)  # warm-up
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        classifier.probabilities(x)
        runs.append(time.perf_counter() - start)
    return batch / statistics.median(runs)


def rss_growth(weights: Path, frames: int, folder: Path) -> tuple[float, float]:
    """RSS (MB) after the first 500 frames and at the end of the real infer loop on a long video."""
    from hydra import compose, initialize_config_dir

    from fer.inference.infer import run

    video = folder / "long.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (640, 480))
    for i in range(frames):
        writer.write(face_frame(shift=(i % 60) - 30))
    writer.release()
    rss_mb = {}

    class Probe:  # the real capture, sampling memory after the 500th and the last frame
        def __init__(self, target):
            self.inner, self.reads = cv2.VideoCapture(target), 0

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def read(self):
            self.reads += 1
            if self.reads in (500, frames):
                rss_mb[self.reads] = psutil.Process().memory_info().rss / 2**20
            return self.inner.read()

    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(
            "infer",
            overrides=[
                f"source={video}",
                f"weights={weights}",
                "display=false",
                f"output.jsonl={folder / 'long.jsonl'}",
            ],
        )
    run(cfg, capture_factory=Probe)
    return rss_mb[500], rss_mb[frames]


def runtimes_for(weights: Path, folder: Path, calibration: Path | None) -> dict[str, Path]:
    """Every runtime a weights file can run on: a model file is exported to each here; an export runs as itself."""
    if weights.suffix == ".onnx":
        return {"onnxruntime": weights}
    out = {
        "torch": weights,
        "torchscript": export_torchscript(weights, folder / "m.ts.pt"),
        "onnxruntime": export_onnx(weights, folder / "m.onnx"),
    }
    if calibration is not None and calibration.is_dir():
        out["onnxruntime-int8"] = export_onnx_int8(weights, folder / "m.int8.onnx", calibration)
    return out


def summary(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    return {k: dict(zip(("p50", "p95"), p50_p95(v))) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--weights",
        help="a model.pt or .ckpt (exported to each runtime here) or an .onnx; default: the model the package ships",
    )
    parser.add_argument(
        "--calibration",
        type=Path,
        default=DATA_DIR / "fer2013" / "train",
        help="face crops to calibrate the int8 export on (skipped when absent)",
    )
    parser.add_argument("--detectors", default="haar,yunet")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--loop-frames", type=int, default=300, help="frames per video in the loops table (0 skips it)")
    parser.add_argument("--loop-repeats", type=int, default=3, help="runs per cell of the loops table (their median)")
    parser.add_argument("--only-loops", action="store_true", help="the loops table alone")
    parser.add_argument(
        "--loop-sizes",
        default=",".join(f"{w}x{h}" for w, h in RESOLUTIONS),
        help="frame sizes of the loops table, e.g. 640x480",
    )
    parser.add_argument("--loop-faces", default="1,5", help="face counts of the loops table, e.g. 1")
    parser.add_argument(
        "--people-off-too",
        action="store_true",
        help="the loops table also runs the live loop with people=off (loop live-off): the cost of person ids",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rss-frames", type=int, default=10_000, help="0 skips the memory measurement")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = Path(tempfile.mkdtemp(prefix="fer-latency-"))
    weights = weights_path(args.weights)
    cells = dict(
        sizes=tuple(tuple(int(x) for x in size.split("x")) for size in args.loop_sizes.split(",")),
        counts=tuple(int(c) for c in args.loop_faces.split(",")),
        people_off_too=args.people_off_too,
    )
    default_detector = RecognizerOptions.detector
    if args.only_loops:
        report = {
            "loops": loops_table(weights, default_detector, args.loop_frames, args.threads, args.loop_repeats, **cells)
        }
        if args.json:
            args.json.write_text(json.dumps(report, indent=2))
        return
    encoded = [cv2.imencode(".jpg", face_frame(shift=(i % 40) - 20))[1].tobytes() for i in range(args.frames)]
    report = {
        "frames": args.frames,
        "threads": args.threads,
        "weights": str(weights),
        "runtimes": {},
        "detectors": {},
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
    }
    print(f"{args.frames} frames 640x480 (JPEG-decoded), one face, {args.threads} threads; ms p50 / p95")
    header = "".join(f"{k:>16}" for k in ("read", "detect", "preprocess", "classify", "draw", "end-to-end"))
    print(f"per runtime, detector={default_detector} on every frame\n{'runtime':<17}{header}{'faces/s @64':>13}")
    classifiers = {
        name: load_classifier(path, threads=args.threads)
        for name, path in runtimes_for(weights, folder, args.calibration).items()
    }
    for runtime, classifier in classifiers.items():
        times = measure(Predictor(classifier, detector_named(default_detector)), encoded)
        rate = batched_rate(classifier)
        report["runtimes"][runtime] = {**summary(times), "faces_per_s_batch64": rate}
        print(f"{runtime:<17}{row(times)}{rate:>13.0f}")
    fastest = max(classifiers, key=lambda r: report["runtimes"][r]["faces_per_s_batch64"])
    print(f"\nper detector, runtime={fastest}, detection on every frame\n{'detector':<17}{header}")
    for name in args.detectors.split(","):
        try:
            detector = detector_named(name)
        except ImportError as err:
            print(f"{name:<17}unavailable: {err}")
            continue
        times = measure(Predictor(classifiers[fastest], detector), encoded)
        report["detectors"][name] = summary(times)
        print(f"{name:<17}{row(times)}")
    if args.loop_frames:
        report["loops"] = loops_table(
            classifiers[fastest].path, default_detector, args.loop_frames, args.threads, args.loop_repeats, **cells
        )
    if args.rss_frames:
        onnx = classifiers[fastest].path
        early, late = rss_growth(onnx, args.rss_frames, folder)
        report["rss_mb"] = {"after_500": early, "end": late, "growth": late - early, "frames": args.rss_frames}
        print(
            f"RSS over {args.rss_frames} frames of infer.py ({fastest}): {early:.0f} MB after 500 frames, "
            f"{late:.0f} MB at the end, growth {late - early:+.1f} MB"
        )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


def measure(predictor: Predictor, encoded: list[bytes]) -> dict[str, list[float]]:
    stage_latency(predictor, encoded[:20])  # warm-up
    return stage_latency(predictor, encoded)


def row(times: dict[str, list[float]]) -> str:
    return "".join(
        f"{percentiles(times[k]):>16}" for k in ("read", "detect", "preprocess", "classify", "draw", "total")
    )


if __name__ == "__main__":
    main()
