"""Evaluation metrics, overall and per domain: accuracy, macro-F1, per-class recall, confusion matrix."""

import torch
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassRecall,
)

from fer.data.sample import DOMAINS
from fer.labels import LABELS, NUM_CLASSES

ALL = "all"


def _collection() -> MetricCollection:
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(NUM_CLASSES, average="micro"),
            # Classes absent from both targets and predictions (CK+48 has no neutral) are left out of
            # the macro average by torchmetrics, so they do not drag it down.
            "f1": MulticlassF1Score(NUM_CLASSES, average="macro"),
            "recall": MulticlassRecall(NUM_CLASSES, average=None),
            "confusion": MulticlassConfusionMatrix(NUM_CLASSES),
        }
    )


class FERMetrics(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.groups = nn.ModuleDict({name: _collection() for name in (ALL, *DOMAINS)})
        self.register_buffer("seen", torch.zeros(len(DOMAINS) + 1, dtype=torch.long), persistent=False)

    def update(self, logits: torch.Tensor, target: torch.Tensor, domain: torch.Tensor) -> None:
        preds = logits.argmax(dim=1)
        self.groups[ALL].update(preds, target)
        self.seen[0] += len(target)
        for i, name in enumerate(DOMAINS):
            mask = domain == i
            if mask.any():
                self.groups[name].update(preds[mask], target[mask])
                self.seen[i + 1] += int(mask.sum())

    def compute(self) -> tuple[dict[str, float], dict[str, torch.Tensor]]:
        """Scalars keyed like `acc`, `human/f1`, `recall/anger`; and confusion matrices per group."""
        seen = self._seen_everywhere()
        scalars, confusions = {}, {}
        for i, name in enumerate((ALL, *DOMAINS)):
            # Domains are reported even when only one is present, so that human accuracy can be
            # compared between human-only and human + animated runs under the same key.
            if seen[i] == 0:
                continue
            values = self.groups[name].compute()
            prefix = "" if name == ALL else f"{name}/"
            scalars[f"{prefix}acc"] = float(values["acc"])
            scalars[f"{prefix}f1"] = float(values["f1"])
            for label, recall in zip(LABELS, values["recall"].tolist()):
                scalars[f"{prefix}recall/{label}"] = recall
            confusions[name] = values["confusion"].cpu()
        return scalars, confusions

    def _seen_everywhere(self) -> list[int]:
        seen = self.seen.clone()
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(seen)
        return seen.tolist()

    def reset(self) -> None:
        for group in self.groups.values():
            group.reset()
        self.seen.zero_()
