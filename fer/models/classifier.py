"""The FER network: a swappable backbone and our MLP head, built from a plain, saveable description."""

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from fer.labels import NUM_CLASSES
from fer.models.backbones import create_backbone


class MLPHead(nn.Module):
    def __init__(
        self,
        in_features: int,
        hidden: list[int] | tuple[int, ...] = (256,),
        dropout: float = 0.3,
        norm: str | None = "batchnorm",
        num_classes: int = NUM_CLASSES,
    ) -> None:
        super().__init__()
        layers, width = [], in_features
        for out in hidden:
            layers.append(nn.Linear(width, out))
            if norm == "batchnorm":
                layers.append(nn.BatchNorm1d(out))
            elif norm == "layernorm":
                layers.append(nn.LayerNorm(out))
            elif norm not in (None, "none"):
                raise ValueError(f"model.head.norm={norm!r}: choose batchnorm, layernorm or none")
            layers += [nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = out
        layers.append(nn.Dropout(dropout) if not hidden else nn.Identity())
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)


@dataclass
class Architecture:
    """Everything needed to rebuild the network; saved inside every model file."""

    backbone: str = "compact_cnn"
    in_chans: int = 1
    backbone_kwargs: dict = field(default_factory=dict)
    head: dict = field(default_factory=lambda: {"hidden": [256], "dropout": 0.3, "norm": "batchnorm"})
    num_classes: int = NUM_CLASSES

    def as_dict(self) -> dict:
        return asdict(self)


class FERClassifier(nn.Module):
    def __init__(self, arch: Architecture, pretrained: bool = False, weights: str | None = None) -> None:
        super().__init__()
        self.arch = arch
        self.backbone = create_backbone(arch.backbone, pretrained, weights, arch.in_chans, **arch.backbone_kwargs)
        self.head = MLPHead(self.backbone.num_features, num_classes=arch.num_classes, **arch.head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    @property
    def embedding_size(self) -> int:
        """Width of the embedding: the input of the head's last layer (its hidden layer after the ReLU)."""
        return self.head.layers[-1].in_features

    def forward_with_embedding(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, embedding), the logits computed from that very embedding (the same layers as `forward`)."""
        hidden = self.head.layers[:-1](self.backbone(x))
        return self.head.layers[-1](hidden), hidden
