"""Cross-validation on the posed human sets (10 subject-independent folds of CK+48 + JAFFE per protocol), and
the fine-tuning settings for human_cv_pretrained compared on the validation folds (each run's final epoch; no
checkpoint is picked on them): the best mean validation accuracy is what the experiment encodes.

Measured from the fold runs of each sweep under logs/<task>/multiruns/ (the newest run of each fold)."""

import functools
import json
import statistics
from pathlib import Path

import yaml

from . import checkout, store
from .cells import CHOSEN, kept_mark, mean_std

SELECTION_SWEEP = "python train.py -m experiment=human_cv_pretrained 'data.fold=range(10)' export_formats=[]"
SELECTIONS = [
    # (settings, task name, overrides of the experiment as it now stands)
    ("10 epochs, class-weighted loss", "cv_select_base", "model.class_weighted_loss=true"),
    (
        "10 epochs, class-weighted loss, mixup 0.2 / cutmix 1.0 on half the batches",
        "cv_select_mix10",
        "model.class_weighted_loss=true model.mixing.mixup_alpha=0.2 model.mixing.cutmix_alpha=1.0 "
        "model.mixing.prob=0.5",
    ),
    (
        "10 epochs, class-weighted loss, no label smoothing",
        "cv_select_nols",
        "model.class_weighted_loss=true model.label_smoothing=0.0",
    ),
    ("10 epochs, unweighted loss", "cv_select_unweighted", ""),
]
# the experiment as it stands, for a checkout where no candidate has all its folds
DEFAULT_CHOICE = ("human_cv_pretrained", "python train.py -m experiment=human_cv_pretrained 'data.fold=range(10)'")
CROSS_VALIDATIONS = [
    # (what, task name, sweep command)
    ("Human only, from scratch", "human_cv", "python train.py -m experiment=human_cv 'data.fold=range(10)'"),
    # the pre-trained row is the fine-tuning candidate chosen on validation (SELECTIONS), whose settings
    # conf/experiment/human_cv_pretrained.yaml encodes
    ("Human only, FER2013 pre-trained", None, None),
    (
        "Human + synthetic animated, FER2013 pre-trained",
        "human_synthetic_cv_pretrained",
        "python train.py -m experiment=human_synthetic_cv_pretrained 'data.fold=range(10)'",
    ),
]


def selection_command(task: str, overrides: str) -> str:
    return f"{SELECTION_SWEEP} task_name={task} {overrides}".strip()


def sweeps() -> list[tuple[str, str]]:
    """(task, command) of every sweep a table may show."""
    return (
        [(task, command) for _, task, command in CROSS_VALIDATIONS if task]
        + [DEFAULT_CHOICE]
        + [(task, selection_command(task, overrides)) for _, task, overrides in SELECTIONS]
    )


def measure_cross_validation(results: store.Results, stamp: store.Stamp) -> None:
    """Store the folds of every sweep found under logs/; a sweep not found keeps its stored figures."""
    for task, command in sweeps():
        folds = [f for _, f in sorted(fold_results(task).items())]
        if not folds:
            store.keep(results, f"cv/{task}")
            continue
        acc = [100 * human_test_acc(f) for f in folds]
        f1 = [100 * f.get("test/human/f1", f["test/f1"]) for f in folds]
        val = statistics.mean(100 * f["val/acc"] for f in folds) if len(folds) == 10 else None
        store.record(
            results,
            f"cv/{task}",
            {
                "folds": len(folds),
                "test_accuracy_mean": statistics.mean(acc),
                "test_accuracy_std": _stdev(acc),
                "test_macro_f1_mean": statistics.mean(f1),
                "test_macro_f1_std": _stdev(f1),
                "test_accuracy_per_fold": acc,
                "validation_accuracy_mean": val,
            },
            command,
            stamp,
        )


def _stdev(values: list[float]) -> float | None:
    return statistics.stdev(values) if len(values) > 1 else None


