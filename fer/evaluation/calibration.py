"""How far to trust the seven probabilities: expected calibration error and temperature scaling.

Networks trained with cross-entropy are usually over-confident. Temperature scaling (Guo et al.,
2017) divides the logits by one scalar T fitted on validation data; it changes no prediction,
only how sure the probabilities claim to be. The fitted T travels inside every exported model.
"""

import numpy as np
import torch

from fer.inference.runtime import softmax


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 that minimises the negative log-likelihood of softmax(logits / T) on (logits, labels)."""
    if len(labels) == 0:
        return 1.0
    x = torch.as_tensor(logits, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.long)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)  # optimise log T: T stays positive
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(x / log_t.exp(), y)
        loss.backward()
        return loss

    optimiser.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by bin size (0 = calibrated)."""
    if len(labels) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            error += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(error)


def calibration_report(val: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray] | None) -> dict:
    """Fit T on validation logits; ECE and NLL before and after, on validation and test."""
    temperature = fit_temperature(*val)
    report = {"temperature": temperature}
    for name, part in (("val", val), ("test", test)):
        if part is None or len(part[1]) == 0:
            continue
        logits, labels = part
        for suffix, t in (("raw", 1.0), ("scaled", temperature)):
            probs = softmax(logits, t)
            report[f"{name}/ece_{suffix}"] = expected_calibration_error(probs, labels)
            report[f"{name}/nll_{suffix}"] = float(-np.log(probs[np.arange(len(labels)), labels] + 1e-12).mean())
    return report
