"""Shared fixtures: where the real data is, a private cache, and a way to run the real train task."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

ROOT = Path(__file__).resolve().parents[1]
CONF_DIR = ROOT / "conf"
DATA_DIR = Path(os.environ.get("FER_DATA_DIR", ROOT.parent / "shared" / "data"))

# The quick tier (`python -m pytest -m "not slow"`, under 3 minutes on 2 cores) leaves out, besides the tests marked
# slow, every test that uses the README's default training run (about 4 minutes, once a session).
SLOW_FIXTURES = {"default_run"}


def pytest_collection_modifyitems(items):
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


# Settings that make a real training run take seconds: a narrow CNN, 2 epochs, no worker processes.
FAST_TRAINER = [
    "logger=csv",
    "trainer.max_epochs=2",
    "trainer.accelerator=cpu",
    "data.num_workers=0",
    "data.batch_size=32",
    "model.arch.backbone_kwargs.widths=[8,16,32]",
    "callbacks.progress_bar=null",
    "callbacks.model_summary=null",
    "export_formats=[]",
]
# ... and few synthetic faces (for data configs that have the synthetic source).
FAST = [
    *FAST_TRAINER,
    "data.sources.synthetic.num_identities=20",
    "data.sources.synthetic.images_per_identity=14",
    "data.sources.synthetic.size=64",
]


def needs_data(*names: str):
    """Skip (with the reason) unless ../shared/data holds these sources."""
    missing = [n for n in names if not (DATA_DIR / n).is_dir()]
    return pytest.mark.skipif(
        bool(missing), reason=f"real data not found: {', '.join(str(DATA_DIR / n) for n in missing)}"
    )


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    # Crops go to a cache shared by the whole test session (they are keyed by content), never
    # to the user's cache or next to the data.
    monkeypatch.setenv("FER_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "fer-cache"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")


@pytest.fixture(scope="module")
def one_thread():
    # Tiny models gain nothing from threads, and on a busy machine spinning worker threads
    # (OpenMP, ONNX Runtime) waiting for each other turn milliseconds into seconds.
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def compose_config(name: str, overrides: list[str]):
    """A config of conf/ composed as the entry point composes it."""
    from fer.commands.infer import store_recognizer_options

    store_recognizer_options()  # what `fer infer` does before Hydra composes conf/infer.yaml
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        return compose(name, overrides=overrides)


def compose_train(overrides: list[str], output_dir: Path):
    return compose_config("train", [f"paths.output_dir={output_dir}", f"paths.data_dir={DATA_DIR}", *overrides])


def run_train(overrides: list[str], output_dir: Path) -> dict:
    """The real training task, in this process."""
    from fer.training.train import train

    return train(compose_train(overrides, output_dir))


def run_script(
    args: list[str], cwd: Path = ROOT, timeout: int = 600, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    """A real entry point in a fresh process, as a user runs it (`env`: variables to set on top of ours)."""
    env = {**os.environ, "FER_DATA_DIR": str(DATA_DIR), "PYTHONUNBUFFERED": "1", **(env or {})}
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{args} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


class DefaultRun:
    """`python train.py` exactly as the README's first command runs it, once per test session."""

    def __init__(self, folder: Path, result: subprocess.CompletedProcess) -> None:
        self.folder, self.stdout, self.stderr = folder, result.stdout, result.stderr
        self.console = result.stdout + result.stderr
        self.model_file = folder / "model.pt"


@pytest.fixture(scope="session")
def default_run(tmp_path_factory) -> DefaultRun:
    folder = tmp_path_factory.mktemp("default_run")
    # the test run's private cache and an offline wandb, as the autouse fixture sets them for each test
    env = {"FER_CACHE_DIR": str(tmp_path_factory.getbasetemp() / "fer-cache"), "WANDB_MODE": "offline"}
    result = run_script(["train.py", f"hydra.run.dir={folder}"], env=env)
    return DefaultRun(folder, result)
