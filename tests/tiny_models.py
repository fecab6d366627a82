"""A small but non-trivial model file and face crops for the export and predictor tests."""

import cv2
import numpy as np
import torch
from torch import nn

from fer.data.synthetic_faces import draw_face, sample_identity
from fer.data.transforms import to_tensor
from fer.faces.preprocess import eval_transform
from fer.labels import LABELS
from fer.models.classifier import Architecture, FERClassifier
from fer.models.model_file import Preprocessing, save_model_file

SMALL = {"widths": [8, 16, 32]}


def synthetic_crops(count: int, offset: int = 0, size: int = 64) -> list[np.ndarray]:
    bgr = [draw_face(sample_identity(offset + i), i % len(LABELS), seed=offset + i, size=size) for i in range(count)]
    return [cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) for image in bgr]


def make_model_file(path, pre: Preprocessing = Preprocessing(48, 1, 0.5, 0.5), backbone_kwargs: dict = SMALL):
    """A small compact CNN whose outputs depend on the face: a fair subject for parity at 1e-4.

    Fresh batch norms are identities (mean 0, var 1) and default init gives near-constant logits
    of ~0.1; He init plus batch-norm statistics measured on faces give logits of order 1 that vary
    from face to face, and batch norms that the exporters really have to fold in.
    """
    torch.manual_seed(0)
    model = FERClassifier(Architecture(backbone="compact_cnn", in_chans=pre.channels, backbone_kwargs=backbone_kwargs))
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum = None  # a plain average over the calibration batch
            module.reset_running_stats()
    model.train()
    with torch.no_grad():
        model(preprocess(synthetic_crops(64, offset=10_000), pre))
    return save_model_file(path, model.eval(), pre)


def preprocess(crops: list[np.ndarray], pre: Preprocessing) -> torch.Tensor:
    """The training eval pipeline, written with the training code itself."""
    resize = eval_transform(pre.image_size)
    return torch.stack([to_tensor(resize(image=c)["image"], pre.mean, pre.std, pre.channels) for c in crops])
