"""Training sampler whose order is a function of (seed, epoch) alone.

Lightning calls `set_epoch` before each epoch, so a run resumed from a checkpoint sees the same
batches as the run that was interrupted. Optional per-record weights give class- or
domain-balanced sampling (with replacement, like torch's WeightedRandomSampler).
"""

from collections import Counter

import numpy as np
from torch.utils.data import Sampler

from fer.data.record import FaceRecord


class EpochSeededSampler(Sampler):
    def __init__(self, num_items: int, seed: int, weights: np.ndarray | None = None) -> None:
        self.num_items, self.seed, self.epoch = num_items, seed, 0
        self.probabilities = None if weights is None else weights / weights.sum()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_items

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.probabilities is None:
            order = rng.permutation(self.num_items)
        else:
            order = rng.choice(self.num_items, size=self.num_items, p=self.probabilities)
        sample_seeds = rng.integers(0, 2**31 - 1, size=self.num_items)
        return iter(zip(order.tolist(), sample_seeds.tolist()))


def balancing_weights(records: list[FaceRecord], mode: str) -> np.ndarray | None:
    """Per-record weights: `balanced` evens out labels, `domain_balanced` evens out domains and
    labels within each domain (so a small human set is not drowned by a large animated one)."""
    if mode == "none":
        return None
    if mode == "balanced":
        keys = [r.label for r in records]
    elif mode == "domain_balanced":
        domains = Counter(r.domain for r in records)
        per_domain = Counter((r.domain, r.label) for r in records)
        return np.array([1.0 / (len(domains) * per_domain[(r.domain, r.label)]) for r in records])
    else:
        raise ValueError(f"data.sampler={mode!r}: choose none, balanced or domain_balanced")
    counts = Counter(keys)
    return np.array([1.0 / counts[k] for k in keys])
