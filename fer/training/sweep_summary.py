"""Hydra callback: after a multirun, summarise the jobs' test metrics as mean +- std.

Jobs that differ only in `data.fold` are one cross-validation; other overrides (model, data) make
separate rows. Failed jobs are listed, never averaged in silently.
"""

import json
import logging
import math
from collections import defaultdict
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)
REPORTED = ("test/acc", "test/f1", "test/human/acc", "test/animated/acc")


class SweepSummary(Callback):
    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        summary = summarise(Path(config.hydra.sweep.dir))
        if summary["groups"]:
            log.info("sweep summary:\n%s", format_summary(summary))


def summarise(sweep_dir: Path) -> dict:
    jobs = sorted((p for p in sweep_dir.iterdir() if p.is_dir() and (p / ".hydra").is_dir()), key=_job_number)
    overrides = {job: list(OmegaConf.load(job / ".hydra" / "overrides.yaml")) for job in jobs}
    shared = set.intersection(*(set(o) for o in overrides.values())) if overrides else set()
    groups: dict[str, list[dict]] = defaultdict(list)
    failed = []
    for job in jobs:
        # A row per combination of the swept options; options every job shares say nothing.
        key = " ".join(o for o in overrides[job] if o not in shared and not o.startswith("data.fold="))
        metrics_file = job / "metrics.json"
        if not metrics_file.is_file():
            failed.append(job.name)
            continue
        groups[key or "(defaults)"].append(json.loads(metrics_file.read_text()).get("test", {}))
    result = {"groups": {}, "failed_jobs": failed}
    for key, runs in groups.items():
        row = {"runs": len(runs)}
        for metric in REPORTED:
            values = [r[metric] for r in runs if metric in r]
            if values:
                mean = sum(values) / len(values)
                std = math.sqrt(sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1))
                row[metric] = {"mean": mean, "std": std, "values": values}
        result["groups"][key] = row
    (sweep_dir / "summary.json").write_text(json.dumps(result, indent=2))
    return result


def _job_number(path: Path):
    return (0, int(path.name)) if path.name.isdigit() else (1, path.name)


def format_summary(summary: dict) -> str:
    lines = []
    for key, row in summary["groups"].items():
        cells = [f"{m} {row[m]['mean'] * 100:.2f} +- {row[m]['std'] * 100:.2f}" for m in REPORTED if m in row]
        lines.append(f"{key} ({row['runs']} runs): " + ", ".join(cells))
    if summary["failed_jobs"]:
        lines.append(f"failed jobs: {', '.join(summary['failed_jobs'])}")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    print(format_summary(summarise(Path(sys.argv[1]))))
