"""The project's own commands, run in the checkout as a user would type them (`python -m fer <command>` is the
`fer` command); a row shows the same command."""

import json
import subprocess
import sys
from pathlib import Path

from . import checkout


def run(args: list[str]) -> None:
    result = subprocess.run([sys.executable, *args], cwd=checkout.ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")


def evaluate(args: list[str], out: Path) -> dict | None:
    """The summary of `fer evaluate <args>`, or None where its weights are not in this checkout."""
    weights = next((a.split("=", 1)[1] for a in args if a.startswith("weights=")), None)
    if weights and not (checkout.ROOT / weights).is_file():
        print(f"  skipped (no {weights})")
        return None
    run(["-m", "fer", "evaluate", *args, f"hydra.run.dir={out}"])
    return json.loads((out / "summary.json").read_text())


def audit(args: list[str], out: Path) -> dict:
    run(["-m", "fer", "audit", *args, f"hydra.run.dir={out}"])
    return json.loads((out / "audit.json").read_text())
