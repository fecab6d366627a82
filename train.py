"""Train a facial expression classifier: `python train.py model=resnet18 data=human+ferg` (the same as
`fer train ...`).

Every option lives in conf/ (see conf/train.yaml); `python train.py --help` lists the groups.
"""

import sys

from fer.commands.train import main

if __name__ == "__main__":
    sys.exit(main())
