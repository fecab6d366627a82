"""Default model: the shipped model and the training stages, evaluated here and now by fer.evaluate."""

from pathlib import Path

from .cells import pct
from .commands import evaluate
from .previous import previous_rows

STAGE1 = "logs/fer2013_pretrain/final"
STAGE2 = "logs/default_model/final"
STAGE1_MIX = "logs/fer2013_pretrain_mix/final"
V3_RUN = "logs/ferplus_mobileface/final"  # the run whose int8 export is shipped (v3: MobileFace V1 fine-tuned)
EVALUATIONS = [
    # (what, arguments of python -m fer.evaluate)
    ("Shipped model, FER2013 PublicTest", ["data=fer2013"]),
    ("Shipped model, FER2013 PublicTest, one pass (no test-time flip)", ["data=fer2013", "tta_flip=false"]),
    ("Shipped model, CK+48 + JAFFE held-out subjects (fold 0)", ["data=human"]),
    ("Stage 1 only (FER2013 training), float32", ["data=fer2013", f"weights={STAGE1}/model.onnx"]),
    ("Stage 2 (+ CK+48 + JAFFE fine-tuning), float32", ["data=fer2013", f"weights={STAGE2}/model.onnx"]),
    ("Stage 1 trained with mixup + CutMix, float32", ["data=fer2013", f"weights={STAGE1_MIX}/model.onnx"]),
    # FER+ (majority labels of ten annotators) on its Valid part = the FER2013 PublicTest faces
    ("Shipped model, FER+ Valid (majority labels)", ["data=ferplus"]),
    ("Shipped model's float32 export (v3 run), FER+ Valid", ["data=ferplus", f"weights={V3_RUN}/model.onnx"]),
]
# (what, its fer.evaluate arguments, its summary or None where its weights are not in this checkout)
Evaluation = tuple[str, list[str], dict | None]


def evaluate_all(work: Path) -> list[Evaluation]:
    """Every row of EVALUATIONS, in order; the i-th writes to work/eval<i>."""
    evaluations = []
    for i, (what, args) in enumerate(EVALUATIONS):
        print(f"evaluate: {what}")
        evaluations.append((what, args, evaluate(args, work / f"eval{i}")))
    return evaluations


def evaluation_table(rows: list[Evaluation]) -> list[str]:
    lines = ["| model and test set | images | accuracy % | macro-F1 % | accuracy % without train twins | ECE raw → calibrated | command |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for what, args, summary in rows:
        if summary is None:  # weights absent here: keep the earlier measurement, if there was one
            lines += [previous_rows()[what]] if what in previous_rows() else []
            continue
        lines.append(evaluation_row(what, args, summary))
    return lines


def evaluation_row(what: str, args: list[str], summary: dict) -> str:
    m = summary["metrics"]
    dedup = summary.get("metrics_without_train_twins")
    dedup_cell = f"{pct(dedup['acc'])} ({dedup['images']} images)" if dedup else "–"
    return (f"| {what} | {m['images']} | {pct(m['acc'])} | {pct(m['f1'])} | {dedup_cell} | "
            f"{m['ece_uncalibrated']:.3f} → {m['ece']:.3f} | `python -m fer.evaluate {' '.join(args)}` |")


def recall_table(summary: dict) -> list[str]:
    m = summary["metrics"]
    labels = [k.split("/", 1)[1] for k in m if k.startswith("recall/")]
    return [f"| {' | '.join(labels)} |", f"|{'---:|' * len(labels)}",
            f"| {' | '.join(pct(m['recall/' + label]) for label in labels)} |"]
