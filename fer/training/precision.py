"""Which numeric precision a training run uses: bf16 autocast where the hardware has bf16 matrix
units, float32 elsewhere.

`trainer.precision=auto` (the default) asks `resolve_precision`; any other value is Lightning's own
and always wins. Without native bf16 units, PyTorch emulates bf16 on the CPU and a training step
becomes many times slower, so "auto" never picks it there. AVX-512 BF16 alone (bf16 dot products, no
AMX tiles) is not enough either: there bf16 trained slower than float32 (docs/training.md has the figures and
`python bench/train_throughput.py`, which measures them). Evaluation, temperature fitting and every export stay
float32 whatever training used.
"""

import os
import platform
from pathlib import Path

AUTO = "auto"
BF16 = "bf16-mixed"
FP16 = "16-mixed"
FP32 = "32"
# x86: AMX tiles with bf16 (Sapphire Rapids and later); Arm: the BF16 extension (Graviton 3, Neoverse
# V1/N2 and later; not measured here). avx512_bf16 without AMX trains slower in bf16 than in float32.
BF16_CPU_FLAGS = ("amx_bf16", "bf16")
# A space-separated flag list that replaces what the CPU reports: simulates other hardware (tests, CI).
FLAGS_ENV = "FER_CPU_FLAGS"


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo), or FER_CPU_FLAGS where it is set."""
    if FLAGS_ENV in os.environ:
        return set(os.environ[FLAGS_ENV].split())
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # macOS, Windows: no cpuinfo; they get float32 unless the user asks for bf16
        return set()
    flags: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86 / Arm
            flags.update(value.split())
    return flags


def cpu_bf16_flag(flags: set[str] | None = None) -> str | None:
    """The flag that shows native bf16 matrix support on this CPU, or None."""
    flags = cpu_flags() if flags is None else flags
    return next((flag for flag in BF16_CPU_FLAGS if flag in flags), None)


def uses_cuda(accelerator: str | None) -> bool:
    if accelerator in ("gpu", "cuda"):
        return True
    if accelerator not in (None, AUTO):
        return False
    import torch  # here, so that `python fer/training/precision.py` describes the CPU before anything is installed

    return torch.cuda.is_available()


def resolve_precision(requested, accelerator: str | None) -> tuple[str, str]:
    """(precision for lightning.Trainer, why it was chosen)."""
    if requested is not None and str(requested) != AUTO:
        return str(requested), "set explicitly (trainer.precision)"
    if uses_cuda(accelerator):
        import torch

        if torch.cuda.is_available() and torch.cuda.is_bf16_supported():
            return BF16, f"the GPU ({torch.cuda.get_device_name()}) supports bf16"
        return FP16, "the GPU has no bf16 support; float16 mixed precision with loss scaling"
    flags = cpu_flags()
    flag = cpu_bf16_flag(flags)
    if flag:
        return BF16, f"the CPU reports {flag} (native bf16 matrix units)"
    machine = platform.machine() or "this"
    if "avx512_bf16" in flags:
        return FP32, (
            f"the {machine} CPU has avx512_bf16 but no amx_bf16: bf16 autocast trains slower than "
            "float32 there (docs/training.md has the measurement)"
        )
    return FP32, (
        f"the {machine} CPU reports none of {', '.join(BF16_CPU_FLAGS)}: bf16 would be emulated and slower than float32"
    )


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine() or "unknown CPU"
    names = [line.partition(":")[2].strip() for line in text.splitlines() if line.startswith("model name")]
    return names[0] if names else platform.machine()


def machine_line() -> str:
    """One line naming this CPU, the flags that decide precision and kernels, and what `auto` trains in."""
    flags = cpu_flags()
    present = ", ".join(f"{flag} {'yes' if flag in flags else 'no'}" for flag in ("avx2", "avx512_bf16", "amx_bf16"))
    precision, why = resolve_precision(AUTO, "cpu")
    simulated = f" (flags from {FLAGS_ENV})" if FLAGS_ENV in os.environ else ""
    return (
        f"CPU: {cpu_model()}, {os.cpu_count()} cores; {present}{simulated}; precision auto on CPU: {precision} ({why})"
    )


if __name__ == "__main__":  # python fer/training/precision.py: needs no installed package (CI prints it first)
    print(machine_line())
