"""Calibration to a person or a camera: `python bench/calibration.py --write-docs <machine>`'s figures as rows of
docs/results.json, the rule that picks the default method from them, and everything rendered from them: the
tables of docs/calibration.md (between its calibration markers), the README's headline row (between its
calibration-headline markers) and the results page's calibration section.

Rows (one run of the bench, all written together):
- `calibration/person`, `calibration/camera`, `calibration/wrong_person`, `calibration/neutral_only`,
  `calibration/automatic_baseline`: a protocol each. Metrics by the protocol's cell ("jaffe k=1",
  "ckplus48 all faces, unlabelled", as the tables name them): the uncalibrated model's scores (`base`) and each
  method's on the same test faces (`bias`, ..., or `reference`), each `{"acc", "f1", "recall": {expression: %},
  "neutral_precision", "n"}` in % (`n`: test faces). Settings: the weights, the split of the posed faces and
  the number of draws.
- `calibration/strengths`: each method's strengths tried by the gates, strongest first, as
  `{"value", "worst_class_change", "wrong_person_change"}`; the last one tried is the one chosen. Settings: the
  parameter each method's strength sets.
- `calibration/fit_ms`: milliseconds to fit a profile, by method (settings: faces, repeats).
"""

from pathlib import Path

from . import store

PREFIX = "calibration/"
PROTOCOLS = (  # (row id, the bench's key, title)
    ("calibration/person", "person", "Per person"),
    ("calibration/camera", "camera", "Camera (other subjects of the set)"),
    ("calibration/wrong_person", "wrong_person", "A wrong person's profile (k = 2)"),
    ("calibration/neutral_only", "neutral_only", "Neutral photos only"),
    ("calibration/automatic_baseline", "automatic_baseline", "Automatic baseline (no label)"),
)
STRENGTHS, FIT_MS = "calibration/strengths", "calibration/fit_ms"
FIT_FACES, FIT_REPEATS = 70, 7
COMMAND = "python bench/calibration.py --split all --weights <the FER+-alone sibling> --write-docs <machine>"
DOCS_START, DOCS_END = "<!-- calibration:start -->", "<!-- calibration:end -->"
README_START, README_END = "<!-- calibration-headline:start -->", "<!-- calibration-headline:end -->"

# the rule that picks the default method (docs/calibration.md, written before the comparison)
MAX_CLASS_LOSS, MAX_WRONG_PERSON_COST, TIE = 5.0, 5.0, 0.5
SIMPLER_FIRST = ("bias", "prototypes", "centred_prototypes", "linear")  # by how many numbers each fits


def record_calibration(results: store.Results, bench: dict, command: str, stamp: store.Stamp) -> None:
    """Store one run of bench/calibration.py (its results dict) as rows, replacing every calibration row."""
    for row_id in [row_id for row_id in results["rows"] if row_id.startswith(PREFIX)]:
        del results["rows"][row_id]
    run = {"weights": bench["weights"], "split": bench["split"], "draws": bench["draws"]}
    for row_id, key, _ in PROTOCOLS:
        store.record(results, row_id, bench[key], command, stamp, run)
    parameters = {method: tried["parameter"] for method, tried in bench["strengths_tried"].items()}
    tried = {method: tried["tried"] for method, tried in bench["strengths_tried"].items()}
    store.record(results, STRENGTHS, tried, command, stamp, {**run, "parameters": parameters})
    store.record(results, FIT_MS, bench["fit_ms"], command, stamp, {"faces": FIT_FACES, "repeats": FIT_REPEATS})


def methods_of(cells: dict) -> list[str]:
    """The methods a protocol's cells score, in their stored order."""
    first = next(iter(cells.values()))
    return [name for name, scores in first.items() if name != "base" and isinstance(scores, dict)]


def gain(cells: dict, cell: str, method: str) -> float:
    return cells[cell][method]["acc"] - cells[cell]["base"]["acc"]


def gates(person: dict, wrong: dict, name: str) -> tuple[float, float, bool]:
    """A variant's worst fall of one expression's recall (per person, any set and k), the most a wrong person's
    profile costs, and whether both are within the rule's bounds."""
    worst = min(
        person[cell][name]["recall"][c] - person[cell]["base"]["recall"][c]
        for cell in person
        for c in person[cell]["base"]["recall"]
    )
    cost = max(-gain(wrong, cell, name) for cell in wrong)
    return worst, cost, worst >= -MAX_CLASS_LOSS and cost <= MAX_WRONG_PERSON_COST


def apply_rule(person: dict, wrong: dict) -> tuple[str, list[str]]:
    """The default method by the rule, and a line per method saying how it fared."""
    datasets = sorted({cell.split()[0] for cell in person})
    lines, passing = [], {}
    for method in methods_of(person):
        worst, cost, ok = gates(person, wrong, method)
        k2 = sum(gain(person, f"{d} k=2", method) for d in datasets) / len(datasets)
        k1 = sum(gain(person, f"{d} k=1", method) for d in datasets) / len(datasets)
        lines.append(
            f"{method}: mean gain at k=2 {k2:+.2f}, at k=1 {k1:+.2f}; worst class change {worst:+.1f}; "
            f"a wrong person's profile changes accuracy by {-cost:+.1f} at worst: "
            f"{'passes' if ok else 'fails'} the gates"
        )
        if ok:
            passing[method] = (k2, k1)
    if not passing:
        return "bias", lines + ["no method passes the gates: bias is the default"]
    best = max(v[0] for v in passing.values())
    # the simplest method within TIE of the best gain at k=2
    chosen = next(m for m in SIMPLER_FIRST if m in passing and passing[m][0] >= best - TIE)
    return chosen, lines + [f"default by the rule: {chosen}"]


