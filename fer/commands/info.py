"""`fer info`: this machine and install as the package sees them: the CPU and the flags that decide the training
precision (avx2, avx512_bf16, amx_bf16), the precision trainer.precision=auto picks, the versions of the libraries
that run models, the shipped model (file, sha256, labels, image size) and where the configs are. Needs no torch:
without it the GPU is not looked at."""

import importlib.metadata
import importlib.util
import platform
import sys

from fer.utils.commands import config_dir, key_values, run_command

USAGE = "usage: fer info (no options): CPU flags and training precision, library versions, the shipped model"
# (what is shown, the distributions that provide it, first installed wins)
LIBRARIES = (
    ("torch", ("torch",)),
    ("torchvision", ("torchvision",)),
    ("lightning", ("lightning",)),
    ("onnxruntime", ("onnxruntime", "onnxruntime-gpu")),
    ("opencv", ("opencv-python-headless", "opencv-python", "opencv-contrib-python-headless", "opencv-contrib-python")),
    ("numpy", ("numpy",)),
    ("hydra-core", ("hydra-core",)),
)


def version_of(distributions: tuple[str, ...]) -> str | None:
    for name in distributions:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def gpu_line() -> str:
    from fer.training.precision import AUTO, resolve_precision, uses_cuda

    if importlib.util.find_spec("torch") is None:
        return "GPU: not looked at (torch is not installed; training needs pip install 'openfer[train]')"
    if not uses_cuda(AUTO):
        return "GPU: none that torch can use; training runs on the CPU"
    import torch

    precision, why = resolve_precision(AUTO, AUTO)
    return f"GPU: {torch.cuda.get_device_name()}; precision auto there: {precision} ({why})"


def model_lines() -> list[str]:
    from fer.inference.profile import file_sha256
    from fer.inference.runtime import DEFAULT_MODEL_VERSION, default_weights, load_classifier

    path = default_weights()
    model = load_classifier(path, threads=1)
    return [
        f"shipped model: {path.name} ({DEFAULT_MODEL_VERSION}), {path.stat().st_size / 1e6:.2f} MB, {path}",
        f"  sha256 {file_sha256(path)}",
        f"  labels {', '.join(model.labels)}; image {model.image_size} x {model.image_size}, {model.channels} "
        f"channel{'s' if model.channels > 1 else ''}, mean {model.mean:g}, std {model.std:g}",
    ]


def info(argv: list[str]) -> str:
    key_values(argv, {}, USAGE)
    from fer.training.precision import machine_line  # the standard library only (CI prints it before installing)

    versions = [f"{shown} {version_of(names) or 'not installed'}" for shown, names in LIBRARIES]
    installed = version_of(("openfer",)) or "(not installed)"
    return "\n".join(
        [
            f"openfer {installed} (import fer) on Python {platform.python_version()}, {platform.system()} "
            f"{platform.machine()} ({sys.executable})",
            machine_line(),
            gpu_line(),
            "libraries: " + ", ".join(versions),
            *model_lines(),
            f"configs: {config_dir()}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    return run_command(argv, USAGE, "fer info", info)
