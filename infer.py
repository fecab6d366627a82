"""Recognise facial expressions: `python infer.py source=webcam` (or a video, image, folder, stream).

    python infer.py source=photos/ weights=model.onnx output.jsonl=faces.jsonl display=false
    python infer.py source=clip.mp4 output.video=annotated.mp4 display=false
    python infer.py source=fer2013_crops/ detector=none

Every option lives in conf/infer.yaml. The exit code is the number of inputs that could not be read;
an error in the options or the source is one line on stderr and exit code 2 (HYDRA_FULL_ERROR=1: traceback).
"""

import sys

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="conf", config_name="infer")
def main(cfg: DictConfig) -> None:
    from fer.errors import UserError, report_and_exit
    from fer.inference.infer import run

    try:
        failures = run(cfg)
    except UserError as err:  # a missing source, a camera that will not open, bad weights: one line, exit 2
        report_and_exit(err)
    if failures:
        sys.exit(min(failures, 125))  # exit codes are one byte; 126 and up mean other things to shells


if __name__ == "__main__":
    main()
