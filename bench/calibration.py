"""Calibration to a person or a camera, measured on posed faces whose subjects the model never trained on.

    python bench/calibration.py                     # the shipped model on the posed sets' held-out subjects
    python bench/calibration.py --weights <model.onnx> --split all --draws 10
    python bench/calibration.py --weights <model.onnx> --split all --write-docs "<machine>"  # publish them

`--write-docs` stores the figures as the `calibration/...` rows of docs/results.json, naming the machine, and
renders docs/calibration.md's tables, the README's calibration row and docs/results.md from that file
(bench/report_tables/calibration.py), as `python bench/report.py --render-only` does.

The shipped model trained on CK+48 and JAFFE's training folds (data=human, fold 0), so only the subjects of the
validation and test folds are unseen by it (`--split heldout`, the default; the validation subjects steered
only its checkpoint choice and temperature); a model trained without posed faces (FER+ alone)
can be measured on every subject (`--split all`). Faces are read and classified as fer.evaluate does
(the same predictor, mirror-averaged), once; every protocol then works on their log-probabilities and
embeddings.

Protocols (each against the uncalibrated model on the same test faces, mean over `--draws` random draws):
- person: for each subject, k = 1, 2, 3 faces per expression calibrate, that subject's other faces are the
  test. CK+48's frames of one sequence are never on both sides: the test sequence's frames are all test,
  and the calibration faces come from the subject's other sequences (one frame a sequence), so an
  expression the subject showed only in the test sequence has no calibration face and keeps the base
  model's opinion.
- camera: k = 3, 10 faces per expression from half of the subjects of one set calibrate; the other half
  of that set is the test.
- wrong person: subject A's k = 2 profile applied to subject B's faces (same set).
Figures: accuracy, macro-F1, per-class recall and neutral precision, in points (percent).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report_tables import calibration as tables  # noqa: E402
from bench.report_tables import checkout, store, writer  # noqa: E402
from fer.inference.predictor import Predictor  # noqa: E402
from fer.inference.profile import (  # noqa: E402
    DEFAULTS,
    METHODS,
    REFERENCE,
    fit_profile,
    fit_reference_profile,
    learn_references,
    log_softmax,
    save_references,
)
from fer.inference.runtime import load_classifier, weights_path  # noqa: E402
from fer.labels import LABELS  # noqa: E402

DATA_DIR = Path(os.environ.get("FER_DATA_DIR", ROOT.parent / "shared" / "data"))
NEUTRAL = LABELS.index("neutral")


def posed_faces(weights: str | None, split: str, work: Path) -> dict[str, np.ndarray]:
    """Log-probabilities, embeddings, labels, subjects and groups (sequences) of the posed sets' faces."""
    from bench.detectors import splits_of
    from fer.data.datamodule import prepared_data  # noqa: F401  (splits_of reads the data as training does)
    from fer.evaluation.evaluate import predict_records  # noqa: F401

    classifier = load_classifier(weights_path(weights), threads=2)
    splits = splits_of("human", work)
    parts = {"all": ("train", "val", "test"), "heldout": ("val", "test")}.get(split, (split,))
    records = [r for name, part in splits.items() if name in parts for r in part]
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("evaluate", overrides=["data=human", f"paths.data_dir={DATA_DIR}", f"paths.output_dir={work}"])
    sources = prepared_data(cfg.data).sources
    predictor = Predictor(classifier, tta_flip=True)
    logits, embeddings = [], []
    for start in range(0, len(records), 128):
        crops = [sources[r.source].load(r) for r in records[start : start + 128]]
        batch = np.stack([predictor.preprocess(crop) for crop in crops])
        out_logits, out_embeddings = predictor.outputs(batch)
        logits.append(out_logits)
        embeddings.append(out_embeddings)
    return {
        "log_probs": log_softmax(np.concatenate(logits).astype(np.float64) / classifier.temperature),
        "embeddings": np.concatenate(embeddings).astype(np.float64),
        "labels": np.array([r.label for r in records]),
        "subjects": np.array([r.subject for r in records]),
        "sets": np.array([r.source for r in records]),
        "groups": np.array([group_of(r) for r in records]),
    }


def group_of(record) -> str:
    """Frames that must stay on one side: a CK+48 sequence (S010_004_...), else the image itself."""
    name = Path(record.path).name
    return "_".join(name.split("_")[:2]) if record.source == "ckplus48" else name


