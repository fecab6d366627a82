"""bench/report.py: the published pages are rendered from docs/results.json alone and are up to date with it;
measuring stores rows by id, keeps (and marks) the rows it cannot measure, and the written rules choose from the
stored figures. bench/calibration.py --write-docs stores its rows there and renders the same pages."""

import copy
import dataclasses
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from bench.report_tables import (
    calibration,
    candidates_measure,
    candidates_table,
    checkout,
    cross_validation,
    headline,
    store,
    what_helped,
    writer,
)
from bench.report_tables.candidates import V2, V3
from bench.report_tables.cells import KEPT_NOTE
from fer.labels import LABELS
from tests.conftest import ROOT

COMMITTED = store.load(ROOT / "docs" / "results.json")
RERENDER = "render them again: python bench/report.py --render-only"


def test_the_published_pages_are_rendered_from_the_committed_figures():
    assert (ROOT / "docs" / "results.md").read_text() == writer.results_text(COMMITTED), f"docs/results.md: {RERENDER}"
    readme = (ROOT / "README.md").read_text()
    assert writer.readme_text(readme, COMMITTED) == readme, f"the README's results and calibration blocks: {RERENDER}"
    page = (ROOT / "docs" / "calibration.md").read_text()
    assert writer.calibration_text(page, COMMITTED) == page, f"docs/calibration.md's tables: {RERENDER}"


def test_every_row_names_its_command_machine_and_date():
    assert len(COMMITTED["rows"]) > 50
    for row_id, row in COMMITTED["rows"].items():
        assert re.fullmatch(r"[a-z0-9_+]+(/[a-z0-9_+.x]+)+", row_id), row_id
        assert row["command"].strip() and row["machine"].strip(), row_id
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", row["date"]), row_id
        assert isinstance(row["kept"], bool) and isinstance(row["metrics"], dict) and row["metrics"], row_id


def test_a_row_is_found_by_its_id_so_renaming_its_label_keeps_its_figures():
    renamed = dataclasses.replace(V3.runs[2], label="MobileFace V1, renamed")
    version = dataclasses.replace(V3, runs=(*V3.runs[:2], renamed, *V3.runs[3:]))
    table = "\n".join(candidates_table.runs_table(version, COMMITTED))
    assert "| MobileFace V1, renamed | 84.51 | 73.63 | 93.97 |" in table


