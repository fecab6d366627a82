"""`python -m fer.evaluate`: the command-line name of `fer.evaluation.evaluate`, where the code lives.

Run as a script there (runpy), so that its Hydra main finds conf/ relative to its own file.
"""

if __name__ == "__main__":
    import runpy

    runpy.run_module("fer.evaluation.evaluate", run_name="__main__", alter_sys=True)
