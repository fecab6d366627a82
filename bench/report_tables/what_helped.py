"""What helped: what each technique changed, as differences between rows measured in the other tables."""

from .cross_validation import cv_mean
from .evaluations import EVALUATIONS, Evaluation
from .previous import KEPT, previous_number, previous_rows
from .selection import chosen_selection
from .v2_candidates import FERPLUS as V2_FERPLUS
from .v2_candidates import POSED as V2_POSED
from .v2_table import v2_differences
from .v3_candidates import FERPLUS, POSED, POSED_ALL, V3_RUNS

# (accuracy as a fraction or None, whether it comes from the previous report)
Side = tuple[float | None, bool]
NOT_MEASURED: Side = (None, False)
# evaluation rows by their place in EVALUATIONS
SHIPPED, ONE_PASS, STAGE1, STAGE2, STAGE1_MIX, SHIPPED_FERPLUS, FLOAT_FERPLUS = (EVALUATIONS[i][0] for i in (0, 1, 3, 4, 5, 6, 7))


def techniques_table(evaluations: list[Evaluation], v2: dict[str, dict] | None = None,
                     v3: dict[str, dict] | None = None) -> list[str]:
    """What each technique changed, as differences between rows measured above (percentage points).

    A difference between two kept rows is kept as it was (it was computed before rounding); one with a
    single kept side is computed from the kept row's printed figure and marked kept too.
    """
    accuracy = evaluated_accuracies(evaluations)

    def evaluated(technique: str, a: str, b: str) -> tuple:
        return technique, a, b, (accuracy.get(a, NOT_MEASURED), accuracy.get(b, NOT_MEASURED))

    def swept(technique: str, a: str, b: str) -> tuple:
        return technique, a, b, (cv_mean(a), cv_mean(b))

    pretrained = chosen_selection()[0]
    comparisons = [
        evaluated("Mixup + CutMix in FER2013 training (stage 1, same 24 epochs)", STAGE1, STAGE1_MIX),
        evaluated("Fine-tuning on FER2013 + CK+48 + JAFFE after FER2013 training", STAGE1, STAGE2),
        swept("FER2013 pre-training for the posed sets (10-fold CV, mean)", "human_cv", pretrained),
        swept("Adding the synthetic animated domain (10-fold CV, mean)", pretrained, "human_synthetic_cv_pretrained"),
        swept("Mixup + CutMix while fine-tuning on the posed sets (10-fold CV, mean)", "cv_select_base", "cv_select_mix10"),
        swept("No label smoothing while fine-tuning on the posed sets (10-fold CV, mean)", "cv_select_base",
              "cv_select_nols"),
        swept("Class-weighted loss while fine-tuning on the posed sets (10-fold CV, mean)", "cv_select_unweighted",
              "cv_select_base"),
        evaluated("Test-time flip (infer.py's default)", ONE_PASS, SHIPPED),
        evaluated("int8 quantisation of the shipped model (speed; accuracy cost), FER+ Valid", FLOAT_FERPLUS,
                  SHIPPED_FERPLUS),
        *v2_comparisons(v2),
        *v3_comparisons(v3 or {}, v2 or {}),
    ]
    return ["| technique | baseline row | with it | accuracy change (points) |", "|---|---|---|---:|",
            *(technique_row(*comparison) for comparison in comparisons)]


def evaluated_accuracies(evaluations: list[Evaluation]) -> dict[str, Side]:
    """Each evaluation row's accuracy: measured here, or the previous report's where its weights are absent."""
    return {what: (s["metrics"]["acc"], False) if s else (previous_number(what, 2), True) for what, _, s in evaluations}


def v2_comparisons(v2: dict[str, dict] | None) -> list[tuple]:
    """The v2 table's differences, as a baseline of 0 and the difference (both in fractions)."""
    if not v2:
        return []
    return [(technique, a, b, ((0.0, a_kept), (None if delta is None else delta / 100, b_kept)))
            for technique, a, b, delta, a_kept, b_kept in v2_differences(v2)]


# v3 runs by their place in V3_RUNS
(ZERO_SHOT_CNN, MF_V1, MF_V1_ALONE, MF_V2, MF_V2_ALONE, MF_RANDOM_ALONE, TAUGHT_CNN, TAUGHT_CNN_ALONE,
 MF_V2_RANDOM_ALONE, ENSEMBLE, ENSEMBLE_ALONE) = (V3_RUNS[i][0] for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11))
