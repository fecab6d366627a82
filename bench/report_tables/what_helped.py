"""What helped: what each technique changed, as the difference between two rows of the other tables.

A difference is stored as a row of its own (`helped/...`), computed from the two rows' figures as measured
(unrounded) and dated with the later of them; where both rows are kept, the stored difference stays as it was.
"""

from . import store
from .candidates import VERSIONS
from .cells import kept_mark
from .cross_validation import chosen_selection
from .evaluations import LABELS

CV_CHOSEN = "cv/<chosen>"  # the fine-tuning candidate chosen on validation (cross_validation.chosen_selection)
ACC, CV_ACC = "accuracy", "test_accuracy_mean"  # of an evaluation, of a sweep (mean over its folds)
FERPLUS, FER2013, POSED, ZERO_SHOT = "ferplus_accuracy", "fer2013_accuracy", "posed_accuracy", "posed_all_accuracy"
# a run's metric as a technique's row names it (an evaluation's or a sweep's accuracy goes unnamed)
METRIC_NAMES = {
    FERPLUS: "FER+ Valid",
    FER2013: "FER2013 PublicTest original labels",
    POSED: "posed held-out",
    ZERO_SHOT: "zero-shot posed",
}
TEACHER = ("A", "taught compact CNN")
TECHNIQUES = [
    # (id, technique, baseline row, row with it, the metrics compared (a table row and a stored row
    # helped/<id>/<metric> each)[, the two rows' names in the table])
    (
        "stage1_mix",
        "Mixup + CutMix in FER2013 training (stage 1, same 24 epochs)",
        "stage1/fer2013",
        "stage1_mix/fer2013",
        [ACC],
    ),
    (
        "stage2",
        "Fine-tuning on FER2013 + CK+48 + JAFFE after FER2013 training",
        "stage1/fer2013",
        "stage2/fer2013",
        [ACC],
    ),
    (
        "cv_pretraining",
        "FER2013 pre-training for the posed sets (10-fold CV, mean)",
        "cv/human_cv",
        CV_CHOSEN,
        [CV_ACC],
    ),
    (
        "cv_synthetic",
        "Adding the synthetic animated domain (10-fold CV, mean)",
        CV_CHOSEN,
        "cv/human_synthetic_cv_pretrained",
        [CV_ACC],
    ),
    (
        "cv_mixup",
        "Mixup + CutMix while fine-tuning on the posed sets (10-fold CV, mean)",
        "cv/cv_select_base",
        "cv/cv_select_mix10",
        [CV_ACC],
    ),
    (
        "cv_no_label_smoothing",
        "No label smoothing while fine-tuning on the posed sets (10-fold CV, mean)",
        "cv/cv_select_base",
        "cv/cv_select_nols",
        [CV_ACC],
    ),
    (
        "cv_class_weights",
        "Class-weighted loss while fine-tuning on the posed sets (10-fold CV, mean)",
        "cv/cv_select_unweighted",
        "cv/cv_select_base",
        [CV_ACC],
    ),
    ("flip", "Test-time flip (infer.py's default)", "shipped/fer2013_one_pass", "shipped/fer2013", [ACC]),
    (
        "int8",
        "int8 quantisation of the shipped model (speed; accuracy cost), FER+ Valid",
        "v3_float32/ferplus",
        "shipped/ferplus",
        [ACC],
    ),
    ("v2_votes", "FER+ votes instead of FER2013 labels (v1 fine-tuned, B)", "v2/v1", "v2/b", [FERPLUS, FER2013]),
    ("v2_from_v1", "Starting from v1 instead of from scratch (A: 8 epochs, B: 10)", "v2/a", "v2/b", [FERPLUS]),
    ("v2_vote_shares", "Vote shares instead of majority labels (C to B)", "v2/c", "v2/b", [FERPLUS]),
    ("v2_adamw", "AdamW instead of SGD + Nesterov (D to B)", "v2/d", "v2/b", [FERPLUS]),
    ("v2_24_epochs", "24 epochs instead of 10 (B to E)", "v2/b", "v2/e", [FERPLUS, POSED]),
    (
        "v2_distill",
        "Distillation from an ensemble of C and E (B to F, both 10 epochs)",
        "v2/b",
        "v2/f",
        [FERPLUS, POSED],
    ),
    ("v2_refine", "10 more epochs distilled from an ensemble of C, E and F (E to G)", "v2/e", "v2/g", [FERPLUS, POSED]),
    (
        "v2_posed_training",
        "Training on the posed sets' other people instead of zero-shot (Z to A, both 8 epochs from scratch)",
        "v2/z",
        "v2/a",
        [POSED],
    ),
    (
        "v3_pretraining",
        "Face-recognition pretraining instead of random weights (MobileFace V1, FER+ alone, 8 epochs)",
        "v3/mf_v1_random_alone",
        "v3/mf_v1_alone",
        [FERPLUS, ZERO_SHOT],
    ),
    (
        "v3_mobileface",
        "Pretrained MobileFace V1 instead of the compact CNN from scratch (FER+ alone, 8 epochs)",
        "v3/cnn_alone",
        "v3/mf_v1_alone",
        [ZERO_SHOT],
    ),
    (
        "v3_mf_v2_alone",
        "MobileFace V2 (112 px, 3 channels) instead of V1 (100 px grey), FER+ alone",
        "v3/mf_v1_alone",
        "v3/mf_v2_alone",
        [FERPLUS, ZERO_SHOT],
    ),
    (
        "v3_pretraining_v2",
        "Face-recognition pretraining instead of random weights (MobileFace V2, FER+ alone, 8 epochs)",
        "v3/mf_v2_random_alone",
        "v3/mf_v2_alone",
        [ZERO_SHOT],
    ),
    (
        "v3_teacher_alone",
        "A MobileFace V1 teacher for the compact CNN (model.distill; FER+ alone, 8 epochs)",
        "v3/cnn_alone",
        "v3/cnn_taught_alone",
        [ZERO_SHOT],
    ),
    ("v3_mf_v2", "MobileFace V2 instead of V1, FER+ + posed folds", "v3/mf_v1", "v3/mf_v2", [FERPLUS, POSED]),
    (
        "v3_ensemble",
        "An ensemble of MobileFace V1 and V2 instead of V1 alone, FER+ + posed folds",
        "v3/mf_v1",
        "v3/ensemble",
        [FERPLUS, POSED],
    ),
    (
        "v3_ensemble_alone",
        "An ensemble of MobileFace V1 and V2 instead of V1 alone, FER+ alone",
        "v3/mf_v1_alone",
        "v3/ensemble_alone",
        [ZERO_SHOT],
    ),
    (
        "v3_teacher",
        "A MobileFace V1 teacher for the compact CNN (model.distill; A to the taught CNN, both 8 epochs)",
        "v2/a",
        "v3/cnn_taught",
        [FERPLUS, POSED],
        TEACHER,
    ),
]


