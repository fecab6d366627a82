"""The overlay drawn on frames: boxes, labels and a bar per expression, on a copy or in place."""

import numpy as np
import pytest

from fer.inference.overlay import BAR_PITCH, BAR_WIDTH, GREEN, draw
from fer.inference.predictor import FacePrediction
from fer.labels import LABELS

PROBS = np.array([0.0, 0.1, 0.0, 0.75, 0.15, 0.0, 0.0], np.float32)


def frame(channels: int = 3) -> np.ndarray:
    return np.full((240, 320, channels), 90, np.uint8)


def test_bars_are_as_long_as_the_probabilities():
    out = draw(frame(), [FacePrediction(None, PROBS)])
    for i, p in enumerate(PROBS):
        row = out[4 + i * BAR_PITCH, 4 : 4 + BAR_WIDTH + 2]  # the bar's top row, above its label
        green = np.all(row == GREEN, axis=1)
        assert green.sum() == round(BAR_WIDTH * p) and green[: green.sum()].all(), (LABELS[i], green.sum(), p)


def test_in_place_draws_the_same_pixels_on_the_frame_itself():
    faces = [FacePrediction((100, 60, 80, 80), PROBS)]
    original = frame()
    copy = draw(original, faces, {"fps": 30.0})
    assert np.all(original == 90)  # the default leaves the frame alone
    same = draw(original, faces, {"fps": 30.0}, in_place=True)
    assert same is original and np.array_equal(same, copy)


@pytest.mark.parametrize("box", [(280, 200, 60, 60), (-20, -20, 60, 60), (0, 230, 40, 40)])
def test_charts_at_the_frame_edges_are_clipped(box):
    out = draw(frame(), [FacePrediction(box, PROBS)])
    assert out.shape == (240, 320, 3) and np.any(np.all(out == GREEN, axis=2))


def test_grey_and_bgra_frames():
    assert draw(frame(1)[..., 0], [FacePrediction((50, 50, 60, 60), PROBS)]).shape == (240, 320, 3)
    bgra = draw(frame(4), [FacePrediction((50, 50, 60, 60), PROBS)])
    # transparency is flattened onto white, as the model saw the image (fer.faces.image_io.to_grey_uint8)
    transparent = frame(4)
    transparent[..., 3] = 0
    assert bgra.shape == (240, 320, 3) and np.all(draw(transparent, [])[..., :3] == 255)
