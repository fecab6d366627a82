"""The LightningModule: a FERClassifier, its loss and optimiser, and per-domain evaluation."""

import json
import math
from pathlib import Path

import lightning as L
import torch
from torch import nn

from fer.evaluation.metrics import FERMetrics
from fer.evaluation.plots import save_confusion_image
from fer.labels import LABELS
from fer.models.classifier import Architecture, FERClassifier
from fer.models.model_file import Preprocessing, own_state_dict, warm_start
from fer.training.distillation import Teacher
from fer.training.mixing import Mixing

OPTIMIZERS = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}


class FERLitModule(L.LightningModule):
    def __init__(
        self,
        arch: dict,
        image_size: int = 48,
        mean: float = 0.5,
        std: float = 0.5,
        pretrained: bool = False,
        weights: str | None = None,
        optimizer: dict | None = None,
        scheduler: dict | None = None,
        label_smoothing: float = 0.0,
        class_weighted_loss: bool = False,
        tta_flip: bool = False,
        mixing: dict | None = None,
        distill: dict | None = None,
        seed: int = 0,
        channels_last: bool = False,
        compile: bool = False,
        # a model config's choice among a backbone's variants (conf/model/mobileface.yaml: model.variant=v2),
        # which the config interpolates into arch.backbone_kwargs; recorded in hparams, not used here
        variant: str | None = None,
    ) -> None:
        super().__init__()
        # Only plain values go into hparams, so checkpoints load with weights_only=True.
        self.save_hyperparameters()
        self.hparams["labels"] = list(LABELS)
        earlier_run = own_state_dict(weights) if weights else None
        if earlier_run is not None:  # one of our own model files: start from the whole classifier, head included
            self.net = FERClassifier(Architecture(**arch), pretrained=False)
            warm_start(self.net, earlier_run, weights)
        else:
            self.net = FERClassifier(Architecture(**arch), pretrained=pretrained, weights=weights)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.net.to(memory_format=self.memory_format)
        if compile:
            # in place, so state_dict keys (checkpoints, model files, exports) stay those of the plain network
            self.net.compile()
        self.criterion = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.soft_targets = False  # set from the datamodule at fit
        self.mix = Mixing(**(mixing or {}))
        self.teacher = _teacher(distill, Preprocessing(image_size, arch.get("in_chans", 1), mean, std))
        self.val_metrics, self.test_metrics = FERMetrics(), FERMetrics()
        self.last_results: dict[str, dict[str, float]] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.contiguous(memory_format=self.memory_format))

    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        if self.hparams.class_weighted_loss and datamodule is not None and stage == "fit":
            self.criterion = nn.CrossEntropyLoss(
                weight=datamodule.class_weights(), label_smoothing=self.hparams.label_smoothing
            )
        # Soft targets (FER+ vote shares) where the data has them; cross-entropy against a
        # distribution takes label smoothing and class weights the same way as against a label.
        if datamodule is not None and stage == "fit":
            self.soft_targets = bool(getattr(datamodule, "soft_targets", False))

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        # Dropout draws from the global generator, which Lightning and data loaders also draw from
        # (more so in a resumed run). Reseeding per step makes each step's randomness a function of
        # (seed, step, rank) alone, so a resumed run repeats the uninterrupted one exactly.
        torch.manual_seed((self.hparams.seed * 1_000_003 + self.global_step) * 64 + self.global_rank)

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        images, labels, _, targets = batch
        # the loss trains on vote shares where the data has them; accuracy is always the majority label's
        images, goal, other_goal, lam = self.mix(images, targets if self.soft_targets else labels)
        logits = self(images)
        loss = self.criterion(logits, goal)
        if lam < 1.0:
            loss = lam * loss + (1 - lam) * self.criterion(logits, other_goal)
        if self.teacher is not None:
            loss = self.teacher.loss(logits, images, loss)
        accuracy = (logits.argmax(1) == labels).float().mean()
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(labels))
        self.log("train/acc", accuracy, on_step=False, on_epoch=True, batch_size=len(labels))
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        self._evaluate_step(batch, self.val_metrics, "val")

    def test_step(self, batch, batch_idx: int) -> None:
        self._evaluate_step(batch, self.test_metrics, "test")

    def _evaluate_step(self, batch, metrics: FERMetrics, stage: str) -> None:
        images, labels, domains, _ = batch
        # Validation and test figures are float32 whatever precision training uses, so they compare
        # across runs and match what the exported (float32) models give.
        with torch.autocast(images.device.type, enabled=False):
            logits = self(images.float())
            if self.hparams.tta_flip:  # test-time augmentation: average with the mirrored face
                logits = (logits + self(images.flip(-1).float())) / 2
        self.log(f"{stage}/loss", nn.functional.cross_entropy(logits, labels), batch_size=len(labels), sync_dist=True)
        metrics.update(logits, labels, domains)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch(self.val_metrics, "val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch(self.test_metrics, "test")

    def _log_epoch(self, metrics: FERMetrics, stage: str) -> None:
        scalars, confusions = metrics.compute()
        metrics.reset()
        if not scalars:
            return
        for key, value in scalars.items():
            self.log(f"{stage}/{key}", value, prog_bar=key in ("acc", "f1"), rank_zero_only=True)
        self.last_results[stage] = {f"{stage}/{k}": v for k, v in scalars.items()}
        if not self.trainer.sanity_checking and self.trainer.is_global_zero:
            self._save_confusions(confusions, stage)

    def _save_confusions(self, confusions: dict[str, torch.Tensor], stage: str) -> None:
        folder = Path(self.trainer.default_root_dir) / "confusion_matrices"
        for group, matrix in confusions.items():
            name = f"{stage}_{group}_epoch{self.current_epoch:03d}"
            path = save_confusion_image(
                matrix, folder / f"{name}.png", title=f"{stage} {group} (epoch {self.current_epoch})"
            )
            (folder / f"{name}.json").write_text(json.dumps(matrix.tolist()))
            _log_image(self.loggers, f"{stage}/confusion_{group}", path, self.global_step)

    def _parameter_groups(self, lr: float, backbone_lr_scale: float) -> list[dict]:
        """The head at `lr`, the backbone at `lr * backbone_lr_scale`: a pretrained backbone fine-tuned gently
        while the new head learns (the scheduler scales both alike, warm-up included)."""
        if backbone_lr_scale == 1.0:
            return [{"params": list(self.net.parameters())}]
        return [
            {"params": list(self.net.backbone.parameters()), "lr": lr * backbone_lr_scale},
            {"params": list(self.net.head.parameters())},
        ]

    def configure_optimizers(self):
        spec = dict(self.hparams.optimizer or {"name": "adamw", "lr": 1e-3, "weight_decay": 1e-4})
        name = spec.pop("name")
        if name not in OPTIMIZERS:
            raise ValueError(f"model.optimizer.name={name!r}: choose one of {', '.join(OPTIMIZERS)}")
        optimizer = OPTIMIZERS[name](self._parameter_groups(spec["lr"], spec.pop("backbone_lr_scale", 1.0)), **spec)
        schedule = self.hparams.scheduler
        if not schedule or schedule.get("name") in (None, "none"):
            return optimizer
        if schedule["name"] != "cosine":
            raise ValueError(f"model.scheduler.name={schedule['name']!r}: choose cosine or none")
        total = max(1, self.trainer.estimated_stepping_batches)
        warmup = min(total // 2, int(schedule.get("warmup_epochs", 0) * total / max(1, self.trainer.max_epochs)))
        floor = schedule.get("min_lr_ratio", 0.01)

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = (step - warmup) / max(1, total - warmup)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def _teacher(distill: dict | None, student: Preprocessing) -> Teacher | None:
    # Kept out of the module tree on purpose: the teacher is neither trained nor saved with the student.
    settings = dict(distill or {})
    path = settings.pop("teacher", None)
    return Teacher(path, student, **settings) if path else None


def _log_image(loggers, key: str, path: Path, step: int) -> None:
    import cv2

    for logger in loggers:
        kind = type(logger).__name__
        if kind == "WandbLogger":
            logger.log_image(key=key, images=[str(path)], step=step)
        elif kind == "TensorBoardLogger":
            image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            logger.experiment.add_image(key, image, step, dataformats="HWC")
