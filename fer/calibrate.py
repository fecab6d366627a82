"""`python -m fer.calibrate source=<folder> out=<profile.json>`: the same as `fer calibrate` (fer.inference.calibrate)."""

import sys

from fer.inference.calibrate import main

if __name__ == "__main__":
    sys.exit(main())
