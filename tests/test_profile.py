"""Calibration to a person: profiles fitted on a few labelled faces (fer.inference.profile), through the API,
`fer calibrate`, infer.py and fer.evaluate, with the shipped model; every bad input named in one line.

The person is a drawn face of an identity the model never saw (the package's synthetic faces): the shipped
model reads 38 % of its expressions right, and a profile from three faces per expression must do better."""

import json
import logging

import cv2
import numpy as np
import onnx
import pytest

import fer
from fer.data.synthetic_faces import draw_face, sample_identity
from fer.errors import BadValue, MissingInput
from fer.export.embedding import remove_embedding_output
from fer.inference.profile import (
    DEFAULT_METHOD,
    MAX_SHIFT,
    METHODS,
    Profile,
    file_sha256,
    fit_profile,
    fit_reference_profile,
    learn_references,
    log_softmax,
)
from fer.inference.runtime import weights_path
from fer.labels import LABELS
from tests.conftest import ROOT, compose_config, run_script

IDENTITY = 7


def drawn(seeds, identity: int = IDENTITY) -> dict[str, list[np.ndarray]]:
    """{label: face crops} of one drawn person."""
    return {
        label: [draw_face(sample_identity(identity), i, seed=s, size=128) for s in seeds]
        for i, label in enumerate(LABELS)
    }


def accuracy(recognizer, faces: dict) -> float:
    hits = [recognizer.predict(face)[0]["label"] == label for label, crops in faces.items() for face in crops]
    return float(np.mean(hits))


@pytest.fixture(scope="module")
def crops_recognizer():
    return fer.Recognizer(detector=None)  # the inputs are face crops


def test_a_profile_from_three_faces_per_expression_reads_that_person_better(crops_recognizer, tmp_path):
    recognizer = crops_recognizer
    calibration, test = drawn(range(3)), drawn(range(3, 9))
    base = accuracy(recognizer, test)
    assert base < 0.5  # a face the model does not know well: room to do better
    for method in METHODS:
        profile = recognizer.calibrate(calibration, method=method)
        assert profile.method == method and profile.counts == [3] * 7 and profile.labels == list(LABELS)
        assert profile.model_sha256 == file_sha256(weights_path(None)) and profile.created
        loaded = Profile.load(profile.save(tmp_path / f"{method}.json"))
        recognizer.use_profile(loaded)
        try:
            calibrated = accuracy(recognizer, test)
        finally:
            recognizer.use_profile(None)
        assert calibrated > base, method  # every method helps this person's other faces
        if method in ("centred_prototypes", "linear"):
            assert calibrated >= base + 0.1, method
    assert accuracy(recognizer, test) == base  # no profile: the model as it was


def test_a_method_given_fewer_expressions_than_it_needs_says_so(crops_recognizer):
    with pytest.raises(BadValue, match="needs faces of two or more expressions"):
        crops_recognizer.calibrate({"happy": drawn(range(2))["happy"]})
    assert crops_recognizer.calibrate({"happy": drawn(range(2))["happy"]}, method="bias").counts[3] == 2


def test_the_profile_file_is_small_plain_json(crops_recognizer, tmp_path):
    path = crops_recognizer.calibrate(drawn(range(2))).save(tmp_path / "me.json")
    data = json.loads(path.read_text())
    assert data["format"] == "fer-profile/1" and data["model_file"] == "default_model.onnx"
    assert set(data) >= {"method", "params", "model_sha256", "counts", "labels", "created"}
    assert path.stat().st_size < 100_000 and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("method", METHODS)
def test_an_expression_without_examples_keeps_the_models_opinion_and_none_becomes_impossible(method):
    rng = np.random.default_rng(0)
    labels = np.array([3] * 4 + [5] * 4)  # happy and sad only
    log_probs = np.log(rng.dirichlet(np.ones(7), 8))
    embeddings = rng.normal(size=(8, 16)) + 5 * np.eye(16)[labels]
    profile = fit_profile(log_probs, embeddings, labels, "x", method=method)
    shift = profile.shift(rng.normal(size=(50, 16)) * 10, 50)
    others = [i for i in range(7) if i not in (3, 5)]
    assert np.all(shift[:, others] == 0)  # no term for the expressions without a face
    assert np.all(np.abs(shift) <= MAX_SHIFT)
    adjusted = np.exp(profile.adjust(np.log(np.full((50, 7), 1 / 7)), rng.normal(size=(50, 16)) * 10))
    assert np.all(adjusted > 1e-4) and np.allclose(adjusted.sum(axis=1), 1)


