"""What the embedding output costs: classify time of a shipped model with and without it.

    python bench/embedding_cost.py                  # the default model; --weights ensemble for the other
    python bench/embedding_cost.py --repeats 9

The file without the output is the same file with the `embedding` output and its nodes taken out. Both run
a face (batch 1, as the live loop classifies) on ONNX Runtime with 2 threads, alternating, `--calls` calls a
round; each figure is the median over `--repeats` rounds of the per-call median. Logits-only calls (what
inference without a profile asks for) and calls that also fetch the embedding are timed separately.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fer.export.embedding import remove_embedding_output  # noqa: E402
from fer.inference.runtime import load_classifier, weights_path  # noqa: E402


def without_embedding(path: Path, out: Path) -> Path:
    onnx.save(remove_embedding_output(onnx.load(str(path))), str(out))
    return out


def per_call_ms(call, calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=None)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args(argv)
    shipped = weights_path(args.weights)
    with tempfile.TemporaryDirectory() as tmp:
        plain = load_classifier(without_embedding(shipped, Path(tmp) / "plain.onnx"), threads=2)
        with_output = load_classifier(shipped, threads=2)
        face = (
            np.random.default_rng(0)
            .normal(0, 1, (1, with_output.channels, with_output.image_size, with_output.image_size))
            .astype(np.float32)
        )
        rounds = {"without the output": [], "with it, logits only": [], "with it, logits + embedding": []}
        for _ in range(args.repeats):
            rounds["without the output"].append(per_call_ms(lambda: plain.logits(face), args.calls))
            rounds["with it, logits only"].append(per_call_ms(lambda: with_output.logits(face), args.calls))
            rounds["with it, logits + embedding"].append(per_call_ms(lambda: with_output.outputs(face), args.calls))
    base = float(np.median(rounds["without the output"]))
    print(f"{shipped.name}: classify ms (batch 1, 2 threads), median of {args.repeats} rounds x {args.calls} calls")
    for name, values in rounds.items():
        ms = float(np.median(values))
        print(f"  {name:<28} {ms:.3f} ms  ({100 * (ms / base - 1):+.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
