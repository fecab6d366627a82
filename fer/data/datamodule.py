"""One LightningDataModule for every mix of sources: human, animated, or both under the seven labels.

`prepared_data(cfg.data)` builds it from a data config, scanned and split exactly as training splits it:
evaluation, the leakage audit and the benchmarks read their faces through it.
"""

import json
import logging
import os
from dataclasses import replace
from pathlib import Path

import hydra
import lightning as L
import numpy as np
import torch
from hydra.errors import InstantiationException
from omegaconf import DictConfig
from torch.utils.data import DataLoader

from fer.data.dataset import FaceDataset
from fer.data.face_cache import FaceArray, face_array
from fer.data.report import print_source_table
from fer.data.sample import FaceSample
from fer.data.samplers import EpochSeededSampler, balancing_weights
from fer.data.scan import DataConfigError, SourceReport, scan_source
from fer.data.sources.base import Source
from fer.data.splits import SPLITS, check_subject_independence, split_records, write_manifest
from fer.data.transforms import train_transform
from fer.errors import UserError
from fer.faces.crop import CropPolicy
from fer.faces.preprocess import eval_transform
from fer.labels import LABELS, NUM_CLASSES

log = logging.getLogger(__name__)


def permuted_labels(records: list[FaceSample], seed: int) -> list[FaceSample]:
    """The records with their labels (and soft targets) shuffled among them: the data randomisation test of
    saliency sanity checks (Adebayo et al., 2018). The label counts stay those of the data."""
    order = np.random.default_rng([seed, 0x5A11]).permutation(len(records))
    return [replace(r, label=records[j].label, target=records[j].target) for r, j in zip(records, order)]


def default_cache_dir() -> Path:
    base = os.environ.get("FER_CACHE_DIR") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fer"
    return Path(base)


