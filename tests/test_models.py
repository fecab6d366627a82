"""Backbone registry, MLP head, pretrained-weight handling and model files."""

import socket

import pytest
import torch
import torchvision

from fer.labels import LABELS
from fer.models.backbones import PretrainedWeightsUnavailable, create_backbone, list_backbones
from fer.models.classifier import Architecture, FERClassifier
from fer.models.model_file import Preprocessing, load_model_file, save_model_file


@pytest.mark.parametrize("name", list_backbones() + ["timm/resnet10t"])
def test_every_backbone_is_a_feature_extractor(name):
    backbone = create_backbone(name, pretrained=False, in_chans=1).eval()
    with torch.no_grad():
        features = backbone(torch.randn(2, 1, 64, 64))
    assert features.shape == (2, backbone.num_features)


def test_classifier_outputs_seven_logits_for_grey_and_rgb():
    for in_chans in (1, 3):
        model = FERClassifier(Architecture(backbone="resnet18", in_chans=in_chans)).eval()
        assert model(torch.randn(3, in_chans, 64, 64)).shape == (3, len(LABELS))


def test_pretrained_offline_fails_at_once_naming_the_options(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # no cached weights

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(PretrainedWeightsUnavailable, match=r"model.pretrained=false.*model.weights=<local"):
        create_backbone("resnet18", pretrained=True, in_chans=1)


def test_local_weights_file_is_loaded_and_adapted_to_grey(tmp_path):
    reference = torchvision.models.resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    backbone = create_backbone("resnet18", pretrained=True, weights=str(path), in_chans=1)
    assert torch.equal(backbone.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    assert torch.allclose(backbone.conv1.weight, reference.conv1.weight.sum(dim=1, keepdim=True))


def test_missing_weights_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.weights: no such file"):
        create_backbone("resnet18", weights=str(tmp_path / "nope.pth"))


def test_model_file_round_trip_with_weights_only(tmp_path):
    model = FERClassifier(Architecture(backbone="compact_cnn", backbone_kwargs={"widths": [8, 16]})).eval()
    path = save_model_file(tmp_path / "m.pt", model, Preprocessing(48, 1, 0.5, 0.5))
    raw = torch.load(path, weights_only=True)  # plain data only: no pickled modules
    assert raw["labels"] == list(LABELS) and raw["image_size"] == 48 and raw["arch"]["backbone"] == "compact_cnn"
    loaded, pre, _ = load_model_file(path)
    x = torch.randn(2, 1, 48, 48)
    with torch.no_grad():
        assert torch.allclose(model(x), loaded(x))
    assert pre == Preprocessing(48, 1, 0.5, 0.5)


def test_wrong_kind_of_weights_file_is_named(tmp_path):
    path = tmp_path / "other.pt"
    torch.save({"something": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="other.pt is neither a fer model file"):
        load_model_file(path)


def test_tta_flip_evaluates_the_face_and_its_mirror():
    from fer.training.lit_module import FERLitModule

    module = FERLitModule(arch={"backbone": "compact_cnn", "backbone_kwargs": {"widths": [8]}}, tta_flip=True).eval()
    seen = []

    def net(images):
        seen.append(images.clone())
        # the original alone says class 0; the mirror says class 1 more strongly, so the average says 1
        return torch.tensor([[1.0, 0.0] + [-9.0] * 5] if len(seen) == 1 else [[0.0, 3.0] + [-9.0] * 5])

    module.net.forward = net
    images = torch.arange(48 * 48, dtype=torch.float32).reshape(1, 1, 48, 48)
    target = torch.nn.functional.one_hot(torch.tensor([1]), 7).float()  # batches are (images, labels, domains, targets)
    module._evaluate_step((images, torch.tensor([1]), torch.tensor([0]), target), module.test_metrics, "test")
    assert torch.equal(seen[1], images.flip(-1))
    scalars, _ = module.test_metrics.compute()
    assert len(seen) == 2 and scalars["acc"] == 1.0


def test_model_weights_from_an_earlier_run_start_the_whole_classifier(tmp_path):
    """Pre-train then fine-tune: model.weights=<our model file> copies backbone and head."""
    from fer.training.lit_module import FERLitModule

    arch = {"backbone": "compact_cnn", "backbone_kwargs": {"widths": [8, 16]}}
    earlier = FERLitModule(arch=arch, seed=1).net.eval()
    path = save_model_file(tmp_path / "stage1.pt", earlier, Preprocessing(48, 1, 0.5, 0.5))
    started = FERLitModule(arch=arch, weights=str(path), seed=2).net.eval()
    fresh = FERLitModule(arch=arch, seed=2).net.eval()
    x = torch.randn(2, 1, 48, 48)
    with torch.no_grad():
        assert torch.allclose(started(x), earlier(x))
        assert not torch.allclose(fresh(x), earlier(x))
    with pytest.raises(ValueError, match="stage1.pt holds no tensors that fit"):
        FERLitModule(arch={"backbone": "resnet18"}, weights=str(path))
