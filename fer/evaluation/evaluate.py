"""Evaluate a model on a split of a data config, through the same predictor `infer.py` uses.

    fer evaluate data=fer2013                       # the shipped model on FER2013 PublicTest
    fer evaluate weights=logs/.../model.onnx data=human data.fold=3

Reports accuracy, macro-F1, per-class recall and the confusion matrix, overall and per domain;
the expected calibration error with and without the model's temperature; and, for the test split,
the same figures without the test images that have a pixel- or near-identical twin in train or
val (found by `fer audit`). Writes summary.json and confusion PNGs in the run folder.
"""

import json
import logging
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig

from fer.data.datamodule import prepared_data
from fer.data.sample import DOMAINS, FaceSample
from fer.errors import report_and_exit
from fer.evaluation.audit import audit, contaminated_test_files
from fer.evaluation.calibration import expected_calibration_error
from fer.evaluation.metrics import ALL, FERMetrics
from fer.evaluation.plots import save_confusion_image
from fer.inference.options import RecognizerOptions
from fer.inference.predictor import Predictor
from fer.inference.profile import file_sha256, profile_for_model
from fer.inference.runtime import load_classifier, softmax, weights_path
from fer.labels import LABELS
from fer.utils.console import tidy_console
from fer.utils.progress import RunProgress

log = logging.getLogger(__name__)
ALL_SPLITS = "all"


def predict_records(
    predictor: Predictor, records: list[FaceSample], sources: dict, batch: int = 256, progress: bool = False
) -> np.ndarray:
    """(N, 7) probabilities for N >= 1 face records, read as training reads them, classified by the predictor;
    `progress` draws a bar (faces done / total) where stderr is a terminal."""
    out = []
    with RunProgress("faces", len(records), enabled=progress, description="evaluate") as bar:
        for start in range(0, len(records), batch):
            crops = [sources[r.source].load(r) for r in records[start : start + batch]]
            out.append(predictor.classify_crops(crops))
            bar.advance(faces=len(crops), count=len(crops))
    return np.concatenate(out)


def score(probs: np.ndarray, records: list[FaceSample], temperature: float) -> tuple[dict, dict]:
    """Metrics of one set of predictions: scalars (accuracy, macro-F1, recall, ECE) and confusion matrices."""
    labels = np.array([r.label for r in records], dtype=np.int64)
    domains = torch.tensor([DOMAINS.index(r.domain) for r in records])
    metrics = FERMetrics()
    metrics.update(torch.from_numpy(probs), torch.from_numpy(labels), domains)
    scalars, confusions = metrics.compute()
    # precision per class: of the faces called <label>, the share that are (e.g. how far "neutral" can be trusted)
    matrix = confusions[ALL].numpy()  # rows: true labels, columns: predicted
    for i, label in enumerate(LABELS):
        called = matrix[:, i].sum()
        scalars[f"precision/{label}"] = float(matrix[i, i] / called) if called else float("nan")
    # probs = softmax(logits / T), so softmax(T * log probs) gives back the uncalibrated probabilities
    raw = softmax(temperature * np.log(np.clip(probs, 1e-12, None)))
    scalars["ece"] = expected_calibration_error(probs, labels)
    scalars["ece_uncalibrated"] = expected_calibration_error(raw, labels)
    scalars["images"] = len(records)
    return scalars, confusions


