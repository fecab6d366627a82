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


def test_training_fits_the_temperature_on_the_mirror_averaged_logits_inference_reads(tmp_path):
    # inference averages each face's logits with its mirror image's by default, then divides by the temperature
    torch = pytest.importorskip("torch")
    from fer.evaluation.calibration import fit_temperature
    from fer.models.model_file import Preprocessing, load_model_file
    from fer.training.train import calibrate
    from tests.tiny_models import make_model_file, preprocess, synthetic_crops

    pre = Preprocessing(48, 1, 0.5, 0.5)
    path = make_model_file(tmp_path / "model.pt", pre)
    images = preprocess(synthetic_crops(96, offset=500), pre)
    model, _, _ = load_model_file(path)
    with torch.inference_mode():  # labels the model half agrees with, so that a temperature fits
        single = model(images)
        labels = torch.where(torch.arange(96) % 2 == 0, single.argmax(1), torch.arange(96) % 7)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(images, labels), batch_size=32)

    class Data:  # the two things calibrate reads of a datamodule
        splits = {"test": []}

        def val_dataloader(self):
            return loader

    with torch.inference_mode():
        mirrored = ((single + model(images.flip(-1))) / 2).numpy()
    fitted = calibrate(str(path), Data())["temperature"]
    assert fitted == pytest.approx(fit_temperature(mirrored, labels.numpy()), rel=1e-4)
    assert fitted != pytest.approx(fit_temperature(single.numpy(), labels.numpy()), rel=1e-3)
