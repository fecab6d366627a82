"""Inference latency: per-stage and end-to-end milliseconds per frame, batched throughput, memory.

    python bench/latency.py --weights logs/train/runs/<date>/model.pt
    python bench/latency.py --weights model.pt --frames 300 --rss-frames 10000

For each runtime (eager torch, TorchScript, ONNX Runtime; exported from --weights on the fly):
640x480 frames holding one real face (a JAFFE photo when ../shared/data is there, else a drawn
face) go through the stages of the live loop: read (decode a JPEG frame), detect (Haar), preprocess
(crop, resize, normalise), classify, draw. Reports p50/p95 per stage and end to end, the batched
classifier rate (faces/s at batch 64), and the RSS growth of the real `infer.py` loop over a
generated video of --rss-frames frames.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import psutil
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fer.data.image_io import read_grey, to_grey_uint8  # noqa: E402
from fer.data.synthetic_faces import draw_face, sample_identity  # noqa: E402
from fer.detect import HaarFaceDetector  # noqa: E402
from fer.export import export_onnx, export_torchscript  # noqa: E402
from fer.overlay import draw  # noqa: E402
from fer.predictor import Predictor  # noqa: E402
from fer.runtime import load_classifier  # noqa: E402

DATA_DIR = Path(os.environ.get("FER_DATA_DIR", ROOT.parent / "shared" / "data"))


def face_frame(shift: int = 0) -> np.ndarray:
    photo = DATA_DIR / "jaffe" / "KA.HA1.29.tiff"
    face = cv2.cvtColor(read_grey(photo), cv2.COLOR_GRAY2BGR) if photo.is_file() else draw_face(sample_identity(0), 3, 0, 256)
    canvas = np.full((480, 640, 3), 90, np.uint8)
    canvas[110:366, 180 + shift:436 + shift] = cv2.resize(face, (256, 256))
    return canvas


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{statistics.median(ordered):6.2f} / {ordered[int(0.95 * (len(ordered) - 1))]:6.2f}"


def stage_latency(predictor: Predictor, encoded: list[bytes]) -> dict[str, list[float]]:
    times = {k: [] for k in ("read", "detect", "preprocess", "classify", "draw", "total")}
    for data in encoded:
        start = time.perf_counter()
        frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        read_done = time.perf_counter()
        faces = predictor.predict(to_grey_uint8(frame))
        predicted = time.perf_counter()
        draw(frame, faces, predictor.stage_ms)
        end = time.perf_counter()
        times["read"].append((read_done - start) * 1000)
        for stage in ("detect", "preprocess", "classify"):
            times[stage].append(predictor.stage_ms.get(stage, 0.0))
        times["draw"].append((end - predicted) * 1000)
        times["total"].append((end - start) * 1000)
    return times


def batched_rate(classifier, batch: int = 64, repeats: int = 10) -> float:
    x = np.random.default_rng(0).standard_normal((batch, classifier.channels, classifier.image_size,
                                                   classifier.image_size)).astype(np.float32)
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

    from fer.infer import run

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
        cfg = compose("infer", overrides=[f"source={video}", f"weights={weights}", "display=false",
                                          f"output.jsonl={folder / 'long.jsonl'}"])
    run(cfg, capture_factory=Probe)
    return rss_mb[500], rss_mb[frames]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True, help="a model.pt or .ckpt (exported to each runtime here)")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rss-frames", type=int, default=10_000, help="0 skips the memory measurement")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = Path(tempfile.mkdtemp(prefix="fer-latency-"))
    exports = {"torch": Path(args.weights),
               "torchscript": export_torchscript(args.weights, folder / "m.ts.pt"),
               "onnxruntime": export_onnx(args.weights, folder / "m.onnx")}
    encoded = [cv2.imencode(".jpg", face_frame(shift=(i % 40) - 20))[1].tobytes() for i in range(args.frames)]
    print(f"{args.frames} frames 640x480, one face, {args.threads} threads; ms p50 / p95")
    print(f"{'runtime':<12}{'read':>16}{'detect':>16}{'preprocess':>16}{'classify':>16}{'draw':>16}{'end-to-end':>16}"
          f"{'faces/s @64':>13}")
    for runtime, path in exports.items():
        classifier = load_classifier(path, threads=args.threads)
        predictor = Predictor(classifier, HaarFaceDetector())
        stage_latency(predictor, encoded[:20])  # warm-up
        times = stage_latency(predictor, encoded)
        cells = "".join(f"{percentiles(times[k]):>16}" for k in ("read", "detect", "preprocess", "classify", "draw", "total"))
        print(f"{runtime:<12}{cells}{batched_rate(classifier):>13.0f}")
    if args.rss_frames:
        early, late = rss_growth(exports["onnxruntime"], args.rss_frames, folder)
        print(f"RSS over {args.rss_frames} frames of infer.py (onnxruntime): {early:.0f} MB after 500 frames, "
              f"{late:.0f} MB at the end, growth {late - early:+.1f} MB")


if __name__ == "__main__":
    main()