def strength_lines(tried: dict, parameters: dict) -> list[str]:
    """A line per method: the strength chosen (the last one tried) and each one tried on the way."""
    lines = []
    for method, steps in tried.items():
        shown = ", ".join(
            f"{s['value']} ({s['worst_class_change']:+.1f}, {s['wrong_person_change']:+.1f})" for s in steps
        )
        lines.append(
            f"{method}: {parameters[method]} {steps[-1]['value']} (tried, strongest first, as value (worst class "
            f"change, wrong person's change): {shown})"
        )
    return lines


def table(title: str, cells: dict, heading: str = "####") -> list[str]:
    """A protocol's table: each cell's uncalibrated accuracy, each method's with its gain, the largest fall of
    one expression's recall by method, and F1."""
    methods = methods_of(cells)
    lines = [
        f"{heading} {title}",
        "",
        "| faces | base acc | "
        + " | ".join(f"{m} acc (gain)" for m in methods)
        + " | worst class change (method) | base F1 | best F1 |",
        "|---|---:|" + "---:|" * (len(methods) + 3),
    ]
    for cell, r in cells.items():
        base = r["base"]
        shown = [f"{r[m]['acc']:.1f} ({r[m]['acc'] - base['acc']:+.1f})" for m in methods]
        worst = {m: min(r[m]["recall"][c] - base["recall"][c] for c in base["recall"]) for m in methods}
        worst_text = ", ".join(f"{m} {v:+.1f}" for m, v in worst.items())
        best_f1 = max(r[m]["f1"] for m in methods)
        lines.append(
            f"| {cell} ({base['n']} test faces) | {base['acc']:.1f} | "
            + " | ".join(shown)
            + f" | {worst_text} | {base['f1']:.1f} | {best_f1:.1f} |"
        )
    return lines


def _measured(row: dict) -> str:
    return f"{row['machine']}, {row['date']}"


def docs_lines(results: store.Results) -> list[str]:
    """docs/calibration.md's block: every protocol's table, the fit times, the strengths and the rule."""
    person = store.row(results, "calibration/person")
    if not person:
        return []
    run = person["settings"]
    weights = Path(run["weights"]).name
    lines = [
        f"Measured by `{person['command']}` ({_measured(person)}; `{weights}`, split {run['split']}, "
        f"{run['draws']} draws). Accuracy in %, pooled over every test face of the draws; gains against "
        'the uncalibrated model on the same faces; "worst class change": the largest fall of one '
        "expression's recall. CK+48 has one sequence per expression and subject (its frames never on both sides), "
        "so its per-person folds calibrate on the subject's other expressions only: k changes nothing there, and "
        "the test expression never has a calibration face.",
        "",
    ]
    for row_id, _, title in PROTOCOLS:
        found = store.row(results, row_id)
        if found and found["metrics"]:
            lines += [*table(title, found["metrics"]), ""]
    fit = store.row(results, FIT_MS)
    if fit:
        shown = ", ".join(f"{m} {v:.1f} ms" for m, v in fit["metrics"].items())
        settings = fit["settings"]
        lines += [f"Fitting a profile on {settings['faces']} faces (median of {settings['repeats']}): {shown}.", ""]
    strengths = store.row(results, STRENGTHS)
    if strengths:
        lines += [
            "Each method's strength, chosen by the gates (the strongest setting that passes them):",
            "",
            *[f"- {line}" for line in strength_lines(strengths["metrics"], strengths["settings"]["parameters"])],
            "",
        ]
    wrong = store.row(results, "calibration/wrong_person")
    if wrong:
        lines += [
            "The rule, applied to these figures:",
            "",
            *[f"- {line}" for line in apply_rule(person["metrics"], wrong["metrics"])[1]],
        ]
    return lines[:-1] if lines[-1] == "" else lines


def headline_lines(results: store.Results) -> list[str]:
    """The README's row: the default method against the model as it is, per set, at k = 1 and 2."""
    from fer.inference.profile import DEFAULT_METHOD

    row = store.row(results, "calibration/person")
    if not row:
        return []
    person = row["metrics"]
    shown = []
    for dataset in ("jaffe", "ckplus48"):
        for k in (1, 2):
            cell = f"{dataset} k={k}"
            if cell in person:
                shown.append(
                    f"{person[cell]['base']['acc']:.1f} -> {person[cell][DEFAULT_METHOD]['acc']:.1f} "
                    f"({gain(person, cell, DEFAULT_METHOD):+.1f})"
                )
    return [
        "| calibration (default method, " + DEFAULT_METHOD + ") | JAFFE, 1 photo per expression | JAFFE, 2 | "
        "CK+48, 1 | CK+48, 2 |",
        "|---|---:|---:|---:|---:|",
        "| accuracy % of a person's other photos, uncalibrated -> calibrated | " + " | ".join(shown) + " |",
        "",
        f"`{row['command']}` ({_measured(row)}); per-person protocol, "
        + (
            "a model that never saw a posed face (the shipped recipe on FER+ alone)"
            if row["settings"]["split"] == "all"
            else "subjects the model never trained on"
        )
        + ": [docs/calibration.md](docs/calibration.md#what-it-measured).",
    ]


def calibration_section(results: store.Results) -> list[str]:
    """The results page's section: docs/calibration.md's block again, so that every published figure stands on
    one page too."""
    block = docs_lines(results)
    if not block:
        return []
    return [
        "### Calibration to a person or camera",
        "",
        f"From [calibration.md](docs/calibration.md) (regenerated by `{COMMAND}`):",
        "",
        *block,
        "",
    ]
