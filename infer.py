"""Recognise facial expressions: `python infer.py source=webcam` (or a video, image, folder, stream); the same as
`fer infer ...`.

    python infer.py source=photos/ weights=model.onnx output.jsonl=faces.jsonl display=false
    python infer.py source=clip.mp4 output.video=annotated.mp4 display=false
    python infer.py source=fer2013_crops/ detector=none

Its options: fer/commands/infer.py says where each lives. The exit code is the number of inputs that could not be read;
an error in the options or the source is one line on stderr and exit code 2 (HYDRA_FULL_ERROR=1: traceback).
"""

import sys

from fer.commands.infer import main

if __name__ == "__main__":
    sys.exit(main())
