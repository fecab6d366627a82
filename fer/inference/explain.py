"""Saliency for still images: which parts of a face drove its predicted expression.

    python infer.py source=photo.jpg explain=true output.dir=out/ display=false

- occlusion (`explain=true` or `explain=occlusion`): every runtime, the shipped int8 ONNX model
  included, in numpy (no torch). A grey window slides over the face, and each place is scored by how
  much the predicted label's probability falls while it is covered (the computation of captum's
  `Occlusion`: each pixel gets the mean drop of the windows that cover it).
- gradcam (`explain=gradcam`): torch weights only (model.pt or a training .ckpt): Grad-CAM on the
  backbone's last convolution (captum's `LayerGradCam`), upsampled to the input.

A map is H x W in the model's input pixels, >= 0. Occlusion maps are in probability: how much the
label's probability falls when that place is hidden (comparable between faces and labels); Grad-CAM
maps are scaled to a largest value of 1 (their units mean nothing). The written heatmaps are scaled
to their own maximum. The probabilities explained are the predictor's own (mirror-averaged where
`tta_flip` is on).

Measured on the embedded default's model (`python train.py`: compact CNN on the drawn faces, 95-97 %
test accuracy; tests/test_explain.py, 24 unseen faces per expression): occlusion follows the action
units. Per pixel, hiding the brows costs the expressions that move them (anger, fear, sad, surprise)
about 5 times what hiding the rest of the image costs (median), hiding the mouth about 5.5 times for
the expressions that move it, against 1.4 and 1.2 for the same network untrained and 2.4 and 1.7 for
one trained on permuted labels. Grad-CAM at the last convolution (6 x 6 for 48 px) is too coarse on
this network to follow the action units, hence occlusion is the default.
"""

from pathlib import Path

import cv2
import numpy as np

from fer.errors import BadValue
from fer.inference.predictor import FacePrediction, Predictor

METHODS = ("occlusion", "gradcam")
HEATMAP_SIDE = 192  # px of each half of the written image (face, face with heatmap)


def resolve_method(explain, predictor: Predictor) -> str | None:
    """The config value (false, true or a method name) -> the method to run, or None."""
    if explain in (False, None) or str(explain).lower() in ("false", "none"):
        return None
    method = "occlusion" if explain is True or str(explain).lower() == "true" else str(explain)
    if method not in METHODS:
        raise BadValue(f"explain={explain!r}: choose true (occlusion), occlusion, gradcam or false")
    if method == "gradcam":
        _torch_model(predictor)  # fails now, before any image, where the weights are not torch ones
    return method


def saliency(predictor: Predictor, face: np.ndarray, target: int, method: str = "occlusion") -> np.ndarray:
    """Map of one preprocessed face (C x H x W float32, as `Predictor.preprocess` gives) for label `target`."""
    if method == "occlusion":
        return occlusion_map(predictor.probabilities, face, target)
    if method == "gradcam":
        return gradcam_map(_torch_model(predictor), face, target)
    raise BadValue(f"explain={method!r}: choose one of {', '.join(METHODS)}")


