"""Each v3 run's figures: its int8 export evaluated here, or its row in the previous report."""

from pathlib import Path

from . import checkout
from .cells import cells, number
from .commands import evaluate
from .previous import measured_or_kept, previous_rows
from .v2_measure import classify_ms
from .v3_candidates import V3_COLUMNS, V3_RUNS


def v3_results(work: Path) -> dict[str, dict]:
    """Per run: {"figures": [the V3_COLUMNS numbers] or None, "kept": whether from the previous report}."""
    return {name: measured_or_kept(name, folder, lambda f=folder, a=alone, i=i: measured_figures(f, a, work / f"v3_{i}"),
                                   previous_v3_figures)
            for i, (name, folder, alone, _) in enumerate(V3_RUNS)}


def measured_figures(folder: str, ferplus_alone: bool, out: Path) -> list[float | None]:
    """A run's V3_COLUMNS. Neutral precision is on the posed faces it never trained on: fold 0, or every
    image for a run on FER+ alone."""
    weights = f"weights={folder}/model.int8.onnx"
    ferplus = evaluate(["data=ferplus", weights], out.with_name(f"{out.name}_ferplus"))["metrics"]
    fold0 = evaluate(["data=human", weights], out.with_name(f"{out.name}_posed"))["metrics"]
    every = evaluate(["data=human", "split=all", weights], out.with_name(f"{out.name}_posed_all"))["metrics"] \
        if ferplus_alone else None
    unseen = every or fold0
    file = checkout.ROOT / folder / "model.int8.onnx"
    return [100 * ferplus["acc"], 100 * ferplus["f1"], 100 * fold0["acc"], every and 100 * every["acc"],
            unseen["precision/neutral"], classify_ms(file), file.stat().st_size / 1e6]


def previous_v3_figures(name: str) -> list[float | None] | None:
    """A run's figures as the previous report printed them; None where it has none (a "not run" row)."""
    row = previous_rows().get(name)
    figures = [number(c) for c in cells(row)[1:1 + len(V3_COLUMNS)]] if row else []
    return figures if any(f is not None for f in figures) else None
