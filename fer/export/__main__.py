"""`python -m fer.export`: the same as `fer export` (fer/export/write.py)."""

import sys

from fer.export.write import main

sys.exit(main(sys.argv[1:]))
