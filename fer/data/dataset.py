"""A map-style dataset over records; pixels are read per item (from the memory-mapped face cache or
the source's files), so memory does not grow with the data."""

import numpy as np
import torch
from torch.utils.data import Dataset

from fer.data.face_cache import FaceArray
from fer.data.sample import DOMAINS, FaceSample
from fer.data.sources.base import Source
from fer.data.transforms import to_tensor
from fer.labels import NUM_CLASSES


def target_vector(record: FaceSample) -> torch.Tensor:
    if record.target is not None:
        return torch.tensor(record.target, dtype=torch.float32)
    return torch.nn.functional.one_hot(torch.tensor(record.label), NUM_CLASSES).float()


class FaceDataset(Dataset):
    def __init__(
        self,
        records: list[FaceSample],
        sources: dict[str, Source | FaceArray],
        transform,
        mean: float,
        std: float,
        channels: int,
    ) -> None:
        self.records = records
        self.sources = sources  # per source name, what loads a record's pixels: a Source or its FaceArray
        self.transform = transform
        self.mean, self.std, self.channels = mean, std, channels

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: int | tuple[int, int]) -> tuple[torch.Tensor, int, int, torch.Tensor]:
        """(image, label, domain index, target): target is the record's soft target over LABELS (FER+
        vote shares) or the one-hot of its label; label is always the majority label."""
        # Training samplers pass (index, seed): seeding augmentation per sample makes an epoch a
        # pure function of (seed, epoch), whatever the worker count, which exact resume relies on.
        index, sample_seed = key if isinstance(key, tuple) else (key, None)
        record = self.records[index]
        grey = self.sources[record.source].load(record)
        if sample_seed is not None:
            self.transform.set_random_seed(sample_seed)
        grey = self.transform(image=grey)["image"]
        image = to_tensor(grey, self.mean, self.std, self.channels)
        return image, record.label, DOMAINS.index(record.domain), target_vector(record)

    def labels(self) -> np.ndarray:
        return np.array([r.label for r in self.records], dtype=np.int64)
