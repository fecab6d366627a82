"""Mixup and CutMix blend two faces and split the loss between their labels by the blend share."""

import pytest
import torch

from fer.training.mixing import Mixing


def batch(n: int = 8, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    # each image is constant at its index, so every output pixel says which face it came from
    images = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, size, size).clone()
    return images, torch.arange(n) % 7


def test_off_by_default_returns_the_batch_untouched():
    images, labels = batch()
    mixed, a, b, lam = Mixing()(images, labels)
    assert lam == 1.0 and torch.equal(mixed, images) and torch.equal(a, labels) and torch.equal(b, labels)


def test_mixup_is_the_convex_blend_its_lam_says():
    torch.manual_seed(0)
    images, labels = batch()
    mixed, a, b, lam = Mixing(mixup_alpha=0.4)(images, labels)
    assert 0 < lam < 1 and torch.equal(a, labels)
    # every face is a constant (its index), so a blend lam*i + (1-lam)*j tells its partner j
    partner = (mixed[:, 0, 0, 0] - lam * images[:, 0, 0, 0]) / (1 - lam)
    assert torch.allclose(partner, partner.round(), atol=1e-4)
    assert torch.equal(labels[partner.round().long()], b)
    assert torch.allclose(mixed, mixed[:, :, :1, :1].expand_as(mixed))  # the whole face blended, not a box


def test_cutmix_lam_is_the_share_of_pixels_kept():
    torch.manual_seed(1)
    images, labels = batch(size=32)
    for _ in range(20):
        mixed, a, b, lam = Mixing(cutmix_alpha=1.0)(images, labels)
        kept = (mixed == images).float().mean(dim=(1, 2, 3))
        moved = b != a  # a face paired with itself keeps every pixel whatever the box
        assert torch.allclose(kept[moved], torch.full_like(kept[moved], lam), atol=1e-6)


def test_prob_sets_the_share_of_mixed_batches():
    torch.manual_seed(2)
    images, labels = batch()
    mixing = Mixing(mixup_alpha=0.2, cutmix_alpha=1.0, prob=0.3)
    mixed_share = sum(mixing(images, labels)[3] < 1.0 for _ in range(400)) / 400
    assert 0.22 < mixed_share < 0.38


@pytest.mark.parametrize("bad", [{"mixup_alpha": -1.0}, {"prob": 1.5}])
def test_bad_settings_name_the_option(bad):
    with pytest.raises(ValueError, match="model.mixing"):
        Mixing(**bad)
