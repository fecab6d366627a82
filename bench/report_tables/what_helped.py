"""What helped: what each technique changed, as differences between rows measured in the other tables."""

from .cross_validation import cv_mean
from .evaluations import EVALUATIONS, Evaluation
from .previous import KEPT, previous_number, previous_rows
from .selection import chosen_selection
from .v2_table import v2_differences

# (accuracy as a fraction or None, whether it comes from the previous report)
Side = tuple[float | None, bool]
NOT_MEASURED: Side = (None, False)
# evaluation rows by their place in EVALUATIONS
SHIPPED, ONE_PASS, STAGE1, STAGE2, STAGE1_MIX, SHIPPED_FERPLUS, FLOAT_FERPLUS = (EVALUATIONS[i][0] for i in (0, 1, 3, 4, 5, 6, 7))


def techniques_table(evaluations: list[Evaluation], v2: dict[str, dict] | None = None) -> list[str]:
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
        # implemented and tested (model.distill; the ensemble teacher of C and E is measured in the v2 rows above),
        # but a teacher larger than the compact CNN takes hours to train on 2 CPU cores (resnet18: ~8 min
        # a FER2013 epoch); it waits for a GPU
        ("Knowledge distillation from a larger teacher (model.distill)", "–", "–", (NOT_MEASURED, NOT_MEASURED)),
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


def technique_row(technique: str, a: str, b: str, sides: tuple[Side, Side]) -> str:
    (x, x_kept), (y, y_kept) = sides
    if x_kept and y_kept and technique in previous_rows():
        return previous_rows()[technique]
    name = technique + (KEPT if x_kept or y_kept else "")
    delta = "not measured" if x is None or y is None else f"{100 * (y - x):+.2f}"
    return f"| {name} | {a} | {b} | {delta} |"
