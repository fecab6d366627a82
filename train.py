"""Train a facial expression classifier: `python train.py model=resnet18 data=human+ferg`.

Every option lives in conf/ (see conf/train.yaml); `python train.py --help` lists the groups.
"""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

import fer.models.resolvers  # noqa: F401  (the ${...} resolvers conf/ uses; torch-free)

# Paths in conf/paths are relative to the project, wherever train.py is started from.
os.environ.setdefault("FER_PROJECT_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from fer.training.train import run  # imported here so that --help and config errors answer fast

    return run(cfg)


if __name__ == "__main__":
    main()
