"""`fer audit data=<data config> [near_bits=4]`: the leakage audit, test images with a twin in train or val
(conf/audit.yaml; fer/evaluation/audit.py)."""

from fer.utils.commands import hydra_command, needs_train_extra


def task(cfg) -> None:
    needs_train_extra("audit")
    from fer.evaluation.audit import run

    run(cfg)


def main(argv: list[str] | None = None) -> int:
    return hydra_command(task, "audit", argv)
