"""bench/serve.py runs end to end (`--quick`: a few requests against a real `fer serve` on loopback) and
prints its table; without a face image it stops with a message saying what to pass."""

import re

import pytest

from tests.conftest import needs_data, run_script


@pytest.mark.slow
@pytest.mark.realdata
@needs_data("jaffe")
def test_quick_bench_prints_every_row():
    result = run_script(["bench/serve.py", "--quick"], timeout=300)
    out = result.stdout
    assert out.startswith("CPU: "), out[:300]  # the machine line first
    assert "command: `python bench/serve.py --quick`" in out
    assert "the server found 1 face(s), happy" in out
    rows = [line for line in out.splitlines() if line.startswith("| /v1/") or line.startswith("| server RSS")]
    assert [re.match(r"\| ([^|]+?) \| ([^|]+?) \|", row).groups() for row in rows] == [
        ("/v1/predict", "1 client"),
        ("/v1/predict", "4 clients"),
        ("/v1/predict", "16 clients"),
        ("/v1/stream round trip", "1 tab at 30 fps, 1 s"),
        ("/v1/stream round trip", "8 tabs at 30 fps, 1 s"),
        ("server RSS", "20 /v1/predict, 4 clients"),
    ], out
    for row in rows[:3]:
        assert re.search(r"\| \d+\.\d req/s \| \d+\.\d \| \d+\.\d \| \d+\.\d \|", row), row
        assert " 0 failed" in row, row
    # each target with its own verdict
    assert re.search(r"(met|MISSED): >= 80 req/s; (met|MISSED): p95 <= 60 ms", rows[1]), rows[1]
    assert re.search(r"(met|MISSED): >= 25 fps per tab; (met|MISSED): round trip p95 <= 50 ms", rows[4]), rows[4]
    for row in rows[3:5]:
        assert re.search(r"\| \d+\.\d fps per tab", row) and " 0 errors" in row, row
    assert "MB" in rows[5] and "10,000" in rows[5]


def test_bench_without_a_face_image_says_what_to_pass(tmp_path):
    result = run_script(["bench/serve.py", "--quick"], check=False, timeout=120, env={"FER_DATA_DIR": str(tmp_path)})
    assert result.returncode != 0
    assert "no face image" in result.stderr and "--image" in result.stderr, result.stderr[-2000:]
