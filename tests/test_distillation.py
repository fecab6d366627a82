"""Knowledge distillation: the teacher's probabilities, not only the labels, shape the student."""

import pytest
import torch

from fer.labels import LABELS
from fer.models.model_file import Preprocessing
from fer.training.distillation import Teacher
from tests.conftest import FAST, run_train
from tests.tiny_models import make_model_file

HAPPY = LABELS.index("happy")


def make_happy_teacher(path, pre=Preprocessing(64, 1, 0.45, 0.25)):
    """A model file that calls every face happy: its last layer ignores the features."""
    make_model_file(path, pre)
    payload = torch.load(path, weights_only=True)
    state = payload["state_dict"]
    last = [k for k in state if k.startswith("head.") and k.endswith(".weight") and state[k].shape[0] == len(LABELS)][
        -1
    ]
    state[last].zero_()
    bias = state[last.replace(".weight", ".bias")]
    bias.zero_()
    bias[HAPPY] = 8.0
    torch.save(payload, path)
    return path


@pytest.mark.slow
def test_pure_distillation_makes_the_student_say_what_the_teacher_says(tmp_path):
    # weight=1 drops the labels from the loss: a student trained only on a teacher that calls every
    # face happy learns to call every face happy. The teacher also takes another input size (64 px
    # vs the student's 48) and normalisation, so the batch is resized and renormalised for it.
    teacher = make_happy_teacher(tmp_path / "teacher.pt")
    results = run_train(
        [*FAST, f"model.distill.teacher={teacher}", "model.distill.weight=1.0", "model.distill.temperature=1.0"],
        tmp_path / "run",
    )
    test = results["test"]
    assert test["test/recall/happy"] == 1.0
    assert all(test[f"test/recall/{label}"] == 0.0 for label in LABELS if label != "happy")
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert not any("teacher" in key for key in checkpoint["state_dict"])  # never trained or saved


def test_soft_loss_is_zero_when_the_student_already_agrees(tmp_path):
    pre = Preprocessing(48, 1, 0.5, 0.5)
    teacher = Teacher(str(make_happy_teacher(tmp_path / "t.pt", pre)), pre, weight=1.0, temperature=2.0)
    images = torch.zeros(4, 1, 48, 48)
    agreeing = torch.zeros(4, len(LABELS))
    agreeing[:, HAPPY] = 8.0
    assert teacher.loss(agreeing, images, torch.tensor(5.0)).item() == pytest.approx(0.0, abs=1e-5)
    assert teacher.loss(torch.zeros(4, len(LABELS)), images, torch.tensor(5.0)).item() > 0.5


def test_a_teacher_on_other_channels_is_refused(tmp_path):
    path = make_model_file(tmp_path / "rgb.pt", Preprocessing(48, 3, 0.5, 0.5))
    with pytest.raises(ValueError, match="model.distill.teacher"):
        Teacher(str(path), Preprocessing(48, 1, 0.5, 0.5))


def test_an_ensemble_teacher_averages_its_members_logits(tmp_path):
    pre = Preprocessing(48, 1, 0.5, 0.5)
    happy = make_happy_teacher(tmp_path / "happy.pt", pre)
    other = make_model_file(tmp_path / "other.pt", Preprocessing(64, 1, 0.45, 0.25))  # another input size
    images = torch.randn(3, 1, 48, 48)
    members = [Teacher(str(path), pre).logits(images) for path in (happy, other)]
    ensemble = Teacher([str(happy), str(other)], pre).logits(images)
    assert torch.allclose(ensemble, (members[0] + members[1]) / 2, atol=1e-5)
    assert not torch.allclose(ensemble, members[0])
    with pytest.raises(ValueError, match="empty list"):
        Teacher([], pre)
