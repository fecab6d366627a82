"""Backbone registry, in the spirit of timm: one `create_backbone` for every architecture.

Every backbone is a feature extractor (timm's `num_classes=0`): images in, pooled features out,
with `num_features` telling the head its input width. The classification head is ours.
Names: the registered torchvision models, `compact_cnn` and `mobileface`, or `timm/<any timm model name>`.
"""

import socket
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn

import fer.models.resolvers  # noqa: F401  (conf/model/mobileface.yaml's ${mobileface:...}, wherever models are built)
from fer.models.compact import CompactCNN

BackboneFactory = Callable[[bool, int], nn.Module]
_REGISTRY: dict[str, BackboneFactory] = {}
# backbones whose factory loads `weights` itself (a format of its own), called with weights=<path>
_LOADS_OWN_WEIGHTS: set[str] = set()
TIMM_PREFIX = "timm/"


class PretrainedWeightsUnavailable(RuntimeError):
    pass


def register_backbone(name: str, loads_weights: bool = False):
    """`loads_weights`: the factory takes `weights=<path>` and loads it itself, instead of the state_dict
    loader below (for weights in another format, such as MobileFace's MXNet files)."""

    def decorator(factory: BackboneFactory) -> BackboneFactory:
        _REGISTRY[name] = factory
        if loads_weights:
            _LOADS_OWN_WEIGHTS.add(name)
        return factory

    return decorator


def list_backbones() -> list[str]:
    return sorted(_REGISTRY)


def create_backbone(
    name: str, pretrained: bool = False, weights: str | None = None, in_chans: int = 1, **kwargs
) -> nn.Module:
    """A feature extractor with attribute `num_features`.

    `pretrained=True` downloads the publisher's weights; `weights=<file>` loads a local state_dict
    instead (for machines without a network), or, for backbones registered with `loads_weights`, the
    publisher's files in their own format.
    """
    if name in _LOADS_OWN_WEIGHTS:
        return _REGISTRY[name](pretrained, in_chans, weights=weights, **kwargs)
    if name.startswith(TIMM_PREFIX):
        model = _timm_backbone(name[len(TIMM_PREFIX) :], pretrained and not weights, in_chans, **kwargs)
    elif name in _REGISTRY:
        model = _REGISTRY[name](pretrained and not weights, in_chans, **kwargs)
    else:
        raise ValueError(f"unknown backbone {name!r}; known: {', '.join(list_backbones())}, or timm/<timm model name>")
    if weights:
        load_local_weights(model, weights, in_chans)
    return model


@register_backbone("compact_cnn")
def _compact(pretrained: bool, in_chans: int, **kwargs) -> nn.Module:
    if pretrained:
        raise PretrainedWeightsUnavailable("compact_cnn has no published weights: use model.pretrained=false")
    return CompactCNN(in_chans=in_chans, **kwargs)


@register_backbone("mobileface", loads_weights=True)
def _mobileface(pretrained: bool, in_chans: int, weights: str | None = None, **kwargs) -> nn.Module:
    # MobileFace V1/V2 face-recognition trunks; weights=<the MXNet files' folder or stem> (fer/models/mobileface.py)
    from fer.models.mobileface import mobileface_backbone

    if pretrained and not weights:
        raise PretrainedWeightsUnavailable(
            "mobileface has no download: pass model.weights=<path to the MobileFace folder> (e.g. "
            "model.weights=../shared/weights/mobileface, or your own copy of becauseofAI/MobileFace's "
            "MobileFace_Identification folder), or use model.pretrained=false"
        )
    return mobileface_backbone(in_chans, weights=weights, **kwargs)


def _torchvision(arch: str, head_attr: str, feature_width: Callable[[nn.Module], int]) -> BackboneFactory:
    def factory(pretrained: bool, in_chans: int, **kwargs) -> nn.Module:
        weights = "DEFAULT" if pretrained else None
        builder = getattr(torchvision.models, arch)
        model = _download(arch, lambda: builder(weights=weights, **kwargs)) if pretrained else builder(**kwargs)
        model.num_features = feature_width(model)
        setattr(model, head_attr, nn.Identity())
        if in_chans != 3:
            _adapt_first_conv(model, in_chans)
        return model

    return factory


for _arch in ("resnet18", "resnet34", "resnet50"):
    register_backbone(_arch)(_torchvision(_arch, "fc", lambda m: m.fc.in_features))
for _arch in ("mobilenet_v3_small", "mobilenet_v3_large"):
    # The pooled features sit before the classifier's first Linear layer.
    register_backbone(_arch)(_torchvision(_arch, "classifier", lambda m: m.classifier[0].in_features))
register_backbone("efficientnet_b0")(
    _torchvision("efficientnet_b0", "classifier", lambda m: m.classifier[1].in_features)
)


def _timm_backbone(name: str, pretrained: bool, in_chans: int, **kwargs) -> nn.Module:
    import timm

    create = lambda: timm.create_model(name, pretrained=pretrained, num_classes=0, in_chans=in_chans, **kwargs)  # noqa: E731
    return _download(f"timm/{name}", create) if pretrained else create()


def _download(name: str, create: Callable[[], nn.Module]) -> nn.Module:
    # Without a network the download would hang on connection attempts; a short timeout makes it
    # fail at once with a message that says what to do instead.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(10)
    try:
        return create()
    except Exception as err:  # urllib, requests and huggingface_hub each raise their own errors
        raise PretrainedWeightsUnavailable(
            f"could not download pretrained weights for {name} ({type(err).__name__}: {err}). Offline, use "
            "model.pretrained=false, or model.weights=<local state_dict file> to load them "
            "from disk."
        ) from err
    finally:
        socket.setdefaulttimeout(previous)


def _adapt_first_conv(model: nn.Module, in_chans: int) -> None:
    """Make the first 3-channel conv take `in_chans` channels; for grey, the RGB filters are summed,
    which gives the same response to a grey image as the original gives to grey repeated 3 times."""
    for parent in model.modules():
        for child_name, conv in parent.named_children():
            if isinstance(conv, nn.Conv2d) and conv.in_channels == 3:
                new = nn.Conv2d(
                    in_chans,
                    conv.out_channels,
                    conv.kernel_size,
                    conv.stride,
                    conv.padding,
                    conv.dilation,
                    conv.groups,
                    conv.bias is not None,
                )
                with torch.no_grad():
                    summed = conv.weight.sum(dim=1, keepdim=True)
                    new.weight.copy_(summed.repeat(1, in_chans, 1, 1) / in_chans if in_chans > 1 else summed)
                    if conv.bias is not None:
                        new.bias.copy_(conv.bias)
                setattr(parent, child_name, new)
                return


def load_local_weights(model: nn.Module, path: str, in_chans: int) -> None:
    """Load a state_dict file (publisher weights or our own) into a backbone; head keys are ignored."""
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"model.weights: no such file: {file}")
    state = torch.load(file, map_location="cpu", weights_only=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    own = model.state_dict()
    loadable = {}
    for key, value in state.items():
        if key not in own:
            continue
        if value.ndim == 4 and value.shape[1] == 3 and own[key].shape[1] == 1:
            value = value.sum(dim=1, keepdim=True)  # RGB filters for a grey input, as in _adapt_first_conv
        if value.shape == own[key].shape:
            loadable[key] = value
    if not loadable:
        raise ValueError(f"model.weights: {file} holds no tensors that fit this backbone")
    model.load_state_dict(loadable, strict=False)
