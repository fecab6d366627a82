"""`python -m fer.evaluate`: the old name of `fer evaluate` (fer/commands/evaluate.py); kept for a release."""

if __name__ == "__main__":
    from fer.cli import old_name

    old_name("python -m fer.evaluate", "evaluate")
