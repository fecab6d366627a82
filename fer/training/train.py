"""The training task behind `train.py`: build everything from the Hydra config, fit, test, export."""

import json
import logging
import time
import traceback
from pathlib import Path

import hydra
import lightning as L
import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from lightning.pytorch.callbacks import ModelSummary, ProgressBar
from omegaconf import DictConfig, OmegaConf
from rich.console import Console

import fer.models.resolvers  # noqa: F401  (conf/input/mobileface.yaml's ${mobileface:...}, which the data reads first)
from fer.data.datamodule import instantiate_data
from fer.errors import BadValue
from fer.evaluation.calibration import calibration_report
from fer.export.export import EXPORTERS, export_onnx
from fer.export.quantize import INT8, faces_from_loader, quantize_onnx
from fer.inference.options import RecognizerOptions
from fer.models.model_file import load_model_file, save_model_file
from fer.training.precision import resolve_precision
from fer.training.run_summary import EpochLine, format_summary
from fer.utils.console import tidy_console

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> float | None:
    """Train once; in a multirun a failing job is logged and recorded, and the sweep goes on."""
    tidy_console(verbose=bool(cfg.get("verbose")))
    if not _in_multirun():
        return train(cfg)["objective"]
    try:
        return train(cfg)["objective"]
    except Exception:  # noqa: BLE001 - one failing job must not stop a sweep
        message = traceback.format_exc()
        log.error("run failed; the sweep continues:\n%s", message)
        Path(cfg.paths.output_dir, "failed.txt").write_text(message)
        return None


