"""Calibration to a person or a camera: a `Profile` fitted on a few labelled faces, numpy only.

    profile = fit_profile(log_probs, embeddings, labels, model_sha256=..., method="linear")
    adjusted = profile.adjust(log_probs, embeddings)        # log-probabilities, renormalised

The base model is never changed: a profile adds a term to its calibrated log-probabilities (logits / T, log
softmax). The methods (`METHODS`):

- `bias`: one number per expression, fitted by cross-entropy with an L2 pull toward 0 (shrinkage); reads only
  the model's output, so it serves files without an embedding output too;
- `prototypes`: the mean direction of each expression's embeddings (the head's hidden layer), cosine
  similarity to it added to the log-probabilities (`alpha` times, centred over the expressions that have one);
- `centred_prototypes`: the same after subtracting the person's mean embedding (what is the person's own,
  their face, light and camera, drops out; what differs between their expressions stays);
- `linear`: a linear layer on the centred embedding added to the log-probabilities, fitted by cross-entropy
  with an L2 pull toward 0, so with few faces it stays close to the base model.

Guarantees of every method: an expression with no example keeps the base model's opinion (its term is 0
and the others' terms are centred, so that on average they move odds only among themselves), and no expression
is made impossible (each term is bounded by `MAX_SHIFT` nats). The file format (JSON) is documented in
docs/calibration.md.
"""

import datetime
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from fer.errors import BadValue, MissingInput
from fer.labels import LABELS
from fer.utils.files import write_atomic

NEUTRAL = LABELS.index("neutral")

FORMAT = "fer-profile/1"
METHODS = ("bias", "prototypes", "centred_prototypes", "linear")
# from the person's reference (neutral faces, or every face for baseline=auto) and references learnt from
# other people (`learn_references`): no expression label needed beyond "neutral"
REFERENCE = "reference"
OUTPUT_ONLY = ("bias",)  # the methods that need no embedding output
# chosen by the rule in docs/calibration.md from `python bench/calibration.py`'s figures
DEFAULT_METHOD = "linear"
MAX_SHIFT = 4.0  # nats: e^-4 = 1/55, so a profile can lower an expression's odds 55-fold at most, never to 0
# each method's strength: the strongest of bench/calibration.py's grid that passes the gates of the rule in
# docs/calibration.md ("How strong")
DEFAULTS = {
    "bias": {"shrinkage": 0.3},
    "prototypes": {"alpha": 6.0},
    "centred_prototypes": {"alpha": 3.0},
    "linear": {"shrinkage": 0.5},
}