CANDIDATE_A = "A: FER+ votes + posed training folds, from scratch, 8 epochs"  # of the v2 table
V3_COMPARISONS = [
    # (technique, baseline run, run with it, column): runs of the v3 table
    ("Face-recognition pretraining instead of random weights (MobileFace V1, FER+ alone, 8 epochs), FER+ Valid",
     MF_RANDOM_ALONE, MF_V1_ALONE, FERPLUS),
    ("Face-recognition pretraining instead of random weights (MobileFace V1, FER+ alone, 8 epochs), zero-shot posed",
     MF_RANDOM_ALONE, MF_V1_ALONE, POSED_ALL),
    ("Pretrained MobileFace V1 instead of the compact CNN from scratch (FER+ alone, 8 epochs), zero-shot posed",
     ZERO_SHOT_CNN, MF_V1_ALONE, POSED_ALL),
    ("MobileFace V2 (112 px, 3 channels) instead of V1 (100 px grey), FER+ alone, FER+ Valid", MF_V1_ALONE, MF_V2_ALONE,
     FERPLUS),
    ("MobileFace V2 (112 px, 3 channels) instead of V1 (100 px grey), FER+ alone, zero-shot posed", MF_V1_ALONE,
     MF_V2_ALONE, POSED_ALL),
    ("Face-recognition pretraining instead of random weights (MobileFace V2, FER+ alone, 8 epochs), zero-shot posed",
     MF_V2_RANDOM_ALONE, MF_V2_ALONE, POSED_ALL),
    ("A MobileFace V1 teacher for the compact CNN (model.distill; FER+ alone, 8 epochs), zero-shot posed",
     ZERO_SHOT_CNN, TAUGHT_CNN_ALONE, POSED_ALL),
    ("MobileFace V2 instead of V1, FER+ + posed folds, FER+ Valid", MF_V1, MF_V2, FERPLUS),
    ("MobileFace V2 instead of V1, FER+ + posed folds, posed held-out", MF_V1, MF_V2, POSED),
    ("An ensemble of MobileFace V1 and V2 instead of V1 alone, FER+ + posed folds, FER+ Valid", MF_V1, ENSEMBLE, FERPLUS),
    ("An ensemble of MobileFace V1 and V2 instead of V1 alone, FER+ + posed folds, posed held-out", MF_V1, ENSEMBLE,
     POSED),
    ("An ensemble of MobileFace V1 and V2 instead of V1 alone, FER+ alone, zero-shot posed", MF_V1_ALONE,
     ENSEMBLE_ALONE, POSED_ALL),
]


def v3_comparisons(v3: dict[str, dict], v2: dict[str, dict]) -> list[tuple]:
    """The v3 runs' differences, and the teacher's: candidate A (v2 table) against the same recipe taught by
    the fine-tuned MobileFace V1 (model.distill)."""
    rows = [(technique, a.split(",")[0], b.split(",")[0], (_v3_side(v3, a, column), _v3_side(v3, b, column)))
            for technique, a, b, column in V3_COMPARISONS]
    for label, v2_column, v3_column in (("FER+ Valid", V2_FERPLUS, FERPLUS), ("posed held-out", V2_POSED, POSED)):
        rows.append((f"A MobileFace V1 teacher for the compact CNN (model.distill; A to the taught CNN, both 8 epochs), "
                     f"{label}", "A", "taught compact CNN",
                     (_side(v2.get(CANDIDATE_A), v2_column), _v3_side(v3, TAUGHT_CNN, v3_column))))
    return rows


def _v3_side(v3: dict[str, dict], run: str, column: int) -> Side:
    return _side(v3.get(run), column)


def _side(result: dict | None, column: int) -> Side:
    """A figure of a v2 or v3 row (in %) as a fraction, and whether it is kept; (None, True) where missing."""
    if not result or not result["figures"] or result["figures"][column] is None:
        return None, True
    return result["figures"][column] / 100, result["kept"]


def technique_row(technique: str, a: str, b: str, sides: tuple[Side, Side]) -> str:
    (x, x_kept), (y, y_kept) = sides
    if x_kept and y_kept and technique in previous_rows():
        return previous_rows()[technique]
    name = technique + (KEPT if x_kept or y_kept else "")
    delta = "not measured" if x is None or y is None else f"{100 * (y - x):+.2f}"
    return f"| {name} | {a} | {b} | {delta} |"
