"""What the entry points print: each message once, no other library's chatter, a summary at the end."""

import re

import pytest

from fer.utils.console import ConsoleFilter
from tests.conftest import FAST, run_script

# what Lightning, ONNX's exporter passes, wandb and torch print on their own at INFO level or as notices
THIRD_PARTY_CHATTER = (
    "GPU available",
    "TPU available",
    "litlogger",
    "Tip:",
    "onnx_ir",
    "onnxscript",
    "Seed set to",
    "Loading `train_dataloader`",
    "Restoring states",
    "is deprecated",
    "wandb: Tracking run",
    "wandb: Run data is saved",
    "anonymous setting",
)
MAX_LINES = 60


def printed_lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def test_default_training_run_prints_each_line_once_and_ends_with_the_summary(default_run):
    lines = printed_lines(default_run.console)
    assert len(lines) <= MAX_LINES, "\n".join(lines)
    repeated = sorted({line for line in lines if lines.count(line) > 1})
    assert not repeated, repeated
    chatter = [line for line in lines if any(marker in line for marker in THIRD_PARTY_CHATTER)]
    assert not chatter, chatter
    assert not [line for line in lines if line.startswith("INFO")], lines
    # one line per epoch (output is not a terminal, so no progress bar redraws itself into the log)
    assert len([line for line in lines if re.match(r"epoch \d+/10 ", line)]) == 10
    summary = "\n".join(lines[-7:])
    assert re.search(r"done in .*: ", summary), summary
    assert re.search(r"test +acc 0\.\d{4} +f1 0\.\d{4}", summary), summary
    for written in ("model.pt", "model.ts.pt", "model.onnx", "metrics.json", "last.ckpt"):
        assert written in summary, (written, summary)
    assert "wandb sync " in summary
    # ... and everything the terminal did not get is in the run's log file
    log_file = (default_run.folder / "train.log").read_text()
    assert "GPU available" in log_file and "onnx_ir" in log_file


@pytest.mark.slow
def test_verbose_brings_the_libraries_messages_back(tmp_path):
    result = run_script(["train.py", *FAST, "trainer.max_epochs=1", "verbose=true", f"hydra.run.dir={tmp_path}"])
    assert "GPU available" in result.stdout + result.stderr


def test_console_filter_keeps_ours_and_other_libraries_warnings():
    import logging

    def record(name: str, level: int, **extra) -> logging.LogRecord:
        made = logging.LogRecord(name, level, __file__, 1, "message", None, None)
        made.__dict__.update(extra)
        return made

    keep = ConsoleFilter().filter
    assert keep(record("fer.training.train", logging.INFO))
    assert keep(record("lightning.pytorch.trainer", logging.WARNING))
    assert not keep(record("lightning.pytorch.utilities.rank_zero", logging.INFO))
    assert not keep(record("onnx_ir.passes", logging.INFO))
    assert not keep(record("py.warnings", logging.WARNING, library_deprecation=True))
    assert keep(record("py.warnings", logging.WARNING, library_deprecation=False))
    assert not keep(record("fer.training.train", logging.INFO, console=False))  # the epoch line where a bar shows it
