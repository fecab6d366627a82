"""`python -m fer.audit`: the old name of `fer audit` (fer/commands/audit.py); kept for a release."""

if __name__ == "__main__":
    from fer.cli import old_name

    old_name("python -m fer.audit", "audit")
