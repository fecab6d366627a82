"""Training throughput: images/s, peak memory and the share of step time spent waiting on data.

    python bench/train_throughput.py                       # data=fer2013, compact_cnn and resnet18
    python bench/train_throughput.py --models compact_cnn --limit-batches 50 --workers 2

One training epoch (or --limit-batches batches) per model through the real datamodule and
LightningModule, validation off. "Data wait" is the time between the end of one step and the start
of the next (the loader producing a batch); "step" is forward, backward and optimiser update.
Peak RSS is sampled every 50 ms over the process and its data-loader workers.
"""

import argparse
import json
import os
import statistics
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


def measure(model_name: str, args) -> dict:
    import hydra
    from hydra import compose, initialize_config_dir

    from fer.train import instantiate_data

    overrides = [f"data={args.data}", f"model={model_name}", f"data.num_workers={args.workers}",
                 f"data.batch_size={args.batch_size}", f"paths.output_dir={args.out}/{model_name}"]
    if args.data_dir:
        overrides.append(f"paths.data_dir={args.data_dir}")
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    L.seed_everything(0)
    datamodule = instantiate_data(cfg.data)
    datamodule.setup("fit")  # scanning and cropping are not part of the measured epoch
    module = hydra.utils.instantiate(cfg.model)
    timer = StepTimer()
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, limit_val_batches=0,
                        num_sanity_val_steps=0, limit_train_batches=args.limit_batches or 1.0, callbacks=[timer])
    with PeakRSS() as rss:
        start = time.perf_counter()
        trainer.fit(module, datamodule=datamodule)
        wall = time.perf_counter() - start
    images = sum(timer.sizes)
    wait, step = sum(timer.waits), sum(timer.steps[1:])  # the first step has no wait before it
    per_batch = [n / (w + s) for n, w, s in zip(timer.sizes[1:], timer.waits, timer.steps[1:])]
    return {
        "model": model_name, "image_size": cfg.model.image_size, "batches": len(timer.sizes), "images": images,
        "images_per_s_epoch": images / wall, "images_per_s_median_batch": statistics.median(per_batch),
        "data_wait_share": wait / (wait + step), "peak_rss_mb": rss.peak / 2**20,
        "workers": args.workers, "batch_size": args.batch_size, "torch_threads": __import__("torch").get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["compact_cnn", "resnet18"])
    parser.add_argument("--data", default="fer2013")
    parser.add_argument("--data-dir", default=None, help="defaults to paths.data_dir (../shared/data)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit-batches", type=int, default=0, help="0: the whole epoch")
    parser.add_argument("--out", default="/tmp/fer-bench")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    results = [measure(m, args) for m in args.models]
    print(f"\n{'model':<14}{'size':>5}{'images':>8}{'img/s epoch':>13}{'img/s median':>14}{'data wait':>11}{'peak RSS':>11}")
    for r in results:
        print(f"{r['model']:<14}{r['image_size']:>5}{r['images']:>8}{r['images_per_s_epoch']:>13.1f}"
              f"{r['images_per_s_median_batch']:>14.1f}{r['data_wait_share'] * 100:>10.1f}%{r['peak_rss_mb']:>9.0f}MB")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
