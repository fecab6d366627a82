"""Training throughput, side by side: float32 against bf16 autocast (and torch.compile), per model.

    python bench/train_throughput.py                      # data=fer2013: compact_cnn 48 px, mobileface 100 px,
                                                          # resnet18 112 px
    python bench/train_throughput.py --models compact_cnn --limit-batches 50
    python bench/train_throughput.py --device cuda        # where a GPU exists
    python bench/train_throughput.py --parity             # + 5 FER2013 epochs in fp32 and bf16, PublicTest accuracy

Each variant trains one epoch (or --limit-batches batches) through the real datamodule and
LightningModule, validation off, in a fresh process of its own, one after the other:

    fp32 baseline   float32, NCHW, faces decoded from their files per item (the settings before bf16 work)
    fp32            float32, channels-last, memory-mapped decoded-face cache
    bf16            bf16-mixed autocast, channels-last, face cache
    fp32 compile    as fp32, plus torch.compile (compile time included)

"Data wait" is the time between the end of one step and the start of the next (the loader producing
a batch); "step" is forward, backward and optimiser update. Peak RSS is sampled every 50 ms over the
process and its data-loader workers. Where the CPU has no native bf16 (fer.training.precision), bf16 is
emulated by PyTorch and very slow: its rows run --emulated-bf16-batches batches only, and say so.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import lightning as L
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FER_PROJECT_ROOT", str(ROOT))


class StepTimer(L.Callback):
    def __init__(self) -> None:
        self.waits, self.steps, self.sizes = [], [], []
        self._end = self._start = None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self._start = time.perf_counter()
        if self._end is not None:
            self.waits.append(self._start - self._end)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self._end = time.perf_counter()
        self.steps.append(self._end - self._start)
        self.sizes.append(len(batch[1]))


class PeakRSS:
    """Largest total resident memory of this process and its children, sampled in a thread."""

    def __init__(self, interval: float = 0.05) -> None:
        self.peak, self.interval, self._stop = 0, interval, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = me.memory_info().rss
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


RESULT = "RESULT "
VARIANTS = {
    "fp32 baseline": {"precision": "32", "overrides": ["model.channels_last=false", "data.cache_faces=false"]},
    "fp32": {"precision": "32", "overrides": []},
    "bf16": {"precision": "bf16-mixed", "overrides": []},
    "fp32 compile": {"precision": "32", "overrides": ["model.compile=true"]},
}


def measure(model_name: str, variant: str, args) -> dict:
    import hydra
    import torch
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from fer.data.datamodule import instantiate_data
    from fer.training.precision import cpu_bf16_flag

    spec = VARIANTS[variant]
    emulated = spec["precision"].startswith("bf16") and args.device == "cpu" and not cpu_bf16_flag()
    limit = args.emulated_bf16_batches if emulated else args.limit_batches
    overrides = [
        f"data={args.data}",
        f"model={model_name}",
        f"data.num_workers={args.workers}",
        f"data.batch_size={args.batch_size}",
        f"paths.output_dir={args.out}/{model_name}",
        *spec["overrides"],
    ]
    if args.data_dir:
        overrides.append(f"paths.data_dir={args.data_dir}")
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    L.seed_everything(0)
    datamodule = instantiate_data(cfg.data)
    started = time.perf_counter()
    datamodule.prepare_data()  # scanning, cropping and the face cache are not part of the measured epoch
    datamodule.setup("fit")
    setup_s = time.perf_counter() - started
    module = hydra.utils.instantiate(cfg.model)
    timer = StepTimer()
    trainer = L.Trainer(
        max_epochs=1,
        accelerator="gpu" if args.device == "cuda" else "cpu",
        devices=1,
        precision=spec["precision"],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        limit_train_batches=limit or 1.0,
        callbacks=[timer],
    )
    with PeakRSS() as rss:
        start = time.perf_counter()
        trainer.fit(module, datamodule=datamodule)
        wall = time.perf_counter() - start
    images = sum(timer.sizes)
    wait, step = sum(timer.waits), sum(timer.steps[1:])  # the first step has no wait before it
    per_batch = [n / (w + s) for n, w, s in zip(timer.sizes[1:], timer.waits, timer.steps[1:])]
    return {
        "model": model_name,
        "variant": variant,
        "precision": spec["precision"],
        "emulated_bf16": emulated,
        "image_size": cfg.model.image_size,
        "batches": len(timer.sizes),
        "images": images,
        "wall_s": wall,
        "setup_s": setup_s,
        "images_per_s_epoch": images / wall,
        "images_per_s_median_batch": statistics.median(per_batch),
        "data_wait_share": wait / (wait + step),
        "peak_rss_mb": rss.peak / 2**20,
        "workers": args.workers,
        "batch_size": args.batch_size,
        "torch_threads": torch.get_num_threads(),
    }


def parity(args) -> list[dict]:
    """The same short FER2013 schedule in float32 and bf16 through train.py; PublicTest accuracy of each."""
    from fer.training.precision import cpu_bf16_flag

    if args.device == "cpu" and not cpu_bf16_flag() and not args.force_parity:
        print(
            "parity: skipped: this CPU has no native bf16, so a bf16 FER2013 schedule would take many hours "
            "(--force-parity runs it anyway)"
        )
        return []
    rows = []
    for precision in ("32", "bf16-mixed"):
        run_dir = Path(args.out) / f"parity-{precision}"
        command = [
            sys.executable,
            str(ROOT / "train.py"),
            "data=fer2013",
            "model=compact_cnn",
            "logger=csv",
            f"trainer.max_epochs={args.parity_epochs}",
            f"trainer.precision={precision}",
            "export=false",
            "model.tta_flip=false",
            f"hydra.run.dir={run_dir}",
        ]
        if args.device == "cuda":
            command.append("trainer=gpu")
        started = time.perf_counter()
        subprocess.run(command, check=True, cwd=ROOT)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        rows.append(
            {
                "precision": precision,
                "epochs": args.parity_epochs,
                "wall_s": time.perf_counter() - started,
                "test_acc": metrics["test"]["test/acc"],
                "command": " ".join(command[1:]),
            }
        )
    return rows


def print_table(results: list[dict]) -> None:
    print(
        f"\n{'model':<13}{'variant':<15}{'size':>5}{'images':>8}{'img/s epoch':>12}{'img/s median':>13}"
        f"{'x fp32 base':>12}{'data wait':>10}{'peak RSS':>10}"
    )
    baseline = {r["model"]: r["images_per_s_median_batch"] for r in results if r["variant"] == "fp32 baseline"}
    for r in results:
        ratio = r["images_per_s_median_batch"] / baseline[r["model"]] if r["model"] in baseline else float("nan")
        note = "  (bf16 emulated: no native bf16 on this CPU)" if r["emulated_bf16"] else ""
        print(
            f"{r['model']:<13}{r['variant']:<15}{r['image_size']:>5}{r['images']:>8}{r['images_per_s_epoch']:>12.1f}"
            f"{r['images_per_s_median_batch']:>13.1f}{ratio:>11.2f}x{r['data_wait_share'] * 100:>9.1f}%"
            f"{r['peak_rss_mb']:>8.0f}MB{note}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["compact_cnn", "mobileface", "resnet18"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--data", default="fer2013")
    parser.add_argument("--data-dir", default=None, help="defaults to paths.data_dir (../shared/data)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit-batches", type=int, default=0, help="0: the whole epoch")
    parser.add_argument(
        "--emulated-bf16-batches",
        type=int,
        default=4,
        help="batches for bf16 rows where the CPU emulates bf16 (it is many times slower)",
    )
    parser.add_argument("--parity", action="store_true", help="also train --parity-epochs FER2013 epochs per precision")
    parser.add_argument("--parity-epochs", type=int, default=5)
    parser.add_argument("--force-parity", action="store_true", help="run the parity schedule even with emulated bf16")
    parser.add_argument("--out", default="/tmp/fer-bench")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--single", nargs=2, metavar=("MODEL", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.single:  # one measurement in this fresh process, so peak RSS and compile caches are its own
        print(RESULT + json.dumps(measure(*args.single, args)), flush=True)
        return
    results = []
    for model in args.models:
        for variant in args.variants:
            command = [sys.executable, *sys.argv, "--single", model, variant]
            output = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
            results.append(
                json.loads(next(line for line in output.splitlines() if line.startswith(RESULT))[len(RESULT) :])
            )
            print(json.dumps(results[-1]), flush=True)
    print_table(results)
    parity_rows = parity(args) if args.parity else []
    for row in parity_rows:
        print(
            f"parity {row['precision']:<11} {row['epochs']} epochs: PublicTest acc {row['test_acc'] * 100:.2f} % "
            f"({row['wall_s'] / 60:.1f} min)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"throughput": results, "parity": parity_rows}, indent=2))


if __name__ == "__main__":
    main()
