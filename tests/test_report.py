"""bench/report.py on a checkout without logs/: the previous report's rows are kept, marked, not erased;
the README gets the headline table, docs/results.md every table."""

import json
import subprocess
import sys

import pytest

from bench.report_tables import checkout, cross_validation, evaluations, headline, previous, selection, v2_candidates
from bench.report_tables import v2_measure, v2_table, v3_candidates, v3_table, what_helped, writer
from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def checkout_root(tmp_path, monkeypatch):
    """Every table reads runs and the previous report from a temporary checkout."""
    monkeypatch.setattr(checkout, "ROOT", tmp_path)


def write_previous_report(root, rows: list[str]) -> None:
    """An earlier run's docs/results.md (every table) and the README with its headline block."""
    (root / "docs").mkdir(exist_ok=True)
    (root / "docs" / "results.md").write_text("## Results\n\n" + "\n".join(rows) + "\n\n### Latency\n\nfast\n")
    (root / "README.md").write_text("# x\n<!-- results:start -->\n## Results\n\nheadline\n<!-- results:end -->\ntail\n")


def write_fold(root, task: str, fold: int, acc: float) -> None:
    run = root / "logs" / task / "multiruns" / "t" / str(fold)
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(f"- data.fold={fold}\n")
    (run / "metrics.json").write_text(json.dumps({"val": {"val/acc": acc}, "test": {"test/acc": acc, "test/f1": acc}}))


def test_rows_without_runs_are_kept_marked_and_rerun_rows_are_regenerated(tmp_path):
    write_previous_report(tmp_path, [
        "| Human only, from scratch | 10 | 80.0 ± 1.0 | 70.0 ± 2.0 | 80.0 | `cmd` |",
        "| Human + synthetic animated, FER2013 pre-trained | 10 | 85.0 ± 1.0 | 75.0 ± 2.0 | 85.0 | `cmd` |",
        "| 10 epochs, unweighted loss **(chosen)** | 91.0 | 90.0 ± 1.0 | `cmd` |",
        "| Adding the synthetic animated domain (10-fold CV, mean) | cv_select_unweighted | x | -5.17 |",
    ])
    for fold in range(2):
        write_fold(tmp_path, "human_cv", fold, 0.5 + fold / 10)

    cv = "\n".join(cross_validation.cv_table())
    assert "| Human only, from scratch | 2 | 55.0 ± 7.1 |" in cv  # runs here: regenerated, not kept
    assert "| Human + synthetic animated, FER2013 pre-trained † | 10 | 85.0 ± 1.0 |" in cv
    assert selection.chosen_selection()[0] == "cv_select_unweighted"  # the previous report's choice
    helped = "\n".join(what_helped.techniques_table([]))
    assert "| Adding the synthetic animated domain (10-fold CV, mean) † | cv_select_unweighted | x | -5.17 |" in helped
    # one side run here, the other kept: computed from the kept row's printed mean, and marked
    assert "| FER2013 pre-training for the posed sets (10-fold CV, mean) † | human_cv | cv_select_unweighted | +35.00 |" in helped
    assert previous.previous_section("### Latency")[2] == previous.KEPT_SECTION


def test_v2_candidates_are_chosen_by_the_written_rule_and_kept_rows_carry_over(tmp_path):
    v1, a, b, c = (name for name, _, _ in v2_candidates.V2_CANDIDATES[:4])
    write_previous_report(tmp_path, [
        # candidate A in the earlier row format (FER+ Valid, FER2013, posed rows): carried into the v2 table
        "| v2 candidate (FER+ votes + CK+48 + JAFFE, 8 epochs), FER+ Valid, int8 | 3370 | 82.28 | 67.98 | – | 0.169 → 0.020 | `c` |",
        "| v2 candidate, FER2013 PublicTest (original labels), int8 | 3589 | 57.45 | 47.79 | – | 0.087 → 0.244 | `c` |",
        "| v2 candidate, CK+48 + JAFFE held-out subjects (fold 0), int8 | 116 | 84.48 | 76.90 | – | 0.140 → 0.093 | `c` |",
        f"| {v1} | 69.41 | 61.34 | 0.050 | 66.54 | 84.48 | 0.70 | 1.8 | `c` |",
    ])
    results = {name: {"figures": v2_measure.previous_v2_figures(name), "kept": True} for name, _, _ in v2_candidates.V2_CANDIDATES}
    assert results[a]["figures"][:5] == [82.28, 67.98, 0.020, 57.45, 84.48]
    assert v2_table.chosen_v2(results) == a
    results[b] = {"figures": [90.0, 80.0, 0.02, 60.0, 83.0, 1.0, 1.8], "kept": False}  # better on FER+, worse posed
    results[c] = {"figures": [85.0, 70.0, 0.02, 60.0, 84.48, 1.0, 1.8], "kept": False}
    assert v2_table.chosen_v2(results) == c  # B falls below v1's posed figure, so C wins on FER+ Valid
    table = "\n".join(v2_table.v2_table(results))
    assert f"| {a} †" in table and f"| {c} **(chosen)** |" in table and f"| {b} |" in table
    helped = {row[0]: row for row in v2_table.v2_differences(results)}
    assert helped["Vote shares instead of majority labels (C to B), FER+ Valid"][3] == pytest.approx(5.0)


