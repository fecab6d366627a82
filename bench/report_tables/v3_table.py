"""The v3 tables: every run's figures, and the candidates the written rule compares (A + Z)."""

from .previous import CHOSEN, KEPT
from .v3_candidates import (CLASSIFY_MS, CLASSIFY_MS_LIMIT, FERPLUS, INT8_MB, INT8_MB_LIMIT, POSED, POSED_ALL,
                            POSED_FLOOR, TOO_SLOW_FOR_LIVE, V3_CANDIDATES, V3_COLUMNS, V3_FORMATS, V3_RUNS)


def v3_runs_table(results: dict[str, dict]) -> list[str]:
    lines = [f"| run | {' | '.join(V3_COLUMNS)} | training command |", "|---|" + "---:|" * len(V3_COLUMNS) + "---|"]
    for name, _, _, command in V3_RUNS:
        run = results.get(name) or {"figures": None, "kept": False}
        figures = run["figures"]
        if figures is None:
            lines.append(f"| {name} | {' | '.join(['not run'] + [''] * (len(V3_COLUMNS) - 1))} | `{command}` |")
            continue
        values = ["–" if v is None else fmt.format(v) for fmt, v in zip(V3_FORMATS, figures)]
        lines.append(f"| {name}{KEPT if run['kept'] else ''} | {' | '.join(values)} | `{command}` |")
    return lines


def candidate_scores(results: dict[str, dict]) -> list[dict]:
    """Per candidate: A (FER+ Valid) and P (posed fold 0) of its shipping run, Z (every posed image, zero-shot)
    of its FER+-alone sibling, and why it is out of the rule (gates or a run missing), if it is."""
    scores = []
    for candidate, shipping, sibling in V3_CANDIDATES:
        ship = _figures(results, shipping)
        zero = _figures(results, sibling)
        a, p, z = ship and ship[FERPLUS], ship and ship[POSED], zero and zero[POSED_ALL]
        out = _gate(ship, zero)
        slow = "" if out else TOO_SLOW_FOR_LIVE.get(candidate, "")
        scores.append({"candidate": candidate, "A": a, "P": p, "Z": z, "A+Z": None if out else a + z,
                       "out": out or slow, "default": not (out or slow)})
    return scores


def _figures(results: dict[str, dict], name: str | None) -> list[float | None] | None:
    return (results.get(name) or {}).get("figures") if name else None


def _gate(ship: list | None, zero: list | None) -> str:
    if not ship or ship[FERPLUS] is None or ship[POSED] is None:
        return "no run on FER+ + posed folds"
    if not zero or zero[POSED_ALL] is None:
        return "no run on FER+ alone"
    if ship[POSED] < POSED_FLOOR - 1e-9:
        return f"posed held-out below {POSED_FLOOR}"
    if ship[CLASSIFY_MS] is not None and ship[CLASSIFY_MS] > CLASSIFY_MS_LIMIT:
        return f"classifies in over {CLASSIFY_MS_LIMIT:g} ms"
    if ship[INT8_MB] is not None and ship[INT8_MB] > INT8_MB_LIMIT:
        return f"file over {INT8_MB_LIMIT:g} MB"
    return ""


def chosen_v3(results: dict[str, dict]) -> str | None:
    """The rule written before comparing (docs/models.md): of the candidates through the gates, the highest
    A + Z, which replaces v2 only if it beats v2's A + Z; one too slow for the live loop ships by name instead
    of as the default. None: v2 stays."""
    scores = candidate_scores(results)
    incumbent = next(s["A+Z"] for s in scores if s["candidate"] == "v2")
    challengers = [(s["A+Z"], s["candidate"]) for s in scores if s["candidate"] != "v2" and s["default"]]
    if incumbent is None or not challengers:
        return None
    best_score, best = max(challengers)
    return best if best_score > incumbent else None


def v3_rule_table(results: dict[str, dict]) -> list[str]:
    chosen = chosen_v3(results) or "v2"
    lines = ["| candidate | A: FER+ Valid % | P: posed held-out % | Z: zero-shot posed, all images % | A + Z | out of the rule |",
             "|---|---:|---:|---:|---:|---|"]
    for s in candidate_scores(results):
        cells = ["–" if s[k] is None else f"{s[k]:.2f}" for k in ("A", "P", "Z", "A+Z")]
        label = s["candidate"] + (CHOSEN if s["candidate"] == chosen else "")
        lines.append(f"| {label} | {' | '.join(cells)} | {s['out'] or '–'} |")
    return lines
