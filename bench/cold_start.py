"""Cold start of the Python API: `import fer; fer.predict(photo)` in a fresh interpreter, time and memory.

    python bench/cold_start.py                 # 5 runs, the median
    python bench/cold_start.py --runs 9 --json cold_start.json

The photo is bench/latency.py's frame: 640x480 with one real face (a JAFFE photo when ../shared/data is
there, else a drawn face), written once as a JPEG. Each run is a new process started from the project
root, so it imports the checkout's `fer` and the shipped ONNX model. Reported per run: wall seconds from
start to exit, and the process's peak resident memory (its own `ru_maxrss`, read with `os.wait4`). Targets:
at most 1.5 s and 250 MB. The figures include what the machine was doing besides (say so when it was busy).

This script imports only the standard library (and the stdlib-only CPU line of fer/training/precision.py):
a parent holding torch would hand its memory figure to each child (Linux keeps the peak across exec).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fer.training.precision import machine_line  # noqa: E402  (standard library only)

TARGET_S, TARGET_MB = 1.5, 250.0
WRITE_PHOTO = (
    "import sys, cv2; sys.path.insert(0, 'bench'); from latency import face_frame; "
    "assert cv2.imwrite(sys.argv[1], face_frame())"
)


def write_photo(path: Path) -> Path:
    """bench/latency.py's 640x480 one-face frame as a JPEG (in its own process: it imports torch)."""
    subprocess.run([sys.executable, "-c", WRITE_PHOTO, str(path)], cwd=ROOT, check=True)
    return path


def command(photo: Path) -> list[str]:
    return [sys.executable, "-c", f"import fer; fer.predict({str(photo)!r})"]


def cold_start(photo: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one fresh process running the one-liner."""
    start = time.perf_counter()
    child = subprocess.Popen(command(photo), cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"the one-liner failed (exit {child.returncode}): {' '.join(command(photo))}")
    return wall, usage.ru_maxrss / 1024  # kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--photo", type=Path, help="a photo to use instead of latency.py's frame")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        photo = args.photo or write_photo(Path(tmp) / "face_640x480.jpg")
        runs = [cold_start(photo) for _ in range(args.runs)]
    seconds, megabytes = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    shown = "python -c \"import fer; fer.predict('<640x480 one-face photo>')\""
    print(f"{machine_line()}\n")
    print("| command | runs | wall s (median) | peak RSS MB (median) | targets |")
    print("|---|---|---|---|---|")
    verdict = (
        f"{'met' if seconds <= TARGET_S else 'MISSED'} <= {TARGET_S} s, "
        f"{'met' if megabytes <= TARGET_MB else 'MISSED'} <= {TARGET_MB:.0f} MB"
    )
    print(f"| `{shown}` | {len(runs)} | {seconds:.2f} | {megabytes:.0f} | {verdict} |")
    print("\nper run: " + ", ".join(f"{s:.2f} s / {mb:.0f} MB" for s, mb in runs))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": machine_line(),
                    "command": shown,
                    "runs": runs,
                    "median_s": seconds,
                    "median_rss_mb": megabytes,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
