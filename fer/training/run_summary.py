"""What a training run tells its user: a line per epoch, and at the end where everything went.

The epoch line goes to the run's log file always, and to the terminal when no progress bar shows the
same figures (output to a file or a pipe, where a live bar cannot redraw itself).
"""

import logging
import os
import time
from pathlib import Path

import lightning as L

log = logging.getLogger("fer.training.train")
EPOCH_FIGURES = ("train/loss_epoch", "val/acc", "val/f1")
HEADLINE = ("acc", "f1")


class EpochLine(L.Callback):
    def __init__(self, to_console: bool = True) -> None:
        self.to_console = to_console
        self._start = time.perf_counter()

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        figures = [
            f"{key} {float(trainer.callback_metrics[key]):.4f}"
            for key in EPOCH_FIGURES
            if key in trainer.callback_metrics
        ]
        log.info(
            "epoch %d/%d  %s  (%.1f s)",
            trainer.current_epoch + 1,
            trainer.max_epochs,
            "  ".join(figures),
            time.perf_counter() - self._start,
            extra={"console": self.to_console},
        )


def format_summary(results: dict, output_dir: Path, seconds: float, wandb_dir: str | None) -> str:
    """The last lines of a run: where it is, its figures, the files it wrote."""
    lines = [f"done in {_duration(seconds)}: {_shown(output_dir)}"]
    for stage in ("test", "val"):
        if results.get(stage):
            lines.append(f"  {stage:<5} {_figures(results[stage], stage)}")
    calibration = results.get("calibration")
    precision = results["precision"]["used"]
    if calibration:
        lines.append(
            f"  precision {precision}; temperature {calibration['temperature']:.3f} fitted on val" + _ece(calibration)
        )
    else:
        lines.append(f"  precision {precision}")
    last = output_dir / "checkpoints" / "last.ckpt"
    files = [
        results.get("best_checkpoint"),
        last if last.is_file() else None,
        *(results.get("exports") or {}).values(),
        output_dir / "metrics.json",
    ]
    lines.append(f"  wrote {', '.join(_shown(path, output_dir) for path in files if path)}")
    if wandb_dir:
        lines.append(f"  wandb: offline run, upload with `wandb sync {_shown(wandb_dir)}`")
    return "\n".join(lines)


def _figures(metrics: dict, stage: str) -> str:
    main = [f"{name} {metrics[f'{stage}/{name}']:.4f}" for name in HEADLINE if f"{stage}/{name}" in metrics]
    domains = sorted({key.split("/")[1] for key in metrics if key.count("/") == 2 and key.endswith("/acc")})
    per_domain = [f"{domain} acc {metrics[f'{stage}/{domain}/acc']:.4f}" for domain in domains]
    return "  ".join(main + ([f"({', '.join(per_domain)})"] if len(domains) > 1 else []))


def _ece(calibration: dict) -> str:
    if "test/ece_raw" not in calibration:
        return ""
    return f" (test ECE {calibration['test/ece_raw']:.4f} -> {calibration['test/ece_scaled']:.4f})"


def _shown(path, base: Path | None = None) -> str:
    """A path as short as it can be said: relative to `base` (the working folder) where it lies below it."""
    path, base = Path(path).resolve(), Path(base or os.getcwd()).resolve()
    return str(path.relative_to(base)) if path.is_relative_to(base) else str(path)


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"