def test_calibration_skips_photos_without_a_face_and_says_which(tmp_path, caplog):
    recognizer = fer.Recognizer()  # Haar, as infer.py finds faces
    photos = {label: [scene(face) for face in faces] for label, faces in drawn(range(2)).items()}
    blank = np.full((240, 320, 3), 128, np.uint8)
    photos["happy"].append(blank)
    with caplog.at_level(logging.WARNING):
        profile = recognizer.calibrate(photos)
    assert profile.counts == [2] * 7 and profile.skipped == ["<ndarray> (no face found)"]
    assert "no face found" in caplog.text
    with pytest.raises(BadValue, match="no face was found in any"):
        recognizer.calibrate({"happy": [blank], "sad": [blank]})
    with pytest.raises(BadValue, match="'grumpy' is not an expression"):
        recognizer.calibrate({"grumpy": [blank]})


def test_a_profile_for_another_model_or_a_damaged_file_is_refused_in_one_line(crops_recognizer, tmp_path):
    path = crops_recognizer.calibrate(drawn(range(2))).save(tmp_path / "me.json")
    with pytest.raises(BadValue) as other:
        fer.Recognizer("ensemble", detector=None, profile=path)
    message = str(other.value)
    assert "default_model.onnx" in message and "ensemble_model.onnx" in message and "sha256" in message
    with pytest.raises(BadValue, match="embeddings have 256 numbers"):  # forced, it still cannot apply
        fer.Recognizer("ensemble", detector=None, profile=path, profile_force=True)
    bias = crops_recognizer.calibrate(drawn(range(2)), method="bias").save(tmp_path / "bias.json")
    assert fer.Recognizer("ensemble", detector=None, profile=bias, profile_force=True).profile.method == "bias"
    damaged = tmp_path / "damaged.json"
    damaged.write_text(path.read_text()[:500])
    with pytest.raises(BadValue, match="damaged.json is not a readable profile"):
        Profile.load(damaged)
    with pytest.raises(MissingInput, match="no such file"):
        Profile.load(tmp_path / "none.json")
    # a neutral-only profile of the first version (a Gaussian reference with beta and variance, no alpha)
    older = json.loads(
        crops_recognizer.calibrate({"neutral": drawn(range(2))["neutral"]}).save(tmp_path / "n.json").read_text()
    )
    older["params"] = {"reference": "neutral", "beta": 0.01, "variance": 3.0, "learnt_from_subjects": 10}
    (tmp_path / "old.json").write_text(json.dumps(older))
    with pytest.raises(BadValue, match="old.json is not a readable profile .*earlier version"):
        Profile.load(tmp_path / "old.json")
    # one of the second version: its alpha was fitted for a neutral read by direction, not by distance
    older["params"] = {"reference": "neutral", "alpha": 2.0, "learnt_from_subjects": 10}
    (tmp_path / "v2.json").write_text(json.dumps(older))
    with pytest.raises(BadValue, match="v2.json is not a readable profile .*earlier version"):
        Profile.load(tmp_path / "v2.json")


def test_a_model_file_without_the_embedding_output_calibrates_with_the_bias_and_says_so_once(tmp_path, caplog):
    model = remove_embedding_output(onnx.load(str(weights_path(None))))
    old = tmp_path / "old.onnx"
    onnx.save(model, str(old))
    recognizer = fer.Recognizer(old, detector=None)
    assert recognizer.classifier.embedding_size == 0
    with caplog.at_level(logging.WARNING):
        first = recognizer.calibrate(drawn(range(2)))
        second = recognizer.calibrate(drawn(range(2)))
    assert first.method == second.method == "bias"
    assert caplog.text.count("has no embedding output") == 1
    recognizer.use_profile(first)
    assert len(recognizer.predict(drawn([9])["happy"][0])) == 1


def scene(face: np.ndarray) -> np.ndarray:
    """A photo with the face in it (Haar finds the drawn faces at this size)."""
    canvas = np.full((300, 320, 3), 90, np.uint8)
    canvas[50:250, 60:260] = cv2.resize(face, (200, 200))
    return canvas


@pytest.fixture(scope="module")
def photo_folder(tmp_path_factory):
    """A calibration folder as a user makes it: sub-folders by expression, aliases among them."""
    root = tmp_path_factory.mktemp("me")
    names = {"anger": "angry", "happy": "happiness"}
    for label, faces in drawn(range(2)).items():
        folder = root / names.get(label, label)
        folder.mkdir()
        for i, face in enumerate(faces):
            cv2.imwrite(str(folder / f"{i}.png"), scene(face))
    cv2.imwrite(str(root / "sad" / "empty wall.png"), np.full((200, 200, 3), 120, np.uint8))
    return root


