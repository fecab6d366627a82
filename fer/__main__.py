"""`python -m fer <command> [key=value ...]`: the same as the `fer` command, where its script is not on PATH."""

import sys

from fer.cli import main

sys.exit(main())