@dataclass
class Profile:
    """What calibration learnt, for one model file (its sha256), as plain lists so it saves as JSON."""

    method: str
    model_sha256: str
    params: dict
    counts: list[int]  # calibration faces per expression, in LABELS order
    labels: list[str] = field(default_factory=lambda: list(LABELS))
    bias: list[float] | None = None  # (7,)
    mean: list[float] | None = None  # (D,): the person's mean embedding (centred methods)
    prototypes: list[list[float] | None] | None = None  # 7 rows of D, None for an expression without examples
    weights: list[list[float]] | None = None  # (7, D) for `linear`
    model_file: str = ""
    created: str = ""
    skipped: list[str] = field(default_factory=list)  # calibration inputs without a face, by name
    # on the calibration faces themselves (in-sample: how far the profile moved them, not how well it will
    # read new faces): accuracy and each shown expression's mean probability, before and after
    fit: dict = field(default_factory=dict)
    format: str = FORMAT

    def adjust(self, log_probs: np.ndarray, embeddings: np.ndarray | None) -> np.ndarray:
        """Base log-probabilities (N, 7) -> calibrated log-probabilities (N, 7), each row normalised."""
        return log_softmax(np.asarray(log_probs, np.float64) + self.shift(embeddings, len(log_probs)))

    def shift(self, embeddings: np.ndarray | None, n: int) -> np.ndarray:
        """The term added to the log-probabilities, (n, 7)."""
        if self.method == "bias":
            return np.tile(np.asarray(self.bias, np.float64), (n, 1))
        if embeddings is None:
            raise BadValue(
                f"profile: method {self.method} reads the model's embedding output, and the model "
                "gives none; fit a profile with method=bias for this model file"
            )
        e, fitted = np.asarray(embeddings, np.float64), self.fitted
        if self.method == REFERENCE:
            term = reference_term(e, fitted["mean"], fitted["prototypes"], self.params)
        elif self.method == "linear":
            term = (e - fitted["mean"]) @ fitted["weights"].T + fitted["bias"]
        else:
            term = prototype_term(e, fitted["present"], fitted["prototypes"], fitted.get("mean"), self.params["alpha"])
        return np.clip(term, -MAX_SHIFT, MAX_SHIFT)

    @cached_property
    def fitted(self) -> dict[str, np.ndarray]:
        """What was fitted, as arrays, made once: `shift` runs for every classified face of a video."""
        arrays = {
            name: np.asarray(getattr(self, name), np.float64)
            for name in ("mean", "weights", "bias")
            if getattr(self, name) is not None
        }
        if self.prototypes is not None:
            present = [i for i, row in enumerate(self.prototypes) if row is not None]
            arrays["present"] = np.array(present, int)
            arrays["prototypes"] = np.asarray([self.prototypes[i] for i in present], np.float64)
        return arrays

    @property
    def embedding_size(self) -> int:
        """Width of the embeddings it was fitted on (0 for `bias`)."""
        if self.mean is not None:
            return len(self.mean)
        return next((len(row) for row in self.prototypes or [] if row is not None), 0)

    @property
    def needs_embedding(self) -> bool:
        return self.method not in OUTPUT_ONLY

    def describe(self) -> str:
        counts = ", ".join(f"{label} {count}" for label, count in zip(self.labels, self.counts))
        return f"method {self.method} ({', '.join(f'{k}={v}' for k, v in self.params.items())}); faces: {counts}"

    # --- files ----------------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Written whole or not at all (a temporary file renamed over the target)."""
        return write_atomic(path, json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Profile":
        path = Path(path)
        if not path.is_file():
            raise MissingInput(f"profile: no such file: {path}; make one with fer calibrate source=<folder> out={path}")
        try:
            data = json.loads(path.read_text())
            if data.get("format") != FORMAT:
                raise ValueError(f"format {data.get('format')!r}, expected {FORMAT!r}")
            profile = cls(**data)
            profile.check()
        except (ValueError, TypeError, KeyError, UnicodeDecodeError) as err:
            raise BadValue(
                f"profile: {path} is not a readable profile ({err}); fit it again with fer calibrate"
            ) from None
        return profile

    def check(self) -> None:
        if self.method not in (*METHODS, REFERENCE):
            raise ValueError(f"unknown method {self.method!r}")
        if list(self.labels) != list(LABELS) or len(self.counts) != len(LABELS):
            raise ValueError(f"labels {self.labels} differ from {list(LABELS)}")
        needed = {
            "bias": ("bias",),
            "linear": ("bias", "weights", "mean"),
            "prototypes": ("prototypes",),
            "centred_prototypes": ("prototypes", "mean"),
            REFERENCE: ("prototypes", "mean"),
        }[self.method]
        missing = [name for name in needed if getattr(self, name) is None]
        if self.method == REFERENCE and (
            "alpha" not in self.params or (self.params.get("reference") == "neutral" and "scale" not in self.params)
        ):
            missing.append("params.alpha and params.scale (a reference profile of an earlier version)")
        if missing:
            raise ValueError(f"method {self.method} without {', '.join(missing)}")

    def check_model(self, model_sha256: str, model_name: str, force: bool = False) -> None:
        """The profile was fitted for this model file; `force` accepts another (its figures then mean little)."""
        if self.model_sha256 != model_sha256 and not force:
            raise BadValue(
                f"profile: fitted for model file {self.model_file or '?'} (sha256 {self.model_sha256[:12]}), "
                f"not for {model_name} (sha256 {model_sha256[:12]}); calibrate again with this model "
                "(or pass profile_force=true)"
            )


def profile_for_model(
    profile: "str | os.PathLike | Profile | None",
    model_name: str,
    model_sha256: str,
    embedding_size: int,
    force: bool = False,
) -> "Profile | None":
    """A profile (or its file) checked against the model file it will be applied to (its name and sha256):
    fitted for it (`force` accepts another), and, for the embedding methods, a model with an embedding output."""
    if profile is None:
        return None
    if not isinstance(profile, Profile):
        profile = Profile.load(profile)
    profile.check_model(model_sha256, model_name, force)
    if profile.needs_embedding and not embedding_size:
        raise BadValue(
            f"profile: method {profile.method} reads the embedding output, which {model_name} lacks; "
            "add it with fer export embedding=<the model file> or fit the profile with method=bias"
        )
    if profile.needs_embedding and profile.embedding_size != embedding_size:  # even with force: it cannot apply
        raise BadValue(
            f"profile: its embeddings have {profile.embedding_size} numbers, {model_name}'s "
            f"{embedding_size}: it was fitted for another model; calibrate again with this one"
        )
    return profile


def fit_summary(profile: Profile, log_probs: np.ndarray, embeddings: np.ndarray | None, labels: np.ndarray) -> dict:
    after = profile.adjust(log_probs, embeddings)
    shown = {
        LABELS[c]: [
            round(float(np.exp(log_probs[labels == c, c]).mean()), 4),
            round(float(np.exp(after[labels == c, c]).mean()), 4),
        ]
        for c in range(len(LABELS))
        if (labels == c).any()
    }
    return {
        "faces": int(len(labels)),
        "accuracy_before": round(float((log_probs.argmax(1) == labels).mean()), 4),
        "accuracy_after": round(float((after.argmax(1) == labels).mean()), 4),
        "shown_probability": shown,
    }


def prototype_term(
    e: np.ndarray, present: np.ndarray, prototypes: np.ndarray, mean: np.ndarray | None, alpha: float
) -> np.ndarray:
    """alpha x cosine similarity to the prototypes of the expressions in `present` (one row each), centred over
    them; 0 for the others."""
    centred = unit(e - mean) if mean is not None else unit(e)
    term = np.zeros((len(e), len(LABELS)))
    if len(present):
        similarity = centred @ prototypes.T
        term[:, present] = alpha * (similarity - similarity.mean(axis=1, keepdims=True))
    return term


def reference_term(e: np.ndarray, reference: np.ndarray, prototypes: np.ndarray, params: dict) -> np.ndarray:
    """alpha x the cosine similarity of each face's difference from the reference to the direction each
    expression moves other people's faces from theirs (`prototypes`, unit rows), centred over the expressions.
    With a neutral reference (`params["scale"]`), neutral is read by how *small* the difference is instead:
    1 - distance / scale. A neutral face differs from a neutral reference by noise alone, whose direction
    means nothing; its size is what tells it from an expression."""
    difference = e - reference
    similarity = unit(difference) @ prototypes.T
    if params.get("scale"):
        similarity[:, NEUTRAL] = 1.0 - np.linalg.norm(difference, axis=1) / params["scale"]
    return params["alpha"] * (similarity - similarity.mean(axis=1, keepdims=True))


@dataclass
class References:
    """What other people's faces teach about a person's reference: the direction in which each expression moves
    a face away from its person's reference (7 unit rows of D), and the weight `alpha` that read those people
    best. `kind`: "neutral" (the reference is the mean of a person's neutral faces) or "mean" (of all their
    faces)."""

    kind: str
    prototypes: list[list[float]]
    alpha: float
    subjects: int
    model_sha256: str = ""
    # kind neutral: the median distance of the learning people's expressive faces from their one-photo reference
    # (reference_term reads neutral as a distance well under it); None for kind mean
    scale: float | None = None

    @property
    def params(self) -> dict:
        """The parameters reference_term reads."""
        return {"alpha": self.alpha, **({"scale": self.scale} if self.scale else {})}

    @cached_property
    def prototypes_array(self) -> np.ndarray:
        """`prototypes` as an array, made once (baseline=auto reads it for every classified face)."""
        return np.asarray(self.prototypes, np.float64)


REFERENCES_FORMAT = "fer-references/3"
# baseline=auto: a tracked face's own reference is trusted once it averages this many of its classifications
# (before, it is close to the current face itself, which would read as the smallest difference: neutral)
BASELINE_MIN_FACES = 15


class RunningReference:
    """A tracked face's reference for baseline=auto: the running mean of its own embeddings, no label needed."""

    def __init__(self) -> None:
        self.total: np.ndarray | None = None
        self.count = 0

    def add(self, embedding: np.ndarray) -> None:
        e = np.asarray(embedding, np.float64)
        self.total = e.copy() if self.total is None else self.total + e
        self.count += 1

    @property
    def ready(self) -> bool:
        return self.count >= BASELINE_MIN_FACES

    @property
    def reference(self) -> np.ndarray:
        return self.total / self.count


def baseline_term(embeddings: np.ndarray, references: list[RunningReference], baseline: References) -> np.ndarray:
    """Each face's reference term (0 for a face whose reference is not ready yet), after adding the face to it."""
    term = np.zeros((len(embeddings), len(LABELS)))
    params = baseline.params
    prototypes = baseline.prototypes_array
    for i, (e, reference) in enumerate(zip(embeddings, references)):
        reference.add(e)
        if reference.ready:
            term[i] = reference_term(e[None], reference.reference, prototypes, params)[0]
    return np.clip(term, -MAX_SHIFT, MAX_SHIFT)


def references_path(model_path: str | os.PathLike) -> Path:
    """Where a model's references live: beside it, `<model stem>.references.json`."""
    model_path = Path(model_path)
    return model_path.with_name(f"{model_path.stem}.references.json")


def save_references(
    references: list[References], model_path: str | os.PathLike, out: str | os.PathLike | None = None
) -> Path:
    out = Path(out) if out else references_path(model_path)
    out.write_text(
        json.dumps(
            {
                "format": REFERENCES_FORMAT,
                "model_file": Path(model_path).name,
                "model_sha256": file_sha256(model_path),
                "kinds": {r.kind: {**asdict(r), "prototypes": np.round(r.prototypes, 5).tolist()} for r in references},
            }
        )
    )
    return out


def load_references(model_path: str | os.PathLike, model_sha256: str, kind: str) -> References | None:
    """The model's references of this kind, or None when it has no references file (or one for another model:
    `model_sha256` is the model file's)."""
    path = references_path(model_path)
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    if data.get("format") != REFERENCES_FORMAT or data.get("model_sha256") != model_sha256:
        return None
    found = data["kinds"].get(kind)
    return None if found is None else References(**found)


def subject_references(
    embeddings: np.ndarray, labels: np.ndarray, subjects: np.ndarray, kind: str, first_only: bool = False
) -> dict[str, np.ndarray]:
    """Each subject's reference embedding: the mean of their neutral faces (kind neutral; subjects without
    one are left out; `first_only`: their first neutral face alone) or of all their faces (kind mean)."""
    references = {}
    for subject in np.unique(subjects):
        mine = np.flatnonzero(subjects == subject)
        if kind == "neutral":
            mine = mine[labels[mine] == NEUTRAL]
        if len(mine):
            references[subject] = embeddings[mine[:1] if first_only else mine].mean(axis=0)
    return references


# the strengths learn_references tries; a face's term moves an expression's odds by at most e^(2 alpha)
REFERENCE_ALPHAS = (0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0)
# no expression's recall over the learning faces may fall by more than this (points) at the chosen strength
REFERENCE_MAX_CLASS_LOSS = 5.0


def learn_references(
    log_probs: np.ndarray,
    embeddings: np.ndarray,
    labels: np.ndarray,
    subjects: np.ndarray,
    kind: str,
    model_sha256: str = "",
    alphas=REFERENCE_ALPHAS,
) -> References:
    """References from labelled faces of many people (subject ids known): the mean direction of each face's
    difference from its subject's reference, per expression. `alpha` is the strength of `alphas` that reads
    these faces best while no expression's recall falls by more than REFERENCE_MAX_CLASS_LOSS points; for kind
    neutral it is chosen with each subject's reference as a user gives it (one neutral photo, not the mean of
    all), since a reference from one photo is noisier and a strength fitted to the mean overshoots."""
    refs = subject_references(embeddings, labels, subjects, kind)
    keep = np.array([s in refs for s in subjects])
    e, z, y, who = embeddings[keep], log_probs[keep], labels[keep], subjects[keep]
    x = unit(e - np.stack([refs[s] for s in who]))
    present = [c for c in range(len(LABELS)) if (y == c).any()]
    # an expression no learning subject showed keeps a zero row: its similarity is 0 for every face
    prototypes = np.zeros((len(LABELS), e.shape[1]))
    for c in present:
        prototypes[c] = unit(x[y == c].mean(axis=0))
    as_given = subject_references(e, y, who, kind, first_only=True) if kind == "neutral" else refs
    reference = np.stack([as_given[s] for s in who])
    distance = np.linalg.norm(e - reference, axis=1)
    scale = float(np.median(distance[y != NEUTRAL])) if kind == "neutral" and (y != NEUTRAL).any() else None
    # a face that is its own subject's reference would read as perfectly neutral: it does not choose alpha
    judged = distance > 0
    e, z, y, reference = e[judged], z[judged], y[judged], reference[judged]
    base_hits = z.argmax(1) == y
    best_alpha, best_accuracy = 0.0, -1.0
    for alpha in alphas:
        term = reference_term(e, reference, prototypes, {"alpha": alpha, "scale": scale})
        hits = (z + np.clip(term, -MAX_SHIFT, MAX_SHIFT)).argmax(1) == y
        worst = min(100 * (hits[y == c].mean() - base_hits[y == c].mean()) for c in present if (y == c).any())
        if worst >= -REFERENCE_MAX_CLASS_LOSS and hits.mean() > best_accuracy:
            best_alpha, best_accuracy = alpha, float(hits.mean())
    return References(kind, prototypes.tolist(), best_alpha, len(refs), model_sha256, scale)


def fit_reference_profile(
    embeddings: np.ndarray,
    references: References,
    model_sha256: str,
    model_file: str = "",
    labels: np.ndarray | None = None,
) -> Profile:
    """A profile from a person's reference faces alone: their neutral faces (references.kind neutral) or any
    faces of theirs, unlabelled (kind mean)."""
    e = np.asarray(embeddings, np.float64)
    if len(e) == 0:
        raise BadValue("a reference profile needs at least one face of the person")
    counts = np.bincount(labels, minlength=len(LABELS)) if labels is not None else np.zeros(len(LABELS), int)
    if references.kind == "neutral" and labels is None:
        counts[NEUTRAL] = len(e)
    return Profile(
        method=REFERENCE,
        model_sha256=model_sha256,
        model_file=model_file,
        counts=counts.tolist(),
        params={"reference": references.kind, **references.params, "learnt_from_subjects": references.subjects},
        mean=e.mean(axis=0).tolist(),
        prototypes=references.prototypes,
        created=utc_now(),
    )


# --- fitting --------------------------------------------------------------------------------------------


def fit_profile(
    log_probs: np.ndarray,
    embeddings: np.ndarray | None,
    labels: np.ndarray,
    model_sha256: str,
    method: str = DEFAULT_METHOD,
    model_file: str = "",
    **params,
) -> Profile:
    """A profile from calibration faces: their base log-probabilities (N, 7), embeddings (N, D) or None,
    and labels (N,) as indices into LABELS."""
    if method not in METHODS:
        raise BadValue(f"method={method!r}: choose one of {', '.join(METHODS)}")
    labels = np.asarray(labels, int)
    if len(labels) == 0:
        raise BadValue("calibration needs at least one labelled face; none was given")
    if method not in OUTPUT_ONLY and embeddings is None:
        raise BadValue(
            f"method={method} needs the model's embedding output; this model file has none "
            "(add it with fer export embedding=<the model file>, or use method=bias)"
        )
    counts = np.bincount(labels, minlength=len(LABELS))
    if method in ("prototypes", "centred_prototypes", "linear") and (counts > 0).sum() < 2:
        raise BadValue(
            f"method={method} needs faces of two or more expressions (got only "
            f"{LABELS[int(np.argmax(counts))]}); add faces of other expressions or use method=bias"
        )
    params = {**DEFAULTS[method], **params}
    profile = Profile(
        method=method,
        model_sha256=model_sha256,
        params=params,
        counts=counts.tolist(),
        model_file=model_file,
        created=utc_now(),
    )
    z = np.asarray(log_probs, np.float64)
    if method == "bias":
        profile.bias = fit_shift(z, np.zeros((len(z), 0)), labels, counts, params["shrinkage"])[1].tolist()
    elif method == "linear":
        e = np.asarray(embeddings, np.float64)
        mean = e.mean(axis=0)
        scale = np.linalg.norm(e - mean, axis=1).mean() or 1.0
        weights, bias = fit_shift(z, (e - mean) / scale, labels, counts, params["shrinkage"])
        profile.mean, profile.weights, profile.bias = mean.tolist(), (weights / scale).tolist(), bias.tolist()
    else:
        e = np.asarray(embeddings, np.float64)
        mean = e.mean(axis=0) if method == "centred_prototypes" else None
        centred = unit(e - mean) if mean is not None else unit(e)
        profile.prototypes = [
            unit(centred[labels == c].mean(axis=0)).tolist() if counts[c] else None for c in range(len(LABELS))
        ]
        profile.mean = None if mean is None else mean.tolist()
    return profile


# past 3 faces per expression a profile pulls no harder: faces given together share a sitting, a light and
# often a person, so more of them are less sure than their number says, and the strengths in DEFAULTS were
# validated on up to 3 per expression (uncapped, many faces of a few people cost one expression of the other
# people much of its recall: docs/calibration.md, "How strong")
FULL_STRENGTH_FACES = 3 * len(LABELS)


def fit_shift(
    z: np.ndarray, x: np.ndarray, labels: np.ndarray, counts: np.ndarray, shrinkage: float, steps: int = 150
) -> tuple[np.ndarray, np.ndarray]:
    """W (7, D) and b (7,) minimising the mean cross-entropy of softmax(z + x W^T + b) plus
    shrinkage / min(N, FULL_STRENGTH_FACES) x (|W|^2 + |b|^2), by projected gradient descent with a fixed step
    (small and convex).
    Expressions without examples keep W and b at 0; the others' are centred (`centred`)."""
    n, classes = len(z), z.shape[1]
    present = (counts > 0).astype(np.float64)
    target = np.eye(classes)[labels]
    weights, bias = np.zeros((classes, x.shape[1])), np.zeros(classes)
    step = 1.0 / (1.0 + (x**2).sum(axis=1).mean())  # below 2 / the loss's curvature bound
    penalty = shrinkage / min(n, FULL_STRENGTH_FACES)
    for _ in range(steps):
        error = np.exp(log_softmax(z + x @ weights.T + bias)) - target  # (n, 7)
        grad_b = error.mean(axis=0) + 2 * penalty * bias
        grad_w = error.T @ x / n + 2 * penalty * weights
        bias = centred(np.clip(bias - 2 * step * grad_b * present, -MAX_SHIFT, MAX_SHIFT), present)
        weights = centred(weights - 2 * step * grad_w * present[:, None], present)
    return weights, bias


def centred(rows: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Rows of the expressions with examples minus their mean, the others 0: the term then moves odds between
    the expressions the faces showed and leaves the others where the base model put them."""
    keep = present.astype(bool)
    out = np.zeros_like(rows)
    out[keep] = rows[keep] - rows[keep].mean(axis=0)
    return out


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
