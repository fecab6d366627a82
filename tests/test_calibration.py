"""Temperature scaling and expected calibration error."""

import numpy as np
import pytest

from fer.evaluation.calibration import calibration_report, expected_calibration_error, fit_temperature
from fer.inference.runtime import softmax


def sampled(temperature: float, n: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose labels are drawn from softmax(logits / temperature): that T is the calibrated one."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, size=(n, 7))
    probs = softmax(logits, temperature).astype(np.float64)
    labels = np.array([rng.choice(7, p=p / p.sum()) for p in probs])
    return logits, labels


def test_fit_temperature_recovers_the_temperature_that_generated_the_labels():
    logits, labels = sampled(2.5)
    assert fit_temperature(logits, labels) == pytest.approx(2.5, rel=0.05)


def test_ece_is_small_when_calibrated_and_large_when_over_confident():
    logits, labels = sampled(2.5)
    assert expected_calibration_error(softmax(logits, 2.5), labels) < 0.02
    assert expected_calibration_error(softmax(logits, 0.5), labels) > 0.2


def test_report_shows_scaling_lowers_ece_on_held_out_data():
    report = calibration_report(sampled(3.0, seed=1), sampled(3.0, seed=2))
    assert report["test/ece_scaled"] < report["test/ece_raw"]
    assert report["test/nll_scaled"] < report["test/nll_raw"]
