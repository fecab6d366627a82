"""`python -m fer.enroll`: the old name of `fer enroll` (fer/commands/enroll.py); kept for a release."""

if __name__ == "__main__":
    from fer.cli import old_name

    old_name("python -m fer.enroll", "enroll")
