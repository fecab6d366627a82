"""Knowledge distillation: the student also learns the softened probabilities of a trained teacher.

loss = (1 - weight) * CE(student, labels) + weight * T^2 * KL(teacher_T || student_T), with both
sides softened by the temperature T (Hinton et al., 2015). The teacher is any model file of ours
(a larger backbone), or a list of them: an ensemble, whose members' logits are averaged. Each
member sees the same augmented batch, resized and renormalised to its own input if it was trained
at another size.
"""

import torch
from torch.nn import functional as F

from fer.models.model_file import Preprocessing, load_model_file


class Teacher:
    def __init__(
        self, path: str | list[str], student: Preprocessing, weight: float = 0.5, temperature: float = 4.0
    ) -> None:
        if not 0 < weight <= 1 or temperature <= 0:
            raise ValueError(
                f"model.distill: weight must be in (0, 1] and temperature > 0, got {weight}, {temperature}"
            )
        self.members = [self._load(member, student) for member in ([path] if isinstance(path, str) else list(path))]
        if not self.members:
            raise ValueError("model.distill.teacher: an empty list; give a model file or a list of them")
        self.student, self.weight, self.temperature = student, weight, temperature

    @staticmethod
    def _load(path: str, student: Preprocessing) -> tuple[torch.nn.Module, Preprocessing]:
        model, pre, _ = load_model_file(path)
        if pre.channels != student.channels:
            raise ValueError(
                f"model.distill.teacher: {path} takes {pre.channels}-channel input, "
                f"the student {student.channels}; train a teacher on the same input"
            )
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        # channels-last as the student trains (fer.training.lit_module): the faster layout for these convolutions on CPU
        return model.to(memory_format=torch.channels_last), pre

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """The teacher's logits for a student batch: the mean of its members' logits."""
        with torch.no_grad():
            return torch.stack(
                [model.to(images.device)(self._teacher_input(images, pre)) for model, pre in self.members]
            ).mean(0)

    def loss(self, student_logits: torch.Tensor, images: torch.Tensor, hard_loss: torch.Tensor) -> torch.Tensor:
        soft = self.temperature
        teacher_logits = self.logits(images)
        distilled = (
            F.kl_div(
                F.log_softmax(student_logits / soft, 1),
                F.log_softmax(teacher_logits / soft, 1),
                reduction="batchmean",
                log_target=True,
            )
            * soft**2
        )
        return (1 - self.weight) * hard_loss + self.weight * distilled

    def _teacher_input(self, images: torch.Tensor, pre: Preprocessing) -> torch.Tensor:
        return self._resized(images, pre).contiguous(memory_format=torch.channels_last)

    def _resized(self, images: torch.Tensor, pre: Preprocessing) -> torch.Tensor:
        if pre == self.student:
            return images
        pixels = images * self.student.std + self.student.mean
        if pre.image_size != self.student.image_size:
            size = (pre.image_size, pre.image_size)
            pixels = F.interpolate(pixels, size=size, mode="bilinear", align_corners=False, antialias=True)
        return (pixels - pre.mean) / pre.std