class FERDataModule(L.LightningDataModule):
    def __init__(
        self,
        sources: dict[str, Source],
        image_size: int = 48,
        channels: int = 1,
        mean: float = 0.5,
        std: float = 0.5,
        batch_size: int = 64,
        num_workers: int = 2,
        num_folds: int = 10,
        fold: int = 0,
        seed: int = 0,
        val_fraction: float = 0.1,
        sampler: str = "none",
        augment: dict | None = None,
        crop: dict | None = None,
        cache_dir: str | None = None,
        output_dir: str | None = None,
        cache_faces: bool = True,
        randomize_train_labels: bool = False,
    ) -> None:
        super().__init__()
        self.sources = self._resolve_sources(dict(sources))
        self.image_size, self.channels, self.mean, self.std = image_size, channels, mean, std
        self.batch_size, self.num_workers = batch_size, num_workers
        self.num_folds, self.fold, self.seed, self.val_fraction = num_folds, fold, seed, val_fraction
        self.sampler, self.augment = sampler, augment
        self.crop = CropPolicy(**(crop or {}))
        self.cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
        self.output_dir = Path(output_dir) if output_dir else None
        self.cache_faces = cache_faces
        self.randomize_train_labels = randomize_train_labels
        self._faces: dict[str, FaceArray] | None = None
        self._sampler: EpochSeededSampler | None = None
        self._resume_epoch = 0
        self.splits: dict[str, list[FaceSample]] | None = None
        self._scanned: list[tuple[list[FaceSample], SourceReport]] | None = None
        self.reports: list[SourceReport] = []

    @staticmethod
    def _resolve_sources(sources: dict[str, Source]) -> dict[str, Source]:
        resolved = {}
        for key, source in sources.items():
            if source is None:  # a source switched off from the command line: data.sources.jaffe=null
                continue
            source.name = key
            if not source.available():
                if source.fallback is not None:
                    log.warning(
                        "data.sources.%s: %s not found; using its fallback %s",
                        key,
                        source.root,
                        type(source.fallback).__name__,
                    )
                    source.fallback.name = key
                    source = source.fallback
                elif source.optional:
                    log.warning("data.sources.%s: %s not found; skipping this optional source", key, source.root)
                    continue
                else:
                    raise DataConfigError(
                        f"data.sources.{key}: folder not found: {source.root}. Set paths.data_dir (or the "
                        f"FER_DATA_DIR environment variable) to the folder holding it, or "
                        f"data.sources.{key}.root=<path>."
                    )
            resolved[key] = source
        if not resolved:
            roots = ", ".join(str(s.root) for s in sources.values() if s is not None)
            raise DataConfigError(
                f"no data source found (looked in: {roots}). Set paths.data_dir or FER_DATA_DIR to the data "
                "folder, or train on the embedded default with data=synthetic."
            )
        return resolved

    def prepare_data(self) -> None:
        # Rank 0 only: crops, CSV extraction and decoded faces are written to the cache once; other
        # ranks' setup() then finds them there.
        self._scan_all()
        self._pixels()

    def _pixels(self) -> dict:
        """Per source, what `load`s a record's greyscale pixels: its cached face array, or the source itself."""
        if not self.cache_faces:
            return self.sources
        if self._faces is None:
            self._faces = {
                name: face_array(source, records, self.image_size, self.cache_dir, self.crop.key())
                for (name, source), (records, _) in zip(self.sources.items(), self._scan_all())
                if records
            }
        return self._faces

    def _scan_all(self) -> list[tuple[list[FaceSample], SourceReport]]:
        if self._scanned is None:
            self._scanned = [scan_source(source, self.crop, self.cache_dir) for source in self.sources.values()]
        return self._scanned

    def setup(self, stage: str | None = None) -> None:
        if self.splits is not None:
            return
        splits = {name: [] for name in SPLITS}
        for source, (records, report) in zip(self.sources.values(), self._scan_all()):
            self.reports.append(report)
            if not records:
                raise DataConfigError(
                    f"data.sources.{source.name}: no usable images in {source.root} "
                    f"(found {report.found}, skipped {dict(report.skipped)}). Check the folder layout."
                )
            for name, part in split_records(records, self.num_folds, self.fold, self.seed, self.val_fraction).items():
                splits[name].extend(part)
        check_subject_independence(splits)
        if self.randomize_train_labels:
            splits["train"] = permuted_labels(splits["train"], self.seed)
            log.warning(
                "data.randomize_train_labels=true: training labels are permuted among the training images "
                "(a sanity check: the model can learn nothing about expressions); val and test keep theirs"
            )
        self.splits = splits
        if self.trainer is None or self.trainer.is_global_zero:
            print_source_table(self.reports, splits)
            self._write_run_files()

    def _write_run_files(self) -> None:
        if self.output_dir is None:
            return
        write_manifest(self.splits, self.output_dir / "split_manifest.csv")
        summary = {
            "sources": [r.as_dict() for r in self.reports],
            "splits": {name: len(records) for name, records in self.splits.items()},
        }
        (self.output_dir / "data_report.json").write_text(json.dumps(summary, indent=2))

    def class_weights(self) -> torch.Tensor:
        """Inverse-frequency weights over the training labels (absent classes get weight 0)."""
        counts = np.bincount([r.label for r in self.splits["train"]], minlength=NUM_CLASSES).astype(np.float64)
        weights = np.where(counts > 0, counts.sum() / (NUM_CLASSES * np.maximum(counts, 1)), 0.0)
        return torch.tensor(weights, dtype=torch.float32)

    @property
    def soft_targets(self) -> bool:
        """Whether any training record carries a soft target (FER+ votes): the loss then trains on targets."""
        return any(r.target is not None for r in self.splits["train"])

    def domains(self, split: str) -> list[str]:
        return sorted({r.domain for r in self.splits[split]})

    def _dataset(self, split: str, transform) -> FaceDataset:
        return FaceDataset(self.splits[split], self._pixels(), transform, self.mean, self.std, self.channels)

    def _loader(self, dataset, sampler=None) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=torch.cuda.is_available(),
            drop_last=False,
        )

    def train_dataloader(self) -> DataLoader:
        records = self.splits["train"]
        trainer = self.trainer
        self._sampler = EpochSeededSampler(
            len(records),
            self.seed,
            balancing_weights(records, self.sampler),
            num_replicas=trainer.world_size if trainer else 1,
            rank=trainer.global_rank if trainer else 0,
            epoch=self._resume_epoch,
        )
        return self._loader(self._dataset("train", train_transform(self.image_size, self.augment)), self._sampler)

    def state_dict(self) -> dict:
        # Saved in every checkpoint: the epoch a resumed run starts its sampler at (see samplers.py).
        return {"sampler_epochs_done": self._sampler.epochs_done if self._sampler else 0}

    def load_state_dict(self, state: dict) -> None:
        self._resume_epoch = int(state.get("sampler_epochs_done", 0))

    def val_dataloader(self) -> DataLoader:
        return self._loader(self._dataset("val", eval_transform(self.image_size)))

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._dataset("test", eval_transform(self.image_size)))

    @property
    def labels(self) -> tuple[str, ...]:
        return LABELS


def instantiate_data(data_cfg: DictConfig):
    """The datamodule a data config describes; a data option's own error, not Hydra's wrapper around it."""
    try:
        return hydra.utils.instantiate(data_cfg)
    except InstantiationException as err:
        # Show our own message (it names the option to change), not Hydra's wrapper around it.
        if isinstance(err.__cause__, (DataConfigError, UserError)):
            raise err.__cause__ from None
        raise


def prepared_data(data_cfg: DictConfig):
    """The data config's datamodule, scanned and split exactly as training splits it (for evaluation and audits)."""
    datamodule = instantiate_data(data_cfg)
    datamodule.setup("test")
    return datamodule
