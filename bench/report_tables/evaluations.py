"""Default model: the shipped model and the training stages, evaluated by fer.evaluate."""

import shutil
from pathlib import Path

from . import checkout, store
from .cells import kept_mark
from .commands import evaluate

STAGE1 = "logs/fer2013_pretrain/final"
STAGE2 = "logs/default_model/final"
STAGE1_MIX = "logs/fer2013_pretrain_mix/final"
V3_RUN = "logs/ferplus_mobileface/final"  # the run whose int8 export is shipped (v3: MobileFace V1 fine-tuned)
SHIPPED_FILE = "fer/assets/default_model.onnx"
EVALUATIONS = [
    # (row id, what, arguments of fer evaluate)
    ("shipped/fer2013", "Shipped model, FER2013 PublicTest", ["data=fer2013"]),
    (
        "shipped/fer2013_one_pass",
        "Shipped model, FER2013 PublicTest, one pass (no test-time flip)",
        ["data=fer2013", "tta_flip=false"],
    ),
    ("shipped/posed", "Shipped model, CK+48 + JAFFE held-out subjects (fold 0)", ["data=human"]),
    ("stage1/fer2013", "Stage 1 only (FER2013 training), float32", ["data=fer2013", f"weights={STAGE1}/model.onnx"]),
    (
        "stage2/fer2013",
        "Stage 2 (+ CK+48 + JAFFE fine-tuning), float32",
        ["data=fer2013", f"weights={STAGE2}/model.onnx"],
    ),
    (
        "stage1_mix/fer2013",
        "Stage 1 trained with mixup + CutMix, float32",
        ["data=fer2013", f"weights={STAGE1_MIX}/model.onnx"],
    ),
    # FER+ (majority labels of ten annotators) on its Valid part = the FER2013 PublicTest faces
    ("shipped/ferplus", "Shipped model, FER+ Valid (majority labels)", ["data=ferplus"]),
    (
        "v3_float32/ferplus",
        "Shipped model's float32 export (v3 run), FER+ Valid",
        ["data=ferplus", f"weights={V3_RUN}/model.onnx"],
    ),
]
LABELS = {row_id: what for row_id, what, _ in EVALUATIONS}
SHIPPED = "shipped/fer2013"  # its temperature, per-class recall and confusion matrix are shown


def measure_evaluations(results: store.Results, work: Path, stamp: store.Stamp) -> None:
    """Store every row of EVALUATIONS whose weights are in this checkout; the i-th evaluates into work/eval<i>."""
    for i, (row_id, what, args) in enumerate(EVALUATIONS):
        print(f"evaluate: {what}")
        summary = evaluate(args, work / f"eval{i}")
        if summary is None:
            store.keep(results, row_id)
            continue
        weights = next((a.split("=", 1)[1] for a in args if a.startswith("weights=")), SHIPPED_FILE)
        store.record(
            results,
            row_id,
            figures(summary, checkout.ROOT / weights),
            f"fer evaluate {' '.join(args)}",
            stamp,
        )
        if row_id == SHIPPED:
            shutil.copy(
                work / f"eval{i}" / "confusion_test_all.png",
                checkout.docs_folder() / "confusion_fer2013_publictest.png",
            )


def figures(summary: dict, weights: Path) -> dict:
    m = summary["metrics"]
    dedup = summary.get("metrics_without_train_twins")
    recall = {key: 100 * value for key, value in m.items() if key.startswith("recall/")}
    return {
        "images": m["images"],
        "accuracy": 100 * m["acc"],
        "macro_f1": 100 * m["f1"],
        "accuracy_without_train_twins": dedup and 100 * dedup["acc"],
        "images_without_train_twins": dedup and dedup["images"],
        "ece_raw": m["ece_uncalibrated"],
        "ece": m["ece"],
        "temperature": summary["temperature"],
        "file_mb": weights.stat().st_size / 1e6,
        **recall,
    }


def evaluation_table(results: store.Results) -> list[str]:
    lines = [
        "| model and test set | images | accuracy % | macro-F1 % | accuracy % without train twins | "
        "ECE raw → calibrated | command |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row_id, what, _ in EVALUATIONS:
        row = store.row(results, row_id)
        if row is None:  # never measured: no row
            continue
        m = row["metrics"]
        dedup = (
            "–"
            if m["accuracy_without_train_twins"] is None
            else f"{m['accuracy_without_train_twins']:.2f} ({m['images_without_train_twins']} images)"
        )
        lines.append(
            f"| {what}{kept_mark(row['kept'])} | {m['images']} | {m['accuracy']:.2f} | {m['macro_f1']:.2f} | "
            f"{dedup} | {m['ece_raw']:.3f} → {m['ece']:.3f} | `{row['command']}` |"
        )
    return lines


def recall_table(results: store.Results) -> list[str]:
    m = store.row(results, SHIPPED)["metrics"]
    labels = [key.split("/", 1)[1] for key in m if key.startswith("recall/")]
    return [
        f"| {' | '.join(labels)} |",
        f"|{'---:|' * len(labels)}",
        "| " + " | ".join(f"{m['recall/' + label]:.2f}" for label in labels) + " |",
    ]