def comparisons(results: store.Results) -> list[tuple[str, str, str, str, str, tuple[str, str]]]:
    """(row id, technique, baseline row, row with it, metric, the two rows' names) of each row of the table, with
    the chosen fine-tuning candidate in place."""
    chosen = f"cv/{chosen_selection(results)[0]}"
    out = []
    for technique_id, technique, a, b, metrics, *names in TECHNIQUES:
        a, b = (chosen if r == CV_CHOSEN else r for r in (a, b))
        for metric in metrics:
            text = f"{technique}, {METRIC_NAMES[metric]}" if metric in METRIC_NAMES else technique
            out.append(
                (
                    f"helped/{technique_id}/{metric}",
                    text,
                    a,
                    b,
                    metric,
                    names[0] if names else (display_name(a), display_name(b)),
                )
            )
    return out


def display_name(row_id: str) -> str:
    """A row's name in this table: an evaluation's label, a sweep's task, a run's short name."""
    if row_id.startswith("cv/"):
        return row_id.removeprefix("cv/")
    return LABELS.get(row_id) or next(r.short for v in VERSIONS for r in v.runs if r.id == row_id)


def measure_differences(results: store.Results) -> None:
    """Store each difference whose two rows have the figure; dated and placed with the rows it compares."""
    for row_id, _, a, b, metric, _ in comparisons(results):
        (x, x_kept), (y, y_kept) = store.figure(results, a, metric), store.figure(results, b, metric)
        if x is None or y is None or (x_kept and y_kept and store.row(results, row_id)):
            store.keep(results, row_id)
            continue
        rows = store.row(results, a), store.row(results, b)
        machines = dict.fromkeys(r["machine"] for r in rows)  # one, or both in order
        stamp = store.Stamp("; ".join(machines), max(r["date"] for r in rows))
        store.record(
            results,
            row_id,
            {"change": y - x},
            "python bench/report.py",
            stamp,
            kept=x_kept or y_kept,
            compares=[a, b],
            metric=metric,
        )


def techniques_table(results: store.Results) -> list[str]:
    lines = ["| technique | baseline row | with it | accuracy change (points) |", "|---|---|---|---:|"]
    for row_id, technique, _, _, _, (a, b) in comparisons(results):
        row = store.row(results, row_id)
        change = "not measured" if row is None else f"{row['metrics']['change']:+.2f}"
        lines.append(f"| {technique}{kept_mark(bool(row and row['kept']))} | {a} | {b} | {change} |")
    return lines
