"""Every version's table of runs (candidates.VERSIONS), from docs/results.json, and the rules that chose v2
and v3 (docs/models.md) applied to those figures."""

from . import store
from .candidates import (
    CLASSIFY_MS_LIMIT,
    INT8_MB_LIMIT,
    POSED_FLOOR,
    TOO_SLOW_FOR_LIVE,
    V1_POSED_FLOOR,
    V2,
    V2_REFERENCES,
    V3_CANDIDATES,
    Version,
)
from .cells import CHOSEN, kept_mark, shown


def runs_table(version: Version, results: store.Results) -> list[str]:
    """One row a run: its figures in the version's columns and its command; "not run" where it has none."""
    chosen = chosen_v2(results) if version.marks_chosen else None
    headers = " | ".join(column.header for column in version.columns)
    lines = [
        f"| {version.first_header} | {headers} | training command |",
        "|---|" + "---:|" * len(version.columns) + "---|",
    ]
    for run in version.runs:
        row = store.row(results, run.id)
        if row is None:
            lines.append(
                f"| {run.label} | {' | '.join(['not run'] + [''] * (len(version.columns) - 1))} | `{run.command}` |"
            )
            continue
        values = " | ".join(shown(row["metrics"].get(c.metric), c.fmt) for c in version.columns)
        label = run.label + (CHOSEN if run.id == chosen else "") + kept_mark(row["kept"])
        lines.append(f"| {label} | {values} | `{row['command']}` |")
    return lines


def chosen_v2(results: store.Results) -> str | None:
    """v2's rule, written down before comparing (docs/models.md): the candidates whose posed held-out accuracy
    is not below v1's; of those, the best FER+ Valid accuracy."""
    v1, _ = store.figure(results, "v2/v1", "posed_accuracy")
    floor = V1_POSED_FLOOR if v1 is None else v1
    eligible = []
    for run in V2.runs:
        ferplus, _ = store.figure(results, run.id, "ferplus_accuracy")
        posed, _ = store.figure(results, run.id, "posed_accuracy")
        if run.id not in V2_REFERENCES and ferplus is not None and posed is not None and posed >= floor - 1e-9:
            eligible.append((ferplus, run.id))
    return max(eligible)[1] if eligible else None


def candidate_scores(results: store.Results) -> list[dict]:
    """Per v3 candidate: A (FER+ Valid) and P (posed fold 0) of its shipping run, Z (every posed image,
    zero-shot) of its FER+-alone sibling, and why it is out of the rule (gates or a run missing), if it is."""
    scores = []
    for candidate, shipping, sibling in V3_CANDIDATES:
        ship = {
            m: store.figure(results, shipping, m)[0]
            for m in ("ferplus_accuracy", "posed_accuracy", "classify_ms", "int8_mb")
        }
        a, p = ship["ferplus_accuracy"], ship["posed_accuracy"]
        z = store.figure(results, sibling, "posed_all_accuracy")[0]
        out = _gate(a, p, z, ship["classify_ms"], ship["int8_mb"])
        slow = "" if out else TOO_SLOW_FOR_LIVE.get(candidate, "")
        scores.append(
            {
                "candidate": candidate,
                "A": a,
                "P": p,
                "Z": z,
                "A+Z": None if out else a + z,
                "out": out or slow,
                "default": not (out or slow),
            }
        )
    return scores


def _gate(a: float | None, p: float | None, z: float | None, ms: float | None, mb: float | None) -> str:
    if a is None or p is None:
        return "no run on FER+ + posed folds"
    if z is None:
        return "no run on FER+ alone"
    if p < POSED_FLOOR - 1e-9:
        return f"posed held-out below {POSED_FLOOR}"
    if ms is not None and ms > CLASSIFY_MS_LIMIT:
        return f"classifies in over {CLASSIFY_MS_LIMIT:g} ms"
    if mb is not None and mb > INT8_MB_LIMIT:
        return f"file over {INT8_MB_LIMIT:g} MB"
    return ""


def chosen_v3(results: store.Results) -> str | None:
    """v3's rule, written before comparing (docs/models.md): of the candidates through the gates, the highest
    A + Z, which replaces v2 only if it beats v2's A + Z; one too slow for the live loop ships by name instead
    of as the default. None: v2 stays."""
    scores = candidate_scores(results)
    incumbent = next(s["A+Z"] for s in scores if s["candidate"] == "v2")
    challengers = [(s["A+Z"], s["candidate"]) for s in scores if s["candidate"] != "v2" and s["default"]]
    if incumbent is None or not challengers:
        return None
    best_score, best = max(challengers)
    return best if best_score > incumbent else None


def v3_rule_table(results: store.Results) -> list[str]:
    chosen = chosen_v3(results) or "v2"
    lines = [
        "| candidate | A: FER+ Valid % | P: posed held-out % | Z: zero-shot posed, all images % | A + Z | "
        "out of the rule |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for s in candidate_scores(results):
        cells = " | ".join(shown(s[k]) for k in ("A", "P", "Z", "A+Z"))
        label = s["candidate"] + (CHOSEN if s["candidate"] == chosen else "")
        lines.append(f"| {label} | {cells} | {s['out'] or '–'} |")
    return lines
