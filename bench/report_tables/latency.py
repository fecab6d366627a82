"""Latency: bench/latency.py's figures as rows (per runtime, per detector, the two video loops per frame size,
face count and loop, memory), and the section's tables from them."""

import json
from pathlib import Path

from . import store
from .cells import KEPT_SECTION
from .commands import run

TITLE = "### Latency"
COMMAND = "python bench/latency.py"
STAGES = ("detect", "classify", "total")


def measure_latency(results: store.Results, work: Path, stamp: store.Stamp, skip: bool) -> None:
    """Run bench/latency.py and store its figures; skipped, the stored ones are kept."""
    ids = [row_id for row_id in results["rows"] if row_id.startswith("latency/")]
    if skip:
        print("latency bench skipped (--skip-latency)")
        for row_id in ids:
            store.keep(results, row_id)
        return
    print("latency bench")
    report_file = work / "latency.json"
    run(["bench/latency.py", "--json", str(report_file)])
    for row_id in ids:
        del results["rows"][row_id]  # the runtimes, detectors and frame sizes as they are now
    for row_id, metrics, settings in latency_rows(json.loads(report_file.read_text())):
        store.record(results, row_id, metrics, COMMAND, stamp, settings)


def latency_rows(report: dict) -> list[tuple[str, dict, dict | None]]:
    """(row id, metrics, settings) of bench/latency.py's JSON."""
    setup = {key: report[key] for key in ("threads", "cores", "cpu", "frames")}
    rows = [
        (f"latency/runtime/{name}", {**_stages(r), "faces_per_s_batch64": r["faces_per_s_batch64"]}, setup)
        for name, r in report["runtimes"].items()
    ]
    rows += [
        (f"latency/detector/{name}", _stages(r, ("detect", "total")), setup) for name, r in report["detectors"].items()
    ]
    if "loops" in report:
        loops = report["loops"]
        settings = {
            "detector": loops["detector"],
            "detect_every": loops["detect_every"],
            "repeats": loops.get("repeats", 1),
        }
        rows += [
            (
                f"latency/loop/{r['size']}/{r['faces']}/{r['loop']}",
                {key: r[key] for key in ("p50", "p95", "p99", "dropped", "frames", "faces_found")},
                settings,
            )
            for r in loops["rows"]
        ]
    if "rss_mb" in report:
        rss = report["rss_mb"]
        rows.append(
            ("latency/memory", {key: rss[key] for key in ("after_500", "end", "growth")}, {"frames": rss["frames"]})
        )
    return rows


def _stages(r: dict, stages: tuple[str, ...] = STAGES) -> dict:
    return {f"{stage}_{q}": r[stage][q] for stage in stages for q in ("p50", "p95")}


def latency_section(results: store.Results) -> list[str]:
    rows = {row_id: row for row_id, row in results["rows"].items() if row_id.startswith("latency/")}
    if not rows:
        return []
    kept = [KEPT_SECTION, ""] if any(row["kept"] for row in rows.values()) else []
    return [TITLE, "", *kept, *latency_tables(rows), ""]


def latency_tables(rows: dict[str, dict]) -> list[str]:
    def of(kind: str) -> list[tuple[str, dict]]:
        return [(row_id.split("/", 2)[2], row) for row_id, row in rows.items() if row_id.startswith(f"latency/{kind}/")]

    lines = [*runtime_table(of("runtime")), "", *detector_table(of("detector"))]
    if of("loop"):
        lines += ["", *loop_table(of("loop"))]
    if "latency/memory" in rows:
        lines += ["", memory_line(rows["latency/memory"])]
    return lines


def runtime_table(runtimes: list[tuple[str, dict]]) -> list[str]:
    setup = runtimes[0][1]["settings"]
    lines = [
        f"Command: `{COMMAND}` (the shipped model; `--weights <model.pt>` adds torch, TorchScript "
        f"and float32 ONNX rows). {setup['threads']} threads, {setup['cores']}-core {setup['cpu']}; milliseconds.",
        "",
        f"Per stage, {setup['frames']} frames of 640x480 with one face, detection on every frame, one pass per "
        "face; p50 / p95:",
        "",
        "| runtime (Haar on every frame, one pass per face) | detect | classify | end-to-end "
        "| classifier faces/s (batch 64) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in runtimes:
        m = row["metrics"]
        lines.append(
            f"| {name} | {p50_p95(m, 'detect')} | {p50_p95(m, 'classify')} | {p50_p95(m, 'total')} | "
            f"{m['faces_per_s_batch64']:.0f} |"
        )
    return lines


def detector_table(detectors: list[tuple[str, dict]]) -> list[str]:
    lines = ["| detector (on every frame) | detect | end-to-end |", "|---|---:|---:|"]
    for name, row in detectors:
        lines.append(f"| {name} | {p50_p95(row['metrics'], 'detect')} | {p50_p95(row['metrics'], 'total')} |")
    return lines


def p50_p95(m: dict, stage: str) -> str:
    return f"{m[stage + '_p50']:.2f} / {m[stage + '_p95']:.2f}"


def loop_table(loops: list[tuple[str, dict]]) -> list[str]:
    setup = loops[0][1]["settings"]
    lines = [
        f"The two video loops in one run, as a 30 fps camera feeds them (moving faces; detector="
        f"{setup['detector']}, detect_every={setup['detect_every']}, test-time flip): **exact** detects on the "
        "frame itself every third frame (video files' default; every source's until 2026-12-02), **live** "
        "scans on its own thread, follows each face by a window search on another, classifies at most two "
        "faces a frame, takes the flip's two views on alternate frames and hands its threads their work "
        "between frames (cameras' default). Both run as infer.py's own camera loop (`Recognizer.frames`: "
        "the JPEG frame decoded on its reader thread, as OpenCV decodes a webcam's MJPEG). Per frame: ms "
        "from the frame's arrival to the frame drawn (decode, waiting for the loop, faces, draw); the "
        f"first second left out; each cell the median of {setup['repeats']} runs, the loops taking turns. "
        "Dropped: frames the camera replaced before the loop was ready for them.",
        "",
        "| frame | faces | loop | p50 ms | p95 ms | p99 ms | frames dropped | faces found % |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    for cell, row in loops:
        size, faces, loop = cell.split("/")
        m = row["metrics"]
        lines.append(
            f"| {size} | {faces} | {loop} | {m['p50']:.2f} | {m['p95']:.2f} | {m['p99']:.2f} | "
            f"{m['dropped']:g} of {m['frames']} | {100 * m['faces_found']:.1f} |"
        )
    return lines


def memory_line(row: dict) -> str:
    m = row["metrics"]
    return (
        f"RSS of the infer.py loop over {row['settings']['frames']} frames: {m['after_500']:.0f} MB after 500 "
        f"frames, {m['end']:.0f} MB at the end ({m['growth']:+.1f} MB)."
    )