def fold_results(task: str) -> dict[int, dict]:
    """Validation (last epoch) and test metrics per fold of every sweep of `task` (the newest run of each fold)."""
    return _fold_results(checkout.ROOT / "logs" / task / "multiruns")


@functools.cache  # read each sweep once
def _fold_results(multiruns: Path) -> dict[int, dict]:
    folds = {}
    for metrics in sorted(multiruns.glob("*/*/metrics.json"), key=lambda p: p.stat().st_mtime):
        overrides = yaml.safe_load((metrics.parent / ".hydra" / "overrides.yaml").read_text())
        fold = next((int(o.split("=")[1]) for o in overrides if o.startswith("data.fold=")), 0)
        runs = json.loads(metrics.read_text())
        if runs.get("test"):
            folds[fold] = {**runs.get("val", {}), **runs["test"]}
    return folds


def human_test_acc(fold: dict) -> float:
    """A fold's accuracy on its human test faces (the whole test split when it holds only human faces)."""
    return fold.get("test/human/acc", fold["test/acc"])


def chosen_selection(results: store.Results) -> tuple[str, str]:
    """(task, command) of the candidate with the best mean validation accuracy over all ten folds."""
    complete = [
        (m, task, overrides)
        for _, task, overrides in SELECTIONS
        if (m := store.figure(results, f"cv/{task}", "validation_accuracy_mean")[0]) is not None
    ]
    if not complete:
        return DEFAULT_CHOICE
    _, task, overrides = max(complete)
    return task, selection_command(task, overrides)


def cross_validations(results: store.Results) -> list[tuple[str, str, str]]:
    """CROSS_VALIDATIONS with the chosen fine-tuning candidate's task and command in the pre-trained row."""
    chosen = chosen_selection(results)
    return [(what, task, command) if task else (what, *chosen) for what, task, command in CROSS_VALIDATIONS]


def cv_table(results: store.Results) -> list[str]:
    lines = [
        "| protocol (10 subject-independent folds of CK+48 + JAFFE) | folds run | human test accuracy % (mean ± std) | "
        "macro-F1 % | per-fold accuracy % | command |",
        "|---|---:|---:|---:|---|---|",
    ]
    for what, task, command in cross_validations(results):
        row = store.row(results, f"cv/{task}")
        if row is None:
            lines.append(f"| {what} | 0 | not run yet | | | `{command}` |")
            continue
        m = row["metrics"]
        per_fold = ", ".join(f"{a:.1f}" for a in m.get("test_accuracy_per_fold", [])) or "–"
        lines.append(
            f"| {what}{kept_mark(row['kept'])} | {m['folds']} | "
            f"{mean_std(m['test_accuracy_mean'], m['test_accuracy_std'])} | "
            f"{mean_std(m.get('test_macro_f1_mean'), m.get('test_macro_f1_std'))} | {per_fold} | "
            f"`{row['command']}` |"
        )
    return lines


def selection_table(results: store.Results) -> list[str]:
    lines = [
        "| fine-tuning settings (FER2013 pre-trained, 10 folds) | validation accuracy % (mean, last epoch) | "
        "test accuracy % (mean ± std) | command |",
        "|---|---:|---:|---|",
    ]
    chosen, _ = chosen_selection(results)
    for what, task, overrides in SELECTIONS:
        row = store.row(results, f"cv/{task}")
        val = row and row["metrics"]["validation_accuracy_mean"]
        if val is None:
            folds = row["metrics"]["folds"] if row else 0
            lines.append(f"| {what} | {folds} folds run | | `{selection_command(task, overrides)}` |")
            continue
        m = row["metrics"]
        mark = (CHOSEN if task == chosen else "") + kept_mark(row["kept"])
        lines.append(
            f"| {what}{mark} | {val:.1f} | {mean_std(m['test_accuracy_mean'], m['test_accuracy_std'])} | "
            f"`{row['command']}` |"
        )
    return lines