def test_the_readme_gets_the_headline_and_the_v3_candidates_only(tmp_path):
    shipped_ferplus, shipped_fer2013, shipped_posed = (evaluations.EVALUATIONS[i][0] for i in (6, 0, 2))
    write_previous_report(tmp_path, [f"| {shipped_posed} † | 116 | 91.38 | 86.28 | – | 0.1 → 0.1 | `c` |"])
    rows = [(what, args, None) for what, args in evaluations.EVALUATIONS]
    rows[6] = (shipped_ferplus, [], {"metrics": {"acc": 0.8579}})
    rows[0] = (shipped_fer2013, [], {"metrics": {"acc": 0.5974}})
    v1 = v2_candidates.V2_CANDIDATES[0][0]
    lines = headline.headline(rows, {v1: {"figures": [69.41, 61.34, 0.032, 66.54, 84.48, 0.63, 1.8], "kept": True}},
                              {headline.SHIPPED_ZERO_SHOT: {"figures": [84.6, 72.7, 57.76, 59.47, 0.1, 1.0, 0.7],
                                                            "kept": False}})
    table = "\n".join(lines)
    # the shipped row: measured here except the posed figure, kept from docs/results.md, so marked
    assert "| **v3, shipped** (fer/assets/default_model.onnx) † | 85.79 | 59.74 | 91.38 | 59.47 |" in table
    assert "| v1, the default before v2 † | 69.41 | 66.54 | 84.48 | – | 1.8 |" in table
    assert "| v2, the default before v3 † | – | – | – | – | 1.8 |" in table  # no v2 figures anywhere: dashes, marked
    assert lines[-1] == previous.KEPT_NOTE and "[docs/results.md](docs/results.md)" in table
    # the v3 candidates, every column with each run's command; the rule's table after them
    assert "| run | FER+ Valid accuracy % | FER+ Valid macro-F1 % | posed fold 0 accuracy % |" in table
    assert f"| {headline.SHIPPED_ZERO_SHOT} | 84.60 | 72.70 | 57.76 | 59.47 | 0.10 | 1.00 | 0.7 | " in table
    assert "`python train.py experiment=ferplus_mobileface_only` |" in table and "| A + Z | out of the rule |" in table

    writer.write_readme_block(lines)
    readme = (tmp_path / "README.md").read_text()
    assert readme.startswith("# x\n<!-- results:start -->\n## Results\n") and readme.endswith("<!-- results:end -->\ntail\n")
    assert "headline\n" not in readme and "### Latency" not in readme and "| v1, the default before v2 †" in readme
    assert (tmp_path / "docs" / "results.md").read_text().endswith("### Latency\n\nfast\n")  # untouched


def test_the_entry_point_finds_its_tables_and_keeps_its_options():
    shown = subprocess.run([sys.executable, "bench/report.py", "--help"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "--skip-latency" in shown.stdout and "Regenerate every published figure" in shown.stdout


def v3_results(**runs: list[float | None]) -> dict[str, dict]:
    """v3 runs by their place in V3_RUNS (r0 ... r9): figures in V3_COLUMNS order, measured here."""
    results = {name: {"figures": None, "kept": True} for name, _, _, _ in v3_candidates.V3_RUNS}
    for key, figures in runs.items():
        results[v3_candidates.V3_RUNS[int(key[1:])][0]] = {"figures": figures, "kept": False}
    return results


def test_v3_rule_weighs_ferplus_and_zero_shot_alike_and_v2_stays_unless_beaten():
    #            FER+  F1   fold0 all   neutral ms   MB
    v2 = [85.79, 73.9, 91.38, None, 0.5, 1.0, 1.8]
    z_cnn = [82.11, 63.7, 46.55, 48.0, 0.2, 1.0, 1.8]
    mf = [84.51, 73.6, 93.97, None, 0.5, 1.0, 0.7]
    mf_alone = [84.60, 72.7, 57.76, 59.47, 0.1, 1.0, 0.7]
    results = v3_results(r0=v2, r1=z_cnn, r2=mf, r3=mf_alone)
    scores = {s["candidate"]: s for s in v3_table.candidate_scores(results)}
    assert scores["v2"]["A+Z"] == pytest.approx(85.79 + 48.0) and scores["MobileFace V1"]["A+Z"] == pytest.approx(84.51 + 59.47)
    assert scores["MobileFace V2"]["out"] == "no run on FER+ + posed folds"
    assert v3_table.chosen_v3(results) == "MobileFace V1"  # lower FER+ Valid, far better zero-shot
    assert "| MobileFace V1 **(chosen)** | 84.51 | 93.97 | 59.47 | 143.98 | – |" in "\n".join(v3_table.v3_rule_table(results))
    # a model that only fits FER+ better does not win
    assert v3_table.chosen_v3(v3_results(r0=v2, r1=[*z_cnn[:3], 60.0, *z_cnn[4:]], r2=mf, r3=mf_alone)) is None
    # the gates: posed held-out below v1's, too slow, too large
    for column, value in ((v3_candidates.POSED, 80.0), (v3_candidates.CLASSIFY_MS, 2.5), (v3_candidates.INT8_MB, 12.0)):
        gated = [*mf]
        gated[column] = value
        assert v3_table.chosen_v3(v3_results(r0=v2, r1=z_cnn, r2=gated, r3=mf_alone)) is None
    # without v2's zero-shot figure nothing can beat it by the rule: v2 stays
    assert v3_table.chosen_v3(v3_results(r0=v2, r2=mf, r3=mf_alone)) is None
