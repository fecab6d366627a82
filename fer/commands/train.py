"""`fer train [key=value ...]` (also `python train.py`): train a model as conf/train.yaml composes it."""

from fer.utils.commands import hydra_command, needs_train_extra


def task(cfg) -> float | None:
    needs_train_extra("train")
    from fer.training.train import run

    return run(cfg)


def main(argv: list[str] | None = None) -> int:
    import fer.models.resolvers  # noqa: F401  (the ${mobileface:...} resolver conf/ uses, before Hydra resolves; torch-free)

    return hydra_command(task, "train", argv)