def test_render_only_writes_the_pages_from_the_json_alone(tmp_path):
    """The entry point on a copy of the checkout holding no runs and no markdown to read figures from."""
    shutil.copytree(ROOT / "bench", tmp_path / "bench", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "docs").mkdir()
    for name in ("docs/results.json", "docs/calibration.md", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shown = subprocess.run(
        [sys.executable, "bench/report.py", "--help"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    assert "--skip-latency" in shown and "--render-only" in shown and "Regenerate every published figure" in shown
    subprocess.run(
        [sys.executable, "bench/report.py", "--render-only"], cwd=tmp_path, check=True, capture_output=True, timeout=60
    )
    assert (tmp_path / "docs" / "results.md").read_text() == (ROOT / "docs" / "results.md").read_text()
    assert (tmp_path / "README.md").read_text() == (ROOT / "README.md").read_text()
    assert (tmp_path / "docs" / "calibration.md").read_text() == (ROOT / "docs" / "calibration.md").read_text()
    assert json.loads((tmp_path / "docs" / "results.json").read_text()) == COMMITTED  # rendering measures nothing


def write_fold(root, task: str, fold: int, acc: float) -> None:
    run = root / "logs" / task / "multiruns" / "t" / str(fold)
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text(f"- data.fold={fold}\n")
    (run / "metrics.json").write_text(json.dumps({"val": {"val/acc": acc}, "test": {"test/acc": acc, "test/f1": acc}}))


def test_sweeps_found_are_measured_the_others_kept_and_differences_follow(tmp_path, monkeypatch):
    monkeypatch.setattr(checkout, "ROOT", tmp_path)
    cross_validation._fold_results.cache_clear()
    for fold in range(2):
        write_fold(tmp_path, "human_cv", fold, 0.5 + fold / 10)
    results = copy.deepcopy(COMMITTED)
    for row in results["rows"].values():
        row["kept"] = False
    stamp = store.Stamp("2-core test machine", "2026-12-31")
    cross_validation.measure_cross_validation(results, stamp)
    what_helped.measure_differences(results)
    cross_validation._fold_results.cache_clear()

    human_cv = results["rows"]["cv/human_cv"]
    assert (human_cv["machine"], human_cv["date"], human_cv["kept"]) == ("2-core test machine", "2026-12-31", False)
    assert human_cv["metrics"]["test_accuracy_per_fold"] == pytest.approx([50.0, 60.0])
    assert results["rows"]["cv/human_synthetic_cv_pretrained"]["kept"]  # no runs here: stored figures, marked
    cv = "\n".join(cross_validation.cv_table(results))
    assert "| Human only, from scratch | 2 | 55.0 ± 7.1 |" in cv
    assert "| Human + synthetic animated, FER2013 pre-trained † | 10 | 89.7 ± 4.1 |" in cv
    # one side measured, the other kept: computed from the stored figure, dated with the later side, marked
    pretraining = results["rows"]["helped/cv_pretraining/test_accuracy_mean"]
    assert pretraining["metrics"]["change"] == pytest.approx(91.6 - 55.0) and pretraining["kept"]
    assert pretraining["date"] == "2026-12-31" and pretraining["compares"] == ["cv/human_cv", "cv/cv_select_unweighted"]
    # both sides kept: the stored difference (from unrounded figures) stays
    assert results["rows"]["helped/cv_synthetic/test_accuracy_mean"]["metrics"]["change"] == -1.83
    assert (
        "| Adding the synthetic animated domain (10-fold CV, mean) † | cv_select_unweighted | "
        "human_synthetic_cv_pretrained | -1.83 |" in "\n".join(what_helped.techniques_table(results))
    )


def test_one_measure_for_every_version_a_shared_run_evaluated_once(tmp_path, monkeypatch):
    monkeypatch.setattr(checkout, "ROOT", tmp_path)
    for folder in ("logs/ferplus_only/final", "logs/ferplus_mobileface/final"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "model.int8.onnx").write_bytes(b"x" * 700_000)
    calls = []

    def evaluate(args, out):
        calls.append(args)
        return {
            "metrics": {
                "acc": 0.5 if "split=all" in args else 0.8,
                "f1": 0.7,
                "ece": 0.02,
                "precision/neutral": 0.1 if "split=all" in args else 0.4,
            }
        }

    monkeypatch.setattr(candidates_measure, "evaluate", evaluate)
    monkeypatch.setattr(candidates_measure, "classify_ms", lambda weights: 0.9)
    results = copy.deepcopy(COMMITTED)
    candidates_measure.measure_candidates(results, tmp_path, store.Stamp("m", "2026-12-31"))

    rows = results["rows"]
    assert rows["v2/z"]["metrics"] == {
        "ferplus_accuracy": 80.0,
        "ferplus_macro_f1": 70.0,
        "ferplus_ece": 0.02,
        "fer2013_accuracy": 80.0,
        "posed_accuracy": 80.0,
        "classify_ms": 0.9,
        "int8_mb": 0.7,
    }
    # the same run in v3's table: zero-shot, so every posed image too, and neutral precision there
    assert rows["v3/cnn_alone"]["metrics"]["posed_all_accuracy"] == 50.0
    assert rows["v3/cnn_alone"]["metrics"]["neutral_precision"] == 0.1
    assert (
        rows["v3/mf_v1"]["metrics"]["posed_all_accuracy"] is None
        and rows["v3/mf_v1"]["metrics"]["neutral_precision"] == 0.4
    )
    shared = [a for a in calls if a[-1] == "weights=logs/ferplus_only/final/model.int8.onnx"]
    assert len(shared) == len({tuple(a) for a in shared}) == 4  # ferplus, fer2013, posed, posed_all: once each
    assert rows["v3/mf_v2"]["kept"] and rows["v2/e"]["kept"] and not rows["v3/mf_v1"]["kept"]
    assert rows["v3/mf_v1"]["command"] == "python train.py experiment=ferplus_mobileface"


def with_figures(**runs: dict) -> store.Results:
    """The committed figures, with some runs' replaced (by row id, with '/' written as '__')."""
    results = copy.deepcopy(COMMITTED)
    for key, metrics in runs.items():
        row_id = key.replace("__", "/")
        if metrics is None:
            results["rows"].pop(row_id, None)
        else:
            results["rows"][row_id] = {
                **results["rows"].get(row_id, {"command": "c", "machine": "m", "date": "d"}),
                "kept": False,
                "metrics": metrics,
            }
    return results


def test_the_committed_figures_choose_what_shipped():
    assert candidates_table.chosen_v2(COMMITTED) == "v2/e"
    assert candidates_table.chosen_v3(COMMITTED) == "MobileFace V1"  # the ensemble scores higher but ships by name
    assert cross_validation.chosen_selection(COMMITTED)[0] == "cv_select_unweighted"


def test_v2_rule_posed_held_out_not_below_v1_then_best_ferplus():
    v2 = {c.metric: 0.0 for c in V2.columns}
    b = {**v2, "ferplus_accuracy": 90.0, "posed_accuracy": 83.0}  # better on FER+, below v1's posed figure
    c = {**v2, "ferplus_accuracy": 89.0, "posed_accuracy": 84.48}
    results = with_figures(v2__b=b, v2__c=c, v2__e=None, v2__f=None, v2__g=None)
    assert candidates_table.chosen_v2(results) == "v2/c"
    table = "\n".join(candidates_table.runs_table(V2, results))
    assert "| C: as B, majority labels instead of vote shares **(chosen)** | 89.00 |" in table
    assert "| E: as B, 24 epochs | not run |" in table and "| A: FER+ votes + posed training folds" in table


def test_v3_rule_weighs_ferplus_and_zero_shot_alike_and_v2_stays_unless_beaten():
    def run(ferplus, posed, zero_shot, ms=1.0, mb=0.7):
        return {
            "ferplus_accuracy": ferplus,
            "posed_accuracy": posed,
            "posed_all_accuracy": zero_shot,
            "classify_ms": ms,
            "int8_mb": mb,
        }

    v2, z_cnn = run(85.79, 91.38, None, mb=1.8), run(82.11, 46.55, 48.0, mb=1.8)
    mf, mf_alone = run(84.51, 93.97, None), run(84.60, 57.76, 59.47)
    base = dict(
        v3__v2=v2,
        v3__cnn_alone=z_cnn,
        v3__mf_v1=mf,
        v3__mf_v1_alone=mf_alone,
        v3__mf_v2=None,
        v3__cnn_taught=None,
        v3__ensemble=None,
    )
    results = with_figures(**base)
    scores = {s["candidate"]: s for s in candidates_table.candidate_scores(results)}
    assert scores["v2"]["A+Z"] == pytest.approx(85.79 + 48.0) and scores["MobileFace V1"]["A+Z"] == pytest.approx(
        84.51 + 59.47
    )
    assert scores["MobileFace V2"]["out"] == "no run on FER+ + posed folds"
    assert candidates_table.chosen_v3(results) == "MobileFace V1"  # lower FER+ Valid, far better zero-shot
    assert "| MobileFace V1 **(chosen)** | 84.51 | 93.97 | 59.47 | 143.98 | – |" in "\n".join(
        candidates_table.v3_rule_table(results)
    )
    # a model that only fits FER+ better does not win
    assert (
        candidates_table.chosen_v3(with_figures(**{**base, "v3__cnn_alone": {**z_cnn, "posed_all_accuracy": 60.0}}))
        is None
    )
    # the gates: posed held-out below v1's, too slow, too large
    for metric, value in (("posed_accuracy", 80.0), ("classify_ms", 2.5), ("int8_mb", 12.0)):
        assert candidates_table.chosen_v3(with_figures(**{**base, "v3__mf_v1": {**mf, metric: value}})) is None
    # without v2's zero-shot figure nothing can beat it by the rule: v2 stays
    assert candidates_table.chosen_v3(with_figures(**{**base, "v3__cnn_alone": None})) is None


def test_the_readme_gets_the_headline_and_the_v3_candidates_only():
    results = with_figures(shipped__ferplus={"accuracy": 85.0, "file_mb": 0.7}, v2__v1=None)
    results["rows"]["shipped/posed"]["kept"] = True
    lines = headline.headline(results)
    table = "\n".join(lines)
    # the shipped row: one of its figures is kept, so the row is marked; v1 has no figures here: dashes, marked
    assert "| **v3, shipped** (fer/assets/default_model.onnx) † | 85.00 | 59.24 | 93.97 | 58.77 | 0.7 |" in table
    assert "| v1, the default before v2 † | – | – | – | – | – |" in table
    assert "| v2, the default before v3 † | 85.79 | 59.74 | 91.38 | 50.53 | 1.8 |" in table
    assert lines[-1] == KEPT_NOTE and "[docs/results.md](docs/results.md)" in table
    assert "| run | FER+ Valid accuracy % | FER+ Valid macro-F1 % | posed fold 0 accuracy % |" in table
    assert "`python train.py experiment=ferplus_mobileface_only` |" in table and "| A + Z | out of the rule |" in table
    assert "### Latency" not in table and "| candidate | FER+ Valid ECE" not in table

    readme = writer.readme_text("# x\n<!-- results:start -->\nold\n<!-- results:end -->\ntail\n", results)
    assert readme.startswith("# x\n<!-- results:start -->\n## Results\n") and readme.endswith(
        "<!-- results:end -->\ntail\n"
    )
    assert "old\n" not in readme


def test_the_calibration_pages_are_rendered_from_its_rows():
    results = copy.deepcopy(COMMITTED)
    person = results["rows"]["calibration/person"]
    person["metrics"]["jaffe k=1"]["linear"]["acc"] = person["metrics"]["jaffe k=1"]["base"]["acc"] + 33.3
    person["date"] = "2026-12-31"
    base = f"{person['metrics']['jaffe k=1']['base']['acc']:.1f}"
    readme = writer.readme_text((ROOT / "README.md").read_text(), results)
    assert f"| {base} -> {float(base) + 33.3:.1f} (+33.3) |" in readme and "AMX, 2026-12-31); per-person" in readme
    page = writer.calibration_text((ROOT / "docs" / "calibration.md").read_text(), results)
    section = "\n".join(calibration.calibration_section(results))
    for text in (page, section):
        assert "| jaffe k=1 (1065 test faces) | 44.6 |" in text and "| 77.9 (+33.3) |" in text
        assert "- linear: shrinkage 0.5 (tried, strongest first," in text and "- default by the rule: linear" in text
    assert section.startswith("### Calibration to a person or camera\n") and "#### Per person" in section

    # without calibration rows the section is left out and the pages' blocks stay as they are
    for row_id in [r for r in results["rows"] if r.startswith("calibration/")]:
        del results["rows"][row_id]
    assert calibration.calibration_section(results) == []
    marked = "a\n<!-- calibration:start -->\nold\n<!-- calibration:end -->\nb\n"
    assert writer.calibration_text(marked, results) == marked
    assert "### Calibration" not in writer.results_text(results)


def synthetic_faces() -> dict[str, np.ndarray]:
    """Posed faces as bench/calibration.py caches them: two JAFFE-like subjects (one photo per expression) and two
    CK+48-like ones (one sequence of two frames per expression, no neutral), each subject's embeddings shifted."""
    rng = np.random.default_rng(0)
    faces = []
    for dataset, frames in (("jaffe", 1), ("ckplus48", 2)):
        for subject in (f"{dataset}0", f"{dataset}1"):
            for c, label in enumerate(LABELS):
                if not (dataset == "ckplus48" and label == "neutral"):
                    faces += [(dataset, subject, c, f"{subject}_{c}_{i if frames == 1 else 0}") for i in range(frames)]
    labels = np.array([c for _, _, c, _ in faces])
    centres, shift = rng.normal(size=(len(LABELS), 16)), {s: rng.normal(scale=0.5, size=16) for _, s, _, _ in faces}
    logits = rng.normal(size=(len(faces), len(LABELS))) + 2 * np.eye(len(LABELS))[labels]
    return {
        "log_probs": logits - np.log(np.exp(logits).sum(axis=1, keepdims=True)),
        "embeddings": np.stack([centres[c] + shift[s] + rng.normal(scale=0.3, size=16) for _, s, c, _ in faces]),
        "labels": labels,
        "subjects": np.array([s for _, s, _, _ in faces]),
        "sets": np.array([d for d, _, _, _ in faces]),
        "groups": np.array([g for _, _, _, g in faces]),
    }


def test_calibration_bench_stores_its_rows_and_renders_the_pages_from_them(tmp_path, monkeypatch):
    from bench import calibration as bench

    (tmp_path / "docs").mkdir()
    for name in ("docs/results.json", "docs/calibration.md", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    monkeypatch.setattr(checkout, "ROOT", tmp_path)
    # one strength a method: the gates' search is the bench's own business, the rows are what is tested here
    monkeypatch.setattr(bench, "STRENGTHS", {m: (name, values[-1:]) for m, (name, values) in bench.STRENGTHS.items()})
    out = tmp_path / "out"
    out.mkdir()
    np.savez(out / "faces-default_model-all.npz", **synthetic_faces())
    args = ["--split", "all", "--draws", "1", "--reuse", "--out", str(out), "--write-docs", "2-core test machine"]
    assert bench.main(args) == 0

    stored = store.load(tmp_path / "docs" / "results.json")
    ids = sorted(r for r in stored["rows"] if r.startswith("calibration/"))
    assert ids == sorted(
        [*(row_id for row_id, _, _ in calibration.PROTOCOLS), calibration.STRENGTHS, calibration.FIT_MS]
    )
    person = stored["rows"]["calibration/person"]
    assert person["command"] == f"python bench/calibration.py --split all --draws 1 --out {out}"
    assert person["machine"] == "2-core test machine" and not person["kept"]
    assert person["settings"] == {"weights": str(bench.weights_path(None)), "split": "all", "draws": 1}
    assert list(person["metrics"]) == [f"{d} k={k}" for d in ("ckplus48", "jaffe") for k in (1, 2, 3)]
    others = {r: row for r, row in COMMITTED["rows"].items() if not r.startswith("calibration/")}
    assert {r: row for r, row in stored["rows"].items() if not r.startswith("calibration/")} == others

    # every page holds the stored figures and is what rendering the stored rows gives
    jaffe = person["metrics"]["jaffe k=1"]
    cell = f"| jaffe k=1 ({jaffe['base']['n']} test faces) | {jaffe['base']['acc']:.1f} |"
    headline = f"| {jaffe['base']['acc']:.1f} -> {jaffe['linear']['acc']:.1f} "
    page, readme = (tmp_path / "docs" / "calibration.md").read_text(), (tmp_path / "README.md").read_text()
    assert cell in page and cell in (tmp_path / "docs" / "results.md").read_text() and headline in readme
    assert page == writer.calibration_text(page, stored) and readme == writer.readme_text(readme, stored)
    assert (tmp_path / "docs" / "results.md").read_text() == writer.results_text(stored)
    committed_page = (ROOT / "docs" / "calibration.md").read_text()
    assert page.split(calibration.DOCS_START)[0] == committed_page.split(calibration.DOCS_START)[0]
    assert page.split(calibration.DOCS_END)[1] == committed_page.split(calibration.DOCS_END)[1]
