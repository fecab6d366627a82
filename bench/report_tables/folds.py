"""The fold runs of the cross-validation sweeps under logs/<task>/multiruns/, the newest run of each fold."""

import functools
import json
from pathlib import Path

import yaml

from . import checkout


def fold_results(task: str) -> dict[int, dict]:
    """Validation (last epoch) and test metrics per fold of every sweep of `task`, the newest run of each fold winning."""
    return _fold_results(checkout.ROOT / "logs" / task / "multiruns")


@functools.lru_cache(maxsize=None)  # the tables ask for the same sweeps several times; read each once
def _fold_results(multiruns: Path) -> dict[int, dict]:
    folds = {}
    for metrics in sorted(multiruns.glob("*/*/metrics.json"), key=lambda p: p.stat().st_mtime):
        overrides = yaml.safe_load((metrics.parent / ".hydra" / "overrides.yaml").read_text())
        fold = next((int(o.split("=")[1]) for o in overrides if o.startswith("data.fold=")), 0)
        results = json.loads(metrics.read_text())
        if results.get("test"):
            folds[fold] = {**results.get("val", {}), **results["test"]}
    return folds


def human_test_acc(fold: dict) -> float:
    """A fold's accuracy on its human test faces (the whole test split when it holds only human faces)."""
    return fold.get("test/human/acc", fold["test/acc"])
