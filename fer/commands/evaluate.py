"""`fer evaluate [weights=<model file>] data=<data config> [split=test] [key=value ...]`: a model's figures on a
data config's split (conf/evaluate.yaml; fer/evaluation/evaluate.py)."""

from fer.utils.commands import hydra_command, needs_train_extra


def task(cfg) -> None:
    needs_train_extra("evaluate")
    from fer.evaluation.evaluate import run

    run(cfg)


def main(argv: list[str] | None = None) -> int:
    return hydra_command(task, "evaluate", argv)