def test_fer_calibrate_writes_a_profile_that_infer_py_applies(photo_folder, tmp_path):
    out = tmp_path / "me.profile.json"
    done = run_script(["-m", "fer.cli", "calibrate", f"source={photo_folder}", f"out={out}"])
    assert "anger 2, disgust 2, fear 2, happy 2, neutral 2, sad 2, surprise 2" in done.stdout
    assert "skipped 1 photo(s)" in done.stdout and "empty wall.png (no face found)" in done.stdout
    assert Profile.load(out).method == DEFAULT_METHOD

    from fer.inference.infer import run

    rows = {}
    for name, extra in (("base", []), ("calibrated", [f"profile={out}"])):
        jsonl = tmp_path / f"{name}.jsonl"
        cfg = compose_config(
            "infer",
            [
                f"source={photo_folder / 'happiness'}",
                f"output.jsonl={jsonl}",
                "display=false",
                "print_faces=false",
                *extra,
            ],
        )
        assert run(cfg) == 0
        rows[name] = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert len(rows["base"]) == len(rows["calibrated"]) == 2
    assert all(a["probs"] != b["probs"] for a, b in zip(rows["base"], rows["calibrated"]))


@pytest.mark.parametrize(
    "layout, named",
    [
        ("flat", "no sub-folders"),
        ("unknown", "sub-folder 'grumpy' is not an expression"),
        ("blank", "no face was found in any"),
        ("missing", "no such folder"),
    ],
)
def test_fer_calibrate_bad_folders_are_one_line_errors_and_nothing_is_written(tmp_path, layout, named):
    source = tmp_path / "me"
    if layout != "missing":
        (source / ("grumpy" if layout == "unknown" else "happy")).mkdir(parents=True)
    image = np.full((200, 200, 3), 120, np.uint8)
    target = source / "x.png" if layout == "flat" else source / ("grumpy" if layout == "unknown" else "happy") / "x.png"
    if layout != "missing":
        if layout == "flat":
            (source / "happy").rmdir()
        cv2.imwrite(str(target), image)
    out = tmp_path / "me.json"
    done = run_script(["-m", "fer", "calibrate", f"source={source}", f"out={out}"], check=False)
    # one line says what is wrong (the photos without a face are listed above it)
    assert done.returncode == 2 and named in done.stderr.strip().splitlines()[-1], done.stderr
    assert not out.exists()


@pytest.mark.slow
def test_evaluate_takes_a_profile(crops_recognizer, tmp_path):
    """fer evaluate applies a profile as infer.py does (on the embedded synthetic faces: no data needed)."""
    profile = crops_recognizer.calibrate(drawn(range(2)), method="bias").save(tmp_path / "p.json")
    done = run_script(
        [
            "-m",
            "fer.cli",
            "evaluate",
            "data=synthetic",
            "data.sources.synthetic.num_identities=5",
            f"profile={profile}",
            f"paths.output_dir={tmp_path / 'eval'}",
            "progress=false",
            "dedup=false",
        ],
        cwd=ROOT,
    )
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert summary["profile"].startswith("method bias") and "accuracy" in done.stdout


def test_references_learnt_from_other_people_calibrate_a_new_person_from_neutral_faces_alone():
    """Each person's embeddings carry their own offset (face, light, camera); each expression moves them the same
    way for everyone. A base model that reads the raw embedding is thrown by the offset; a profile built from
    the new person's neutral faces alone and other people's differences reads through it."""
    rng = np.random.default_rng(0)
    directions = rng.normal(size=(7, 32)) * 2
    people, embeddings, labels = [], [], []
    for person in range(12):
        offset = rng.normal(size=32) * 10
        for label in range(7):
            for _ in range(4):
                people.append(person)
                labels.append(label)
                embeddings.append(offset + directions[label] + rng.normal(size=32) * 0.7)
    people, labels, embeddings = np.array(people), np.array(labels), np.array(embeddings)
    log_probs = log_softmax(embeddings @ directions.T / 4)  # a base model fooled by the offsets
    others, newcomer = people < 11, people == 11
    references = learn_references(log_probs[others], embeddings[others], labels[others], people[others], "neutral")
    assert references.subjects == 11 and references.kind == "neutral"
    neutral = newcomer & (labels == LABELS.index("neutral"))
    profile = fit_reference_profile(embeddings[neutral][:2], references, "x")
    assert profile.method == "reference" and profile.counts[LABELS.index("neutral")] == 2
    base = (log_probs[newcomer].argmax(1) == labels[newcomer]).mean()
    calibrated = (profile.adjust(log_probs[newcomer], embeddings[newcomer]).argmax(1) == labels[newcomer]).mean()
    assert base < 0.9 and calibrated >= base + 0.05, (base, calibrated)


