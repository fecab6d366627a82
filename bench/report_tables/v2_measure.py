"""Each v2 candidate's figures: its int8 export evaluated here, or its row in the previous report."""

import statistics
from pathlib import Path

from . import checkout
from .cells import cells, number
from .commands import evaluate
from .previous import measured_or_kept, previous_rows
from .v2_candidates import LEGACY_ROWS, V2_CANDIDATES, V2_COLUMNS, V2_EVALUATIONS


def v2_results(work: Path) -> dict[str, dict]:
    """Per candidate: {"figures": [the V2_COLUMNS numbers] or None, "kept": whether from the previous report}."""
    return {name: measured_or_kept(name, folder, lambda f=folder, i=i: measured_figures(
                f, checkout.ROOT / f / "model.int8.onnx", work / f"v2_{i}"), previous_v2_figures)
            for i, (name, folder, _) in enumerate(V2_CANDIDATES)}


def measured_figures(folder: str, weights: Path, out: Path) -> list[float]:
    """A candidate's V2_COLUMNS, measured; each evaluation writes to <out>_<its key>."""
    summaries = {key: evaluate([*args, f"weights={folder}/model.int8.onnx"], out.parent / f"{out.name}_{key}")["metrics"]
                 for key, args in V2_EVALUATIONS.items()}
    f = summaries["ferplus"]
    return [100 * f["acc"], 100 * f["f1"], f["ece"], 100 * summaries["fer2013"]["acc"],
            100 * summaries["posed"]["acc"], classify_ms(weights), weights.stat().st_size / 1e6]


def classify_ms(weights: Path, runs: int = 300) -> float:
    """Median milliseconds of one face through the classifier (batch 1, one pass, 2 threads)."""
    import time

    import numpy as np

    from fer.inference.runtime import load_classifier

    classifier = load_classifier(weights, threads=2)
    face = np.zeros((1, classifier.channels, classifier.image_size, classifier.image_size), np.float32)
    for _ in range(20):  # warm-up: the first calls allocate and are not what a face costs
        classifier.logits(face)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        classifier.logits(face)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def previous_v2_figures(name: str) -> list[float | None] | None:
    """A candidate's figures as the previous report printed them: its v2 row, or the legacy rows of candidate A."""
    row = previous_rows().get(name)  # row_key has taken " **(chosen)**" and the kept mark off
    if row:
        return [number(c) for c in cells(row)[1:1 + len(V2_COLUMNS)]]
    legacy = LEGACY_ROWS.get(name)
    if legacy and all(r in previous_rows() for r in legacy.values()):
        ferplus = cells(previous_rows()[legacy["ferplus"]])
        return [number(ferplus[2]), number(ferplus[3]), number(ferplus[5].split("→")[-1]),
                number(cells(previous_rows()[legacy["fer2013"]])[2]), number(cells(previous_rows()[legacy["posed"]])[2]),
                None, None]
    return None
