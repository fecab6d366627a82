"""Cross-validation on the posed human sets: 10 subject-independent folds of CK+48 + JAFFE per protocol."""

import statistics

from .cells import mean_std
from .folds import fold_results, human_test_acc
from .previous import previous_number, previous_rows
from .selection import SELECTIONS, chosen_selection

CROSS_VALIDATIONS = [
    # (what, task name, sweep command)
    ("Human only, from scratch", "human_cv", "python train.py -m experiment=human_cv 'data.fold=range(10)'"),
    # the pre-trained row is the fine-tuning candidate chosen on validation (selection.SELECTIONS), whose
    # settings conf/experiment/human_cv_pretrained.yaml encodes
    ("Human only, FER2013 pre-trained", "human_cv_pretrained", None),
    ("Human + synthetic animated, FER2013 pre-trained", "human_synthetic_cv_pretrained",
     "python train.py -m experiment=human_synthetic_cv_pretrained 'data.fold=range(10)'"),
]


def cross_validations() -> list[tuple[str, str, str]]:
    """CROSS_VALIDATIONS with the chosen fine-tuning candidate's task and command in the pre-trained row."""
    chosen_task, chosen_command = chosen_selection()
    return [(what, task, command) if command else (what, chosen_task, chosen_command)
            for what, task, command in CROSS_VALIDATIONS]


def cv_table() -> list[str]:
    lines = ["| protocol (10 subject-independent folds of CK+48 + JAFFE) | folds run | human test accuracy % (mean ± std) | "
             "macro-F1 % | per-fold accuracy % | command |", "|---|---:|---:|---:|---|---|"]
    for what, task, command in cross_validations():
        folds = fold_results(task)
        if not folds:
            lines.append(previous_rows().get(what, f"| {what} | 0 | not run yet | | | `{command}` |"))
            continue
        acc = [human_test_acc(folds[f]) for f in sorted(folds)]
        f1 = [folds[f].get("test/human/f1", folds[f]["test/f1"]) for f in sorted(folds)]
        lines.append(f"| {what} | {len(folds)} | {mean_std(acc)} | {mean_std(f1)} | "
                     f"{', '.join(f'{100 * a:.1f}' for a in acc)} | `{command}` |")
    return lines


def cv_mean(task: str) -> tuple[float | None, bool]:
    """(mean human test accuracy of a sweep, whether it comes from the previous report)."""
    folds = fold_results(task)
    if folds:
        return statistics.mean(map(human_test_acc, folds.values())), False
    # not run here: the mean printed in the previous report's row for this task, in either table
    names = [what for what, t, _ in SELECTIONS if t == task] + [what for what, t, _ in cross_validations() if t == task]
    return next((m for m in (previous_number(n, 2) for n in names) if m is not None), None), True
