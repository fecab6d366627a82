"""The pieces of bench/report.py: one module per table of docs/results.md, the README's headline, and
the writer that puts them in place. bench/report.py runs them in order."""
