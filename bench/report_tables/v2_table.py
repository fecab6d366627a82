"""The v2 table: every candidate's figures, the one the written rule chooses, and what each technique changed."""

from .previous import CHOSEN, KEPT
from .v2_candidates import FER2013, FERPLUS, POSED, V1_NAME, V2_CANDIDATES, V2_COLUMNS, V2_FORMATS, V2_REFERENCES

# v1's posed held-out accuracy where v1's figures are missing (docs/models.md)
V1_POSED_FLOOR = 84.48
V2_COMPARISONS = [
    # (technique, baseline candidate, candidate with it, V2_COLUMNS index compared)
    ("FER+ votes instead of FER2013 labels (v1 fine-tuned, B), FER+ Valid", "v", "B", FERPLUS),
    ("FER+ votes instead of FER2013 labels (v1 fine-tuned, B), FER2013 PublicTest original labels", "v", "B", FER2013),
    ("Starting from v1 instead of from scratch (A: 8 epochs, B: 10), FER+ Valid", "A", "B", FERPLUS),
    ("Vote shares instead of majority labels (C to B), FER+ Valid", "C", "B", FERPLUS),
    ("AdamW instead of SGD + Nesterov (D to B), FER+ Valid", "D", "B", FERPLUS),
    ("24 epochs instead of 10 (B to E), FER+ Valid", "B", "E", FERPLUS),
    ("24 epochs instead of 10 (B to E), posed held-out", "B", "E", POSED),
    ("Distillation from an ensemble of C and E (B to F, both 10 epochs), FER+ Valid", "B", "F", FERPLUS),
    ("Distillation from an ensemble of C and E (B to F, both 10 epochs), posed held-out", "B", "F", POSED),
    ("10 more epochs distilled from an ensemble of C, E and F (E to G), FER+ Valid", "E", "G", FERPLUS),
    ("10 more epochs distilled from an ensemble of C, E and F (E to G), posed held-out", "E", "G", POSED),
    ("Training on the posed sets' other people instead of zero-shot (Z to A, both 8 epochs from scratch), posed held-out", "Z", "A", POSED),
]


def chosen_v2(results: dict[str, dict]) -> str | None:
    """The selection rule written down before comparing (docs/models.md): candidates whose posed held-out
    accuracy is not below v1's; of those, the best FER+ Valid accuracy."""
    v1 = results[V1_NAME]["figures"]
    floor = v1[POSED] if v1 and v1[POSED] is not None else V1_POSED_FLOOR
    eligible = [(r["figures"][FERPLUS], name) for name, r in results.items()
                if name not in V2_REFERENCES and r["figures"] and r["figures"][FERPLUS] is not None
                and r["figures"][POSED] is not None and r["figures"][POSED] >= floor - 1e-9]
    return max(eligible)[1] if eligible else None


def v2_table(results: dict[str, dict]) -> list[str]:
    chosen = chosen_v2(results)
    lines = [f"| candidate | {' | '.join(V2_COLUMNS)} | training command |", "|---|" + "---:|" * len(V2_COLUMNS) + "---|"]
    for name, _, command in V2_CANDIDATES:
        r = results[name]
        if r["figures"] is None:
            lines.append(f"| {name} | {' | '.join(['not run'] + [''] * (len(V2_COLUMNS) - 1))} | `{command}` |")
            continue
        values = ["–" if v is None else fmt.format(v) for fmt, v in zip(V2_FORMATS, r["figures"])]
        label = name + (CHOSEN if name == chosen else "") + (KEPT if r["kept"] else "")
        lines.append(f"| {label} | {' | '.join(values)} | `{command}` |")
    return lines


def v2_differences(results: dict[str, dict]) -> list[tuple[str, str, str, float | None, bool, bool]]:
    """(technique, baseline, with it, difference in points, baseline kept, other kept) for the v2 comparisons."""
    names = {name[0]: name for name, _, _ in V2_CANDIDATES}  # candidates by their first letter ("v" for v1)
    out = []
    for technique, a, b, column in V2_COMPARISONS:
        delta, a_kept, b_kept = _difference(results[names[a]], results[names[b]], column)
        out.append((technique, names[a].split(":")[0], names[b].split(":")[0], delta, a_kept, b_kept))
    return out


def _difference(baseline: dict, other: dict, column: int) -> tuple[float | None, bool, bool]:
    """The difference in one column, and whether each side is a kept row (both, where a side has no figure)."""
    x, y = baseline["figures"], other["figures"]
    if not x or not y or x[column] is None or y[column] is None:
        return None, True, True
    return y[column] - x[column], baseline["kept"], other["kept"]