def occlusion_map(
    probabilities, face: np.ndarray, target: int, window: int | None = None, stride: int | None = None, batch: int = 64
) -> np.ndarray:
    """`probabilities`: N x C x H x W float32 -> N x 7 (any runtime). Windows of about a sixth of the face.

    Each window (over every channel) is set to 0 in normalised pixels, the dataset's mean grey: "no
    information" rather than black. A pixel's value is the mean fall of the target's probability over the
    windows that cover it, summed over channels; falls only (a place whose hiding raises it gets 0). The
    windows start every `stride` pixels and the last one of a row or column is cut at the edge, as
    captum's `Occlusion` places them.
    """
    channels, height, width = face.shape
    window = window or max(4, width // 6)
    stride = stride or max(2, window // 2)
    face = np.array(face, dtype=np.float32)
    places = [(y, x) for y in _starts(height, window, stride) for x in _starts(width, window, stride)]
    before = float(np.asarray(probabilities(face[None]))[0, target])
    total = np.zeros((height, width), np.float32)
    count = np.zeros((height, width), np.float32)
    for first in range(0, len(places), batch):
        chunk = places[first : first + batch]
        hidden = np.repeat(face[None], len(chunk), axis=0)
        for i, (y, x) in enumerate(chunk):
            hidden[i, :, y : y + window, x : x + window] = 0.0
        falls = before - np.asarray(probabilities(hidden), dtype=np.float32)[:, target]
        for (y, x), fall in zip(chunk, falls):
            total[y : y + window, x : x + window] += fall
            count[y : y + window, x : x + window] += 1
    return np.clip(channels * total / count, 0, None)


def _starts(side: int, window: int, stride: int) -> range:
    """Where the windows of one axis begin: every `stride` px, the last at or past `side - window`."""
    if window > side or stride > window:
        raise BadValue(f"explain: occlusion windows of {window} px every {stride} px do not cover a {side} px face")
    return range(0, stride * -(-(side - window) // stride) + 1, stride)


def gradcam_map(model, face: np.ndarray, target: int) -> np.ndarray:
    import torch
    from captum.attr import LayerAttribution, LayerGradCam
    from torch import nn

    convolutions = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convolutions:
        raise BadValue("explain=gradcam: the network has no convolution to take Grad-CAM at; use explain=occlusion")
    model.eval()
    with torch.enable_grad():
        cam = LayerGradCam(model, convolutions[-1]).attribute(
            torch.from_numpy(np.array(face[None], dtype=np.float32)), target=int(target), relu_attributions=True
        )
    heat = LayerAttribution.interpolate(cam.detach(), face.shape[-2:], interpolate_mode="bilinear")
    return _unit(heat[0, 0].numpy())


def _unit(heat: np.ndarray) -> np.ndarray:
    heat = np.clip(heat.astype(np.float32), 0, None)
    top = float(heat.max())
    return heat / top if top > 0 else heat


def _torch_model(predictor: Predictor):
    """The eager network behind the predictor, which Grad-CAM needs; a one-line error for other runtimes."""
    classifier = predictor.classifier
    if classifier.runtime != "torch":
        raise BadValue(
            f"explain=gradcam needs torch weights (weights=<model.pt or .ckpt>); "
            f"{classifier.path.name} runs on {classifier.runtime}: use explain=occlusion"
        )
    return classifier.model


def overlay(face_grey: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """The face and the face under its heatmap, side by side (BGR)."""
    face = cv2.resize(face_grey, (HEATMAP_SIDE, HEATMAP_SIDE), interpolation=cv2.INTER_LINEAR)
    face = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)
    scaled = cv2.resize(_unit(heat), (HEATMAP_SIDE, HEATMAP_SIDE), interpolation=cv2.INTER_LINEAR)
    colours = cv2.applyColorMap(np.uint8(255 * scaled), cv2.COLORMAP_JET)
    return np.hstack([face, cv2.addWeighted(face, 0.55, colours, 0.45, 0)])


class SaliencyWriter:
    """Writes `<image>_face<i>_<method>.png` per face of a still image into `folder` (beside the
    annotated images of output.dir) and says which file belongs to which face."""

    def __init__(self, predictor: Predictor, method: str, folder: str | Path) -> None:
        self.predictor, self.method, self.folder = predictor, method, Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def write(self, source: str, grey: np.ndarray, faces: list[FacePrediction]) -> list[Path]:
        paths = []
        for index, face in enumerate(faces):
            path = self.folder / f"{Path(source).stem}_face{index}_{self.method}.png"
            cv2.imwrite(str(path), explain_face(self.predictor, grey, face, self.method))
            paths.append(path)
        return paths


def explain_face(predictor: Predictor, grey: np.ndarray, face: FacePrediction, method: str = "occlusion") -> np.ndarray:
    """One face of a grey frame -> the face beside the face under its saliency map for its predicted label (BGR)."""
    crop = grey if face.box is None else predictor.crop_faces(grey, [face.box])[0]
    model_input = predictor.preprocess(crop)
    heat = saliency(predictor, model_input, int(np.argmax(face.probs)), method)
    seen = cv2.resize(crop, model_input.shape[-2:][::-1], interpolation=cv2.INTER_AREA)
    return overlay(seen, heat)