def test_neutral_photos_alone_calibrate_with_the_shipped_references(crops_recognizer, tmp_path):
    profile = crops_recognizer.calibrate({"neutral": drawn(range(3))["neutral"]})
    assert profile.method == "reference" and profile.params["reference"] == "neutral"
    assert profile.counts == [0, 0, 0, 0, 3, 0, 0] and profile.params["learnt_from_subjects"] >= 10
    recognizer = fer.Recognizer(detector=None, profile=profile.save(tmp_path / "neutral.json"))
    assert (
        recognizer.predict(drawn([5])["happy"][0])[0]["probs"]
        != crops_recognizer.predict(drawn([5])["happy"][0])[0]["probs"]
    )
    assert (
        fer.Recognizer("ensemble", detector=None).calibrate({"neutral": drawn(range(2))["neutral"]}).method
        == "reference"
    )
    # a model without references beside it: neutral photos alone cannot calibrate it, and it says what would
    copy = tmp_path / "mine.onnx"
    copy.write_bytes(weights_path(None).read_bytes())
    with pytest.raises(BadValue, match="mine.references.json"):
        fer.Recognizer(copy, detector=None).calibrate({"neutral": drawn(range(2))["neutral"]})


def test_baseline_auto_reads_each_tracked_face_against_its_own_reference_once_it_has_one(tmp_path):
    """In video, baseline=auto builds each face's reference from its own frames (no label); the first
    BASELINE_MIN_FACES classifications are the model's own, the later ones are read against the reference."""
    from fer.inference.profile import BASELINE_MIN_FACES
    from tests.test_infer import make_video

    video = make_video(tmp_path / "clip.mp4", frames=BASELINE_MIN_FACES + 10)
    off = [f[0]["probs"] for f in fer.Recognizer(realtime=False).stream(video) if f and f[0]["box"]]
    auto = [f[0]["probs"] for f in fer.Recognizer(realtime=False, baseline="auto").stream(video) if f and f[0]["box"]]
    assert len(off) == len(auto) > BASELINE_MIN_FACES + 5
    warm = BASELINE_MIN_FACES - 1  # frames before the reference is ready (smoothing carries them on)
    assert auto[:warm] == off[:warm]
    assert all(a != b for a, b in zip(auto[BASELINE_MIN_FACES:], off[BASELINE_MIN_FACES:]))
    copy = tmp_path / "mine.onnx"
    copy.write_bytes(weights_path(None).read_bytes())
    with pytest.raises(BadValue, match="mine.references.json"):
        fer.Recognizer(copy, baseline="auto")
    with pytest.raises(BadValue, match="baseline='maybe': choose off or auto"):
        fer.Recognizer(baseline="maybe")


class PromptedCamera:
    """A stand-in webcam in front of a drawn person who shows whatever expression the guide last named."""

    def __init__(self, index=0) -> None:
        self.expression, self.frames = "neutral", 0

    def hear(self, prompt: str) -> None:
        words = prompt.replace(":", " ").split()
        if len(words) > 1 and words[1] in LABELS:
            self.expression = words[1]

    def isOpened(self) -> bool:
        return True

    def read(self):
        self.frames += 1
        face = draw_face(sample_identity(IDENTITY), LABELS.index(self.expression), seed=self.frames % 3, size=128)
        return True, scene(face)

    def release(self) -> None:
        pass


@pytest.mark.slow
def test_the_guided_capture_keeps_the_steadiest_faces_of_each_expression_it_names():
    from fer.inference.calibrate import GUIDE_ORDER, guided_capture
    from fer.inference.frames import open_frames

    camera, said = PromptedCamera(), []

    def say(prompt):
        said.append(prompt)
        camera.hear(prompt)

    recognizer = fer.Recognizer()
    frames = iter(open_frames("webcam", lambda index: camera))
    try:
        photos = guided_capture(recognizer, frames, countdown_s=0.05, seconds=0.3, keep=3, say=say)
    finally:
        frames.close()
    assert list(photos) == list(GUIDE_ORDER) and said[0].startswith("show: neutral")
    assert all(len(images) == 3 for images in photos.values()), {k: len(v) for k, v in photos.items()}
    profile = recognizer.calibrate(photos)
    assert profile.counts == [3] * 7 and profile.fit["accuracy_after"] >= profile.fit["accuracy_before"]


@pytest.mark.slow
def test_fer_calibrate_from_the_webcam_writes_a_profile(tmp_path, capsys):
    from fer.commands.calibrate import main

    camera = PromptedCamera()
    out = tmp_path / "me.json"
    assert main(["source=webcam", f"out={out}", "countdown=0", "seconds=0.3"], capture_factory=lambda i: camera) == 0
    printed = capsys.readouterr().out
    assert "show: neutral (hold it)" in printed and "show: fear (hold it)" in printed
    assert min(Profile.load(out).counts) >= 1  # every expression got photos (up to 5, by the frames 0.3 s gave)
