"""`python -m fer.calibrate`: the old name of `fer calibrate` (fer/commands/calibrate.py); kept for a release."""

if __name__ == "__main__":
    from fer.cli import old_name

    old_name("python -m fer.calibrate", "calibrate")
