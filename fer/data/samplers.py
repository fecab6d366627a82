"""Training sampler whose order is a function of (seed, epoch) alone, on one process or many.

Each item it yields is (record index, augmentation seed), both drawn from (seed, epoch), so an epoch
is the same whatever the number of loader workers, and a run resumed from a checkpoint sees the
batches the interrupted run would have seen. Optional per-record weights give class- or
domain-balanced sampling (with replacement, like torch's WeightedRandomSampler).

It is a DistributedSampler, so under DDP Lightning calls its `set_epoch` instead of wrapping it:
each rank takes every `num_replicas`-th item of the same epoch order.

Lightning creates a resumed run's first iterator before it calls `set_epoch`, and the loader
workers draw indices from it at once, so the sampler also counts the epochs it has handed out in
full (`epochs_done`); the datamodule saves that in checkpoints and starts a resumed run's sampler there.
"""

import math
from collections import Counter

import numpy as np
from torch.utils.data import DistributedSampler

from fer.data.sample import FaceSample


class EpochSeededSampler(DistributedSampler):
    def __init__(
        self,
        num_items: int,
        seed: int,
        weights: np.ndarray | None = None,
        num_replicas: int = 1,
        rank: int = 0,
        epoch: int = 0,
    ) -> None:
        # not DistributedSampler.__init__: it needs a dataset and an initialised process group
        self.num_items, self.seed, self.epoch = num_items, seed, epoch
        self.num_replicas, self.rank = num_replicas, rank
        self.num_samples = math.ceil(num_items / num_replicas)
        self.probabilities = None if weights is None else weights / weights.sum()
        self.epochs_done = epoch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self):
        epoch = self.epoch
        rng = np.random.default_rng([self.seed, epoch])
        if self.probabilities is None:
            order = rng.permutation(self.num_items)
        else:
            order = rng.choice(self.num_items, size=self.num_items, p=self.probabilities)
        sample_seeds = rng.integers(0, 2**31 - 1, size=self.num_items)
        items = list(zip(order.tolist(), sample_seeds.tolist()))
        items += items[: self.num_samples * self.num_replicas - len(items)]  # equal shares on every rank
        mine = items[self.rank :: self.num_replicas]
        for position, item in enumerate(mine):
            if position == len(mine) - 1:
                self.epochs_done = epoch + 1
            yield item


def balancing_weights(records: list[FaceSample], mode: str) -> np.ndarray | None:
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
