"""The pieces of bench/report.py: docs/results.json's reader and writer (store), the measuring and the table
of each section of docs/results.md, the README's headline, and the writer that renders the pages."""