def scores(log_probs: np.ndarray, labels: np.ndarray) -> dict:
    predicted = log_probs.argmax(axis=1)
    recall, f1 = {}, []
    for c, label in enumerate(LABELS):
        true, called = labels == c, predicted == c
        if true.any():
            recall[label] = 100 * float((predicted[true] == c).mean())
            precision = (predicted[called] == c).mean() if called.any() else 0.0
            r = (predicted[true] == c).mean()
            f1.append(0.0 if precision + r == 0 else 200 * precision * r / (precision + r))
    called = predicted == NEUTRAL
    neutral_precision = 100 * float((labels[called] == NEUTRAL).mean()) if called.any() else None
    return {
        "acc": 100 * float((predicted == labels).mean()),
        "f1": float(np.mean(f1)),
        "recall": recall,
        "neutral_precision": neutral_precision,
        "n": int(len(labels)),
    }


def pooled(parts: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Scores over every test face of a protocol's folds at once."""
    return scores(np.concatenate([p for p, _ in parts]), np.concatenate([y for _, y in parts]))


def person_folds(faces: dict, subject: str, k: int, rng) -> list[tuple[np.ndarray, np.ndarray]]:
    """(calibration indices, test indices) for one subject: each group (sequence or image) is the test once,
    with up to k faces per expression from the subject's other groups (one per group) as calibration."""
    mine = np.flatnonzero(faces["subjects"] == subject)
    groups = faces["groups"][mine]
    folds = []
    for group in np.unique(groups):
        test = mine[groups == group]
        others = mine[groups != group]
        calibration = []
        for c in range(len(LABELS)):
            of_class = others[faces["labels"][others] == c]
            # one face per group: the frames of one sequence are near twins
            firsts = {faces["groups"][i]: i for i in rng.permutation(of_class)}
            calibration += list(rng.permutation(list(firsts.values()))[:k])
        folds.append((np.array(calibration, int), test))
    return folds


class Tally:
    """The test faces of one protocol row: as the base model reads them and as each variant's profile does
    (a variant: a name for a method and its parameters; by default each method with its default parameters)."""

    def __init__(self, faces: dict, variants: dict[str, tuple[str, dict]] | None = None) -> None:
        self.variants = variants or {m: (m, {}) for m in METHODS}
        self.faces, self.base, self.by_method = faces, [], {name: [] for name in self.variants}

    def add(self, calibration: np.ndarray, test: np.ndarray) -> None:
        """One fold: a profile per method fitted on `calibration`, applied to `test` (a fold whose calibration
        shows fewer than two expressions, or has no test face, is left out: no method but bias could fit it)."""
        f = self.faces
        if len(np.unique(f["labels"][calibration])) < 2 or not len(test):
            return
        self.base.append((f["log_probs"][test], f["labels"][test]))
        for name, (method, params) in self.variants.items():
            profile = fit_profile(
                f["log_probs"][calibration],
                f["embeddings"][calibration],
                f["labels"][calibration],
                model_sha256="",
                method=method,
                **params,
            )
            self.by_method[name].append(
                (profile.adjust(f["log_probs"][test], f["embeddings"][test]), f["labels"][test])
            )

    def summary(self) -> dict:
        return {"base": pooled(self.base), **{m: pooled(v) for m, v in self.by_method.items()}}


def person_protocol(faces: dict, ks=(1, 2, 3), draws: int = 5, seed: int = 0, variants=None) -> dict:
    results = {}
    for dataset in np.unique(faces["sets"]):
        subjects = np.unique(faces["subjects"][faces["sets"] == dataset])
        for k in ks:
            tally = Tally(faces, variants)
            for draw in range(draws):
                rng = np.random.default_rng(seed + draw)
                for subject in subjects:
                    for calibration, test in person_folds(faces, subject, k, rng):
                        tally.add(calibration, test)
            results[f"{dataset} k={k}"] = {**tally.summary(), "subjects": int(len(subjects))}
    return results


def per_class(rng, pool: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Up to k random faces of each expression from `pool` (indices)."""
    return np.concatenate([rng.permutation(pool[labels[pool] == c])[:k] for c in range(len(LABELS))]).astype(int)


def camera_protocol(faces: dict, ks=(3, 10), draws: int = 5, seed: int = 0, variants=None) -> dict:
    results = {}
    for dataset in np.unique(faces["sets"]):
        in_set = faces["sets"] == dataset
        subjects = np.unique(faces["subjects"][in_set])
        for k in ks:
            tally = Tally(faces, variants)
            for draw in range(draws):
                rng = np.random.default_rng(seed + draw)
                half = set(rng.permutation(subjects)[: len(subjects) // 2])
                fit_side = np.array([s in half for s in faces["subjects"]]) & in_set
                tally.add(
                    per_class(rng, np.flatnonzero(fit_side), faces["labels"], k), np.flatnonzero(~fit_side & in_set)
                )
            results[f"{dataset} k={k}"] = tally.summary()
    return results


def wrong_person_protocol(faces: dict, k: int = 2, draws: int = 3, seed: int = 0, variants=None) -> dict:
    """A's profile on B's faces (each subject's profile on another subject of the same set, drawn at random)."""
    results = {}
    for dataset in np.unique(faces["sets"]):
        subjects = np.unique(faces["subjects"][faces["sets"] == dataset])
        tally = Tally(faces, variants)
        for draw in range(draws):
            rng = np.random.default_rng(seed + draw)
            for a in subjects:
                b = rng.choice([s for s in subjects if s != a])
                tally.add(
                    per_class(rng, np.flatnonzero(faces["subjects"] == a), faces["labels"], k),
                    np.flatnonzero(faces["subjects"] == b),
                )
        results[f"{dataset} k={k}"] = tally.summary()
    return results


def reference_protocol(faces: dict, kind: str, neutral_faces=(1, 3), draws: int = 5, seed: int = 0) -> dict:
    """Profiles from a subject's reference alone, with references learnt from every other subject (both sets).
    kind neutral: the reference is the mean of 1 or 3 of the subject's neutral faces, the test their other faces
    (JAFFE only: CK+48 has no neutral face); kind mean (baseline=auto): the reference is the mean of all the
    subject's faces, unlabelled, and the test is those same faces."""
    results = {}
    sizes = neutral_faces if kind == "neutral" else (None,)
    for dataset in np.unique(faces["sets"]):
        subjects = np.unique(faces["subjects"][faces["sets"] == dataset])
        for size in sizes:
            base, calibrated_parts = [], []
            for draw in range(draws if kind == "neutral" else 1):
                rng = np.random.default_rng(seed + draw)
                for subject in subjects:
                    mine = np.flatnonzero(faces["subjects"] == subject)
                    if kind == "neutral":
                        neutral = rng.permutation(mine[faces["labels"][mine] == NEUTRAL])
                        if len(neutral) <= size - 1 or len(neutral) == 0:
                            continue
                        reference, test = neutral[:size], np.setdiff1d(mine, neutral[:size])
                    else:
                        reference, test = mine, mine
                    others = faces["subjects"] != subject
                    references = learn_references(
                        faces["log_probs"][others],
                        faces["embeddings"][others],
                        faces["labels"][others],
                        faces["subjects"][others],
                        kind,
                    )
                    profile = fit_reference_profile(faces["embeddings"][reference], references, "")
                    base.append((faces["log_probs"][test], faces["labels"][test]))
                    calibrated_parts.append(
                        (profile.adjust(faces["log_probs"][test], faces["embeddings"][test]), faces["labels"][test])
                    )
            if base:
                name = f"{dataset} {size} neutral" if kind == "neutral" else f"{dataset} all faces, unlabelled"
                results[name] = {"base": pooled(base), REFERENCE: pooled(calibrated_parts)}
    return results


def fit_time_ms(faces: dict, method: str, n: int, repeats: int) -> float:
    """Median milliseconds to fit a profile on n faces (10 per expression where there are)."""
    index = per_class(np.random.default_rng(0), np.arange(len(faces["labels"])), faces["labels"], n // len(LABELS))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fit_profile(faces["log_probs"][index], faces["embeddings"][index], faces["labels"][index], "", method=method)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


# each method's strength, strongest first (docs/calibration.md, "How strong"): a method is compared at the
# strongest setting that passes the gates, since on a person's own faces more strength reads them better until
# it starts to override the expressions their calibration faces did not show
STRENGTHS = {
    "bias": ("shrinkage", (0.3, 0.4, 0.5, 0.6, 0.8, 1.0)),
    "prototypes": ("alpha", (8.0, 6.0, 4.0, 3.0, 2.0, 1.0)),
    "centred_prototypes": ("alpha", (8.0, 6.0, 4.0, 3.0, 2.0, 1.0)),
    "linear": ("shrinkage", (0.3, 0.4, 0.5, 0.6, 0.8, 1.0)),
}


def choose_strengths(faces: dict, draws: int) -> tuple[dict, dict, dict, dict]:
    """Each method's strongest setting that passes the gates (the weakest if none does), with the per-person
    and wrong-person results at that setting, and per method its parameter and the settings tried on the way
    (strongest first, the chosen one last) with what the gates read for each."""
    variants = {f"{m} {name}={v}": (m, {name: v}) for m, (name, values) in STRENGTHS.items() for v in values}
    person = person_protocol(faces, draws=draws, variants=variants)
    wrong = wrong_person_protocol(faces, draws=max(1, draws // 2), variants=variants)
    chosen, tried = {}, {}
    for method, (name, values) in STRENGTHS.items():
        steps = []
        for value in values:
            worst, cost, ok = tables.gates(person, wrong, f"{method} {name}={value}")
            steps.append({"value": value, "worst_class_change": worst, "wrong_person_change": -cost})
            if ok or value == values[-1]:
                chosen[method] = value
                break
        tried[method] = {"parameter": name, "tried": steps}
    pick = {m: f"{m} {STRENGTHS[m][0]}={v}" for m, v in chosen.items()}
    narrowed = [
        {row: {"base": r["base"], **{m: r[pick[m]] for m in METHODS}} for row, r in part.items()}
        for part in (person, wrong)
    ]
    return chosen, narrowed[0], narrowed[1], tried


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default=None, help="model file or shipped name (default: the shipped model)")
    parser.add_argument(
        "--split",
        default="heldout",
        choices=["heldout", "test", "val", "all"],
        help="the posed faces to use: heldout = val + test, the subjects the shipped model never "
        "trained on (val's steered only its checkpoint and temperature)",
    )
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument(
        "--write-references",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="learn the model's references from every posed subject (--split all) and write them "
        "beside the model (or to FILE): what neutral-only calibration and baseline=auto read",
    )
    parser.add_argument(
        "--write-docs",
        metavar="MACHINE",
        default=None,
        help="store the figures in docs/results.json as calibration rows naming the machine they were "
        "measured on, then render the pages from it (docs/calibration.md's tables, the README's "
        "headline row, docs/results.md)",
    )
    parser.add_argument("--reuse", action="store_true", help="reuse the faces' outputs saved by an earlier run")
    parser.add_argument("--out", default="logs/bench/calibration", help="folder for faces.npz and results.json")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cached = out / f"faces-{Path(str(weights_path(args.weights))).stem}-{args.split}.npz"
    if args.reuse and cached.is_file():
        faces = dict(np.load(cached))
    else:
        faces = posed_faces(args.weights, args.split, out)
        np.savez(cached, **faces)
    if args.write_references is not None:
        model = weights_path(args.weights)
        references = [
            learn_references(faces["log_probs"], faces["embeddings"], faces["labels"], faces["subjects"], kind)
            for kind in ("neutral", "mean")
        ]
        written = save_references(references, model, args.write_references or None)
        print(f"wrote {written}: " + "; ".join(f"{r.kind}: {r.subjects} subjects, alpha {r.alpha}" for r in references))
        return 0
    strengths, person, wrong, strengths_tried = choose_strengths(faces, args.draws)
    variants = {m: (m, {STRENGTHS[m][0]: v}) for m, v in strengths.items()}
    results = {
        "strengths": strengths,
        "strengths_tried": strengths_tried,
        "person": person,
        "camera": camera_protocol(faces, draws=args.draws, variants=variants),
        "wrong_person": wrong,
        "neutral_only": reference_protocol(faces, "neutral", draws=args.draws),
        "automatic_baseline": reference_protocol(faces, "mean"),
        "fit_ms": {m: fit_time_ms(faces, m, tables.FIT_FACES, tables.FIT_REPEATS) for m in METHODS},
        "weights": str(weights_path(args.weights)),
        "split": args.split,
        "draws": args.draws,
    }
    (out / "results.json").write_text(json.dumps(results, indent=1))
    command = "python bench/calibration.py " + " ".join(
        a
        for a in (argv if argv is not None else sys.argv[1:])
        if not a.startswith("--write-docs") and a != args.write_docs and a != "--reuse"
    )
    stamp = store.now(args.write_docs)
    # the rows as docs/results.json would hold them, so that what is printed is what the pages show
    rows = {"rows": {}}
    tables.record_calibration(rows, results, command.strip(), stamp)
    print("\n".join(tables.docs_lines(rows)))
    stale = {m: v for m, v in strengths.items() if DEFAULTS[m][STRENGTHS[m][0]] != v}
    if stale:
        print(f"fer/inference/profile.py's DEFAULTS differ from the strengths chosen here: {stale}")
    if args.write_docs:
        stored = store.load()
        tables.record_calibration(stored, results, command.strip(), stamp)
        store.save(stored)
        writer.write(stored)
        print(f"wrote the calibration rows of {checkout.data_file()} and rendered the pages from it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
