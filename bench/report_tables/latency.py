"""Latency: the tables of bench/latency.py's JSON (per stage, per detector, the two video loops, memory)."""

import json
from pathlib import Path

from .commands import run
from .previous import previous_section

TITLE = "### Latency"


def latency_section(skip: bool, work: Path) -> list[str]:
    """The latency section: measured now by bench/latency.py, or kept from the previous report when skipped."""
    if skip:
        print("latency bench skipped (--skip-latency)")
        return previous_section(TITLE)
    print("latency bench")
    latency_json = work / "latency.json"
    run(["bench/latency.py", "--json", str(latency_json)])
    return [TITLE, "", *latency_table(json.loads(latency_json.read_text())), ""]


def latency_table(report: dict) -> list[str]:
    lines = [*runtime_table(report), "", *detector_table(report["detectors"])]
    if "loops" in report:
        lines += ["", *loop_table(report["loops"])]
    if "rss_mb" in report:
        lines += ["", memory_line(report["rss_mb"])]
    return lines


def runtime_table(report: dict) -> list[str]:
    lines = [f"Command: `python bench/latency.py` (the shipped model; `--weights <model.pt>` adds torch, TorchScript "
             f"and float32 ONNX rows). {report['threads']} threads, {report['cores']}-core {report['cpu']}; milliseconds.", "",
             f"Per stage, {report['frames']} frames of 640x480 with one face, detection on every frame, one pass per "
             "face; p50 / p95:", "",
             "| runtime (Haar on every frame, one pass per face) | detect | classify | end-to-end | classifier faces/s (batch 64) |",
             "|---|---:|---:|---:|---:|"]
    for name, r in report["runtimes"].items():
        lines.append(f"| {name} | {p50_p95(r['detect'])} | {p50_p95(r['classify'])} | {p50_p95(r['total'])} | "
                     f"{r['faces_per_s_batch64']:.0f} |")
    return lines


def detector_table(detectors: dict) -> list[str]:
    lines = ["| detector (on every frame) | detect | end-to-end |", "|---|---:|---:|"]
    for name, r in detectors.items():
        lines.append(f"| {name} | {p50_p95(r['detect'])} | {p50_p95(r['total'])} |")
    return lines


def p50_p95(stage: dict) -> str:
    return f"{stage['p50']:.2f} / {stage['p95']:.2f}"


def loop_table(loops: dict) -> list[str]:
    lines = [f"The two video loops in one run, as a 30 fps camera feeds them (moving faces; detector="
             f"{loops['detector']}, detect_every={loops['detect_every']}, test-time flip): **exact** detects on the "
             "frame itself every third frame (video files' default; every source's until 2026-12-02), **live** "
             "scans on its own thread, follows each face by a window search on another, classifies at most two "
             "faces a frame, takes the flip's two views on alternate frames and hands its threads their work "
             "between frames (cameras' default). Both run as infer.py's own camera loop (`Recognizer.frames`: "
             "the JPEG frame decoded on its reader thread, as OpenCV decodes a webcam's MJPEG). Per frame: ms "
             "from the frame's arrival to the frame drawn (decode, waiting for the loop, faces, draw); the "
             "first second left out; each cell the median of "
             f"{loops.get('repeats', 1)} runs, the loops taking turns. Dropped: frames the camera replaced "
             "before the loop was ready for them.", "",
             "| frame | faces | loop | p50 ms | p95 ms | p99 ms | frames dropped | faces found % |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    for r in loops["rows"]:
        lines.append(f"| {r['size']} | {r['faces']} | {r['loop']} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} | "
                     f"{r['dropped']:g} of {r['frames']} | {100 * r['faces_found']:.1f} |")
    return lines


def memory_line(r: dict) -> str:
    return (f"RSS of the infer.py loop over {r['frames']} frames: {r['after_500']:.0f} MB after 500 frames, "
            f"{r['end']:.0f} MB at the end ({r['growth']:+.1f} MB).")
