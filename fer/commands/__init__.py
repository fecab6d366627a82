"""The `fer <command>` modules that are not a module of their own stage: the Hydra commands (train, infer,
evaluate, audit: each runs its stage's task on conf/ through fer.utils.commands.hydra_command, imported only when
the task runs, so that --help and config errors answer fast), info, report and import-weights. fer/cli.py names
every command and the module whose `main(argv) -> exit code` runs it."""
