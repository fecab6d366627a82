"""Every run of every version's table (candidates.VERSIONS), measured the same way: its int8 export evaluated
as infer.py runs it, its classify time and its file size. A run whose export is not in this checkout keeps
its stored figures."""

import statistics
from pathlib import Path

from . import checkout, store
from .candidates import VERSIONS, Run
from .commands import evaluate

# what each evaluation runs (fer evaluate <args> weights=<run>/model.int8.onnx)
EVALUATIONS = {
    "ferplus": ["data=ferplus"],
    "fer2013": ["data=fer2013"],
    "posed": ["data=human"],
    "posed_all": ["data=human", "split=all"],
}
# a metric of the tables: (evaluation, key in its summary's metrics, scale); "unseen" is the posed faces the run
# never trained on: every image for a run on FER+ alone, else fold 0
FROM_EVALUATIONS = {
    "ferplus_accuracy": ("ferplus", "acc", 100),
    "ferplus_macro_f1": ("ferplus", "f1", 100),
    "ferplus_ece": ("ferplus", "ece", 1),
    "fer2013_accuracy": ("fer2013", "acc", 100),
    "posed_accuracy": ("posed", "acc", 100),
    "posed_all_accuracy": ("posed_all", "acc", 100),
    "neutral_precision": ("unseen", "precision/neutral", 1),
}


def measure_candidates(results: store.Results, work: Path, stamp: store.Stamp) -> None:
    """Store every run's figures (a run in two versions' tables is measured once, for both rows)."""
    cache: dict[str, dict] = {}
    for version in VERSIONS:
        for run in version.runs:
            weights = checkout.ROOT / run.folder / "model.int8.onnx"
            if not weights.is_file():
                store.keep(results, run.id)
                continue
            print(f"measure: {run.id}")
            metrics = [column.metric for column in version.columns]
            figures = measured(run, metrics, weights, work / run.id.replace("/", "_"), cache)
            store.record(results, run.id, figures, run.command, stamp)


def measured(run: Run, metrics: list[str], weights: Path, out: Path, cache: dict[str, dict]) -> dict:
    """The run's figures for `metrics`; each evaluation of a folder runs once (kept in `cache`)."""
    done = cache.setdefault(run.folder, {})
    figures = {}
    for metric in metrics:
        if metric == "int8_mb":
            figures[metric] = weights.stat().st_size / 1e6
            continue
        if metric == "classify_ms":
            if metric not in done:
                done[metric] = classify_ms(weights)
            figures[metric] = done[metric]
            continue
        key, name, scale = FROM_EVALUATIONS[metric]
        key = ("posed_all" if run.zero_shot else "posed") if key == "unseen" else key
        if key == "posed_all" and not run.zero_shot:
            figures[metric] = None  # a run that saw posed faces has no zero-shot figure
            continue
        if key not in done:
            args = [*EVALUATIONS[key], f"weights={run.folder}/model.int8.onnx"]
            done[key] = evaluate(args, out.with_name(f"{out.name}_{key}"))["metrics"]
        figures[metric] = scale * done[key][name]
    return figures


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
