"""trainer.precision=auto: bf16 where the hardware does it natively, float32 elsewhere, and said."""

import json

import pytest

from fer.training.precision import BF16, FP32, resolve_precision
from tests.conftest import FAST, run_script


@pytest.mark.parametrize(
    "flags, expected",
    [
        ("fpu sse2 avx2 fma", FP32),  # AVX2-only x86 (Zen 3, Skylake): bf16 would be emulated
        ("fpu avx2 avx512f avx512_bf16", FP32),  # Cooper Lake, Zen 4, AMX hidden by a VM: bf16 measured slower
        ("fpu avx2 avx512_bf16 amx_tile amx_bf16", BF16),  # Sapphire Rapids
        ("fp asimd bf16 i8mm", BF16),  # Arm (Graviton 3)
    ],
)
def test_auto_follows_the_cpu_flags(monkeypatch, flags, expected):
    monkeypatch.setenv("FER_CPU_FLAGS", flags)
    precision, why = resolve_precision("auto", "cpu")
    assert precision == expected
    assert ("emulated" in why) == (expected == FP32 and "avx512_bf16" not in flags)
    assert ("no amx_bf16" in why) == (expected == FP32 and "avx512_bf16" in flags)


def test_an_explicit_precision_always_wins(monkeypatch):
    monkeypatch.setenv("FER_CPU_FLAGS", "amx_bf16")
    assert resolve_precision(32, "cpu")[0] == "32"
    assert resolve_precision("16-mixed", "cpu") == ("16-mixed", "set explicitly (trainer.precision)")


@pytest.mark.slow
@pytest.mark.parametrize("flags, expected", [("fpu sse2 avx2", FP32), ("fpu avx2 amx_bf16", BF16)])
def test_training_run_uses_and_reports_the_automatic_precision(tmp_path, monkeypatch, flags, expected):
    monkeypatch.setenv("FER_CPU_FLAGS", flags)  # the detection function reads the simulated CPU
    result = run_script(["train.py", *FAST, "trainer.max_epochs=1", f"hydra.run.dir={tmp_path}"])
    assert f"precision: {expected} (" in result.stdout + result.stderr
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["precision"]["used"] == expected
    assert 0 <= metrics["test"]["test/acc"] <= 1
