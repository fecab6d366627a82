"""A compact CNN for 48-64 px greyscale faces that trains in minutes on a laptop CPU."""

import torch
from torch import nn


def _block(in_channels: int, out_channels: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Dropout2d(dropout) if dropout else nn.Identity(),
    )


class CompactCNN(nn.Module):
    """VGG-style stages (two 3x3 convs, pool), then pooling to a small grid: a feature extractor.

    The grid (`pooled_side` x `pooled_side`, 3 by default) keeps where a feature is: a raised brow
    and a raised lip corner look alike locally, and global average pooling would mix them up.
    """

    def __init__(
        self,
        in_chans: int = 1,
        widths: tuple[int, ...] = (32, 64, 128, 256),
        dropout: float = 0.1,
        pooled_side: int = 3,
    ):
        super().__init__()
        stages, channels = [], in_chans
        for width in widths:
            stages.append(_block(channels, width, dropout))
            channels = width
        self.features = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(pooled_side)
        self.num_features = channels * pooled_side * pooled_side

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.features(x)).flatten(1)