def train(cfg: DictConfig) -> dict:
    started = time.perf_counter()
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    datamodule = instantiate_data(cfg.data)
    model = hydra.utils.instantiate(cfg.model)
    _check_input(model, datamodule)
    log.info("model: %s", _describe(model, cfg.model))
    callbacks = _callbacks(cfg)
    loggers = [hydra.utils.instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    precision, why = resolve_precision(cfg.trainer.get("precision"), cfg.trainer.get("accelerator"))
    log.info("precision: %s (%s)", precision, why)
    trainer: L.Trainer = hydra.utils.instantiate(
        cfg.trainer,
        callbacks=callbacks,
        logger=loggers or False,
        precision=precision,
        enable_progress_bar=any(isinstance(c, ProgressBar) for c in callbacks),
        enable_model_summary=any(isinstance(c, ModelSummary) for c in callbacks),
    )
    for logger in loggers:
        logger.log_hyperparams(OmegaConf.to_container(cfg, resolve=True))

    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    results = {"precision": {"used": precision, "why": why}, "val": dict(model.last_results.get("val", {}))}
    best = _best_checkpoint(trainer)
    if cfg.get("test") and not datamodule.splits["test"]:
        log.info("test skipped: the data has no test part (FER+ without FER2013Test, for one); see the val metrics")
    elif cfg.get("test"):
        # verbose=False: Lightning's table of every test figure; the run's summary gives the headline ones
        trainer.test(model, datamodule=datamodule, ckpt_path=best or None, weights_only=True, verbose=False)
        results["test"] = dict(model.last_results.get("test", {}))
    if cfg.get("export") and trainer.is_global_zero and best:
        results["calibration"] = calibrate(best, datamodule)
        extra = {"temperature": results["calibration"]["temperature"]}
        results["exports"] = _export(best, output_dir, cfg.get("export_formats") or [], extra, datamodule)
    results["best_checkpoint"] = best
    results["objective"] = _objective(trainer, cfg.get("optimized_metric"))
    if trainer.is_global_zero:
        (output_dir / "metrics.json").write_text(json.dumps(results, indent=2))
        log.info("%s", format_summary(results, output_dir, time.perf_counter() - started, _wandb_offline_dir(loggers)))
    return results


def _callbacks(cfg: DictConfig) -> list[L.Callback]:
    """The configured callbacks, the progress bar only where it can draw (a terminal), and the epoch line:
    in a file or pipe a live bar would print its whole state again at every epoch."""
    callbacks = [hydra.utils.instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    if not Console().is_terminal:
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    bar = any(isinstance(c, ProgressBar) for c in callbacks)
    return [*callbacks, EpochLine(to_console=not bar)]


def _check_input(model, datamodule) -> None:
    """The input the model records (what its exports and infer.py size faces to) is the one its batches have: both
    configs read conf/input/, but an override of model.image_size (say) would part them."""
    hparams = model.hparams
    recorded = (hparams.image_size, hparams.arch.get("in_chans", 1), hparams.mean, hparams.std)
    fed = (datamodule.image_size, datamodule.channels, datamodule.mean, datamodule.std)
    if recorded != fed:
        raise BadValue(
            f"the model's input (image_size, channels, mean, std) {recorded} is not the data's {fed}: "
            "set it once for both as input.image_size=, input.channels=, input.mean=, input.std="
        )


def _describe(model, model_cfg: DictConfig) -> str:
    parameters = sum(p.numel() for p in model.parameters())
    channels = "grey" if model_cfg.arch.get("in_chans", 1) == 1 else f"{model_cfg.arch.in_chans} channels"
    return (
        f"{model_cfg.arch.backbone} backbone + MLP head, {parameters / 1e6:.2f} M parameters, "
        f"{model_cfg.image_size} px {channels}"
    )


def _wandb_offline_dir(loggers) -> str | None:
    for logger in loggers:
        if type(logger).__name__ == "WandbLogger" and logger.experiment.offline:
            return str(Path(logger.experiment.dir).parent)
    return None


def _best_checkpoint(trainer: L.Trainer) -> str:
    callback = trainer.checkpoint_callback
    if callback is None:
        return ""
    return callback.best_model_path or callback.last_model_path or ""


def calibrate(checkpoint: str, datamodule) -> dict:
    """Temperature fitted on the validation logits of the best model, with ECE before and after. The logits
    are the ones inference divides by it: each face averaged with its mirror image, as infer.py, the API and
    fer serve read faces by default (RecognizerOptions.tta_flip)."""
    model, _, _ = load_model_file(checkpoint)
    mirror = RecognizerOptions().tta_flip
    val = _logits(model, datamodule.val_dataloader(), mirror)
    test = _logits(model, datamodule.test_dataloader(), mirror) if datamodule.splits["test"] else None
    return calibration_report(val, test)


def _logits(model, loader, mirror: bool) -> tuple[np.ndarray, np.ndarray]:
    outputs, targets = [], []
    with torch.inference_mode():
        for images, labels, *_ in loader:
            logits = model(images)
            if mirror:
                logits = (logits + model(images.flip(-1))) / 2
            outputs.append(logits.numpy())
            targets.append(labels.numpy())
    return np.concatenate(outputs), np.concatenate(targets)


def _export(
    checkpoint: str, output_dir: Path, formats: list[str], extra: dict | None = None, datamodule=None
) -> dict[str, str]:
    """The best checkpoint as a standalone model file (state_dict + metadata such as the fitted
    temperature, no optimiser state), plus the deployable formats asked for (TorchScript, ONNX,
    int8 ONNX calibrated on the validation faces)."""
    model, pre, _ = load_model_file(checkpoint)
    model_file = save_model_file(output_dir / "model.pt", model, pre, extra)
    written = {"model_file": str(model_file)}
    unknown = [f for f in formats if f not in EXPORTERS and f != INT8]
    if unknown:
        raise ValueError(f"export_formats: unknown format {unknown[0]!r}; choose from {', '.join([*EXPORTERS, INT8])}")
    for fmt in formats:
        if fmt in EXPORTERS:
            exporter, suffix = EXPORTERS[fmt]
            written[fmt] = str(exporter(model_file, output_dir / f"model{suffix}"))
    if INT8 in formats:
        fp32 = written.get("onnx") or str(export_onnx(model_file, output_dir / "model.onnx"))
        faces = faces_from_loader(datamodule.val_dataloader())
        written[INT8] = str(quantize_onnx(fp32, output_dir / "model.int8.onnx", faces))
    return written


def _objective(trainer: L.Trainer, metric: str | None) -> float | None:
    callback = trainer.checkpoint_callback
    if callback is not None and callback.monitor == metric and callback.best_model_score is not None:
        return float(callback.best_model_score)
    value = trainer.callback_metrics.get(metric) if metric else None
    return float(value) if value is not None else None


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