def evaluate(cfg: DictConfig) -> dict:
    weights = weights_path(cfg.weights)
    classifier = load_classifier(weights, threads=cfg.threads)
    torch.set_num_threads(cfg.threads)
    tta_flip = RecognizerOptions.tta_flip if cfg.tta_flip is None else cfg.tta_flip  # null: as infer.py does
    datamodule = prepared_data(cfg.data)  # the faces as they are: the predictor sizes them as the weights file says
    if cfg.split is None:  # the test part where the data has one; FER+ copies without FER2013Test have only val
        cfg.split = "test" if datamodule.splits["test"] else "val"
        log.info(
            "split=%s (%s)", cfg.split, "the data's test part" if cfg.split == "test" else "the data has no test part"
        )
    if cfg.split != ALL_SPLITS and cfg.split not in datamodule.splits:
        raise ValueError(f"split={cfg.split!r}: choose train, val, test or all")
    # all: every image of the data config, e.g. a model never trained on these sources (zero-shot)
    records = (
        [r for part in datamodule.splits.values() for r in part]
        if cfg.split == ALL_SPLITS
        else datamodule.splits[cfg.split]
    )
    if not records:
        raise ValueError(
            f"split={cfg.split}: the data config {list(cfg.data.sources.keys())} gives no {cfg.split} "
            "images; choose another split"
        )
    profile = (
        profile_for_model(
            cfg.get("profile"),
            weights.name,
            file_sha256(weights),
            classifier.embedding_size,
            cfg.get("profile_force", False),
        )
        if cfg.get("profile")
        else None
    )
    probs = predict_records(
        Predictor(classifier, tta_flip=tta_flip, profile=profile),
        records,
        datamodule.sources,
        cfg.batch_size,
        progress=cfg.get("progress", True),
    )
    out_dir = Path(cfg.paths.output_dir)
    summary = {
        "weights": str(weights),
        "runtime": classifier.runtime,
        "temperature": classifier.temperature,
        "sources": sorted(datamodule.sources),
        "split": cfg.split,
        "seed": cfg.seed,
        "tta_flip": tta_flip,
        "profile": None if profile is None else profile.describe(),
    }
    summary["metrics"], confusions = score(probs, records, classifier.temperature)
    for group, matrix in confusions.items():
        save_confusion_image(matrix, out_dir / f"confusion_{cfg.split}_{group}.png", title=f"{cfg.split} {group}")
    if cfg.split == "test" and cfg.dedup:
        twinned = contaminated_test_files(audit(datamodule, cfg.near_bits))
        keep = [i for i, r in enumerate(records) if r.key not in twinned]
        summary["metrics_without_train_twins"], _ = score(
            probs[keep], [records[i] for i in keep], classifier.temperature
        )
        summary["test_images_with_train_twins"] = len(records) - len(keep)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return summary


def print_summary(summary: dict) -> None:
    def line(name: str, m: dict) -> str:
        return (
            f"{name}: {m['images']} images  accuracy {100 * m['acc']:.2f} %  macro-F1 {100 * m['f1']:.2f} %  "
            f"ECE {m['ece']:.4f} (uncalibrated {m['ece_uncalibrated']:.4f})"
        )

    print(f"{summary['weights']} ({summary['runtime']}) on {'+'.join(summary['sources'])} {summary['split']}")
    print(line("all", summary["metrics"]))
    for domain in DOMAINS:
        if f"{domain}/acc" in summary["metrics"]:
            m = summary["metrics"]
            print(f"  {domain}: accuracy {100 * m[f'{domain}/acc']:.2f} %  macro-F1 {100 * m[f'{domain}/f1']:.2f} %")
    if "metrics_without_train_twins" in summary:
        print(
            line(
                f"without the {summary['test_images_with_train_twins']} test images with a twin in train/val",
                summary["metrics_without_train_twins"],
            )
        )


def run(cfg: DictConfig) -> None:
    """`fer evaluate`'s task (fer/commands/evaluate.py runs it on conf/evaluate.yaml)."""
    tidy_console(verbose=bool(cfg.get("verbose")))
    try:
        summary = evaluate(cfg)
    except (FileNotFoundError, ValueError) as err:  # user errors: one line, traceback with HYDRA_FULL_ERROR=1
        report_and_exit(err, code=1, prefix="fer evaluate")
    print_summary(summary)
    print(f"wrote {Path(cfg.paths.output_dir) / 'summary.json'}")
