"""Fine-tuning settings for human_cv_pretrained, compared on the validation folds (each run's final
epoch; no checkpoint is picked on them); the best mean validation accuracy is what the experiment encodes."""

import statistics

from .cells import mean_std
from .folds import fold_results
from .previous import CHOSEN, previous_rows

SELECTION_SWEEP = "python train.py -m experiment=human_cv_pretrained 'data.fold=range(10)' export_formats=[]"
SELECTIONS = [
    # (settings, task name, overrides of the experiment as it now stands)
    ("10 epochs, class-weighted loss", "cv_select_base", "model.class_weighted_loss=true"),
    ("10 epochs, class-weighted loss, mixup 0.2 / cutmix 1.0 on half the batches", "cv_select_mix10",
     "model.class_weighted_loss=true model.mixing.mixup_alpha=0.2 model.mixing.cutmix_alpha=1.0 model.mixing.prob=0.5"),
    ("10 epochs, class-weighted loss, no label smoothing", "cv_select_nols",
     "model.class_weighted_loss=true model.label_smoothing=0.0"),
    ("10 epochs, unweighted loss", "cv_select_unweighted", ""),
]
# the experiment as it stands, for a checkout where neither the candidates nor a previous choice are found
DEFAULT_CHOICE = ("human_cv_pretrained", "python train.py -m experiment=human_cv_pretrained 'data.fold=range(10)'")


def selection_command(task: str, overrides: str) -> str:
    return f"{SELECTION_SWEEP} task_name={task} {overrides}".strip()


def selection_runs() -> list[tuple[float | None, str, str, list[float], str]]:
    """(mean validation accuracy or None if folds are missing, settings, task, test accuracies, command) per candidate."""
    runs = []
    for what, task, overrides in SELECTIONS:
        folds = [f for _, f in sorted(fold_results(task).items())]
        val = statistics.mean(f["val/acc"] for f in folds) if len(folds) == 10 else None
        runs.append((val, what, task, [f["test/acc"] for f in folds], selection_command(task, overrides)))
    return runs


def chosen_selection() -> tuple[str, str]:
    """(task, command) of the candidate with the best mean validation accuracy."""
    runs = selection_runs()
    complete = [r for r in runs if r[0] is not None]
    if complete:
        _, _, task, _, command = max(complete, key=lambda r: r[0])
        return task, command
    if not any(r[3] for r in runs):  # no candidate run here: the previous report's choice
        for what, task, overrides in SELECTIONS:
            if CHOSEN in previous_rows().get(what, ""):
                return task, selection_command(task, overrides)
    return DEFAULT_CHOICE


def selection_table() -> list[str]:
    lines = ["| fine-tuning settings (FER2013 pre-trained, 10 folds) | validation accuracy % (mean, last epoch) | "
             "test accuracy % (mean ± std) | command |", "|---|---:|---:|---|"]
    chosen, _ = chosen_selection()
    for val, what, task, test, command in selection_runs():
        if not test and what in previous_rows():
            lines.append(previous_rows()[what])
        elif val is None:
            lines.append(f"| {what} | {len(test)} folds run | | `{command}` |")
        else:
            mark = CHOSEN if task == chosen else ""
            lines.append(f"| {what}{mark} | {100 * val:.1f} | {mean_std(test)} | `{command}` |")
    return lines
