"""The `fer <command>` modules: the Hydra commands (train, infer, evaluate, audit: each runs its stage's task on
conf/ through fer.utils.commands.hydra_command, imported only when the task runs, so that --help and config errors
answer fast), calibrate, enroll, summarise, info, report and import-weights. Each parses its options and calls its
stage's functions; the work itself lives in the stages (fer.inference, fer.evaluation, ...). `fer export` and
`fer serve` are the modules of their own stages (fer/export/write.py, fer/serve/__main__.py). fer/cli.py names
every command and the module whose `main(argv) -> exit code` runs it."""
