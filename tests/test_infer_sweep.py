"""Many videos at once: `python infer.py -m source=a.mp4,b.mp4 hydra/launcher=local ...` runs each video as a job
with its outputs in its own run folder, and `fer summarise` merges the per-person summaries into one table."""

import csv

import pytest

from tests.conftest import run_script
from tests.test_infer import make_video


@pytest.mark.slow
def test_a_multirun_over_videos_keeps_each_videos_outputs_apart_and_one_command_merges_them(tmp_path):
    videos = [make_video(tmp_path / f"{name}.mp4", frames=12) for name in ("a", "b")]
    sweep = tmp_path / "sweep"
    run_script(
        [
            "infer.py",
            "-m",
            f"source={videos[0]},{videos[1]}",
            "hydra/launcher=local",
            f"hydra.sweep.dir={sweep}",
            "display=false",
            "progress=false",
            "output.jsonl=records.jsonl",
            "output.summary=summary.json",
            "output.timeline=timeline.png",
        ],
        timeout=600,
    )
    for job in ("0", "1"):
        assert {p.name for p in (sweep / job).iterdir()} >= {"records.jsonl", "summary.json", "timeline.png"}
    done = run_script(["-m", "fer.cli", "summarise", f"source={sweep}", f"out={tmp_path / 'all.csv'}"])
    assert "from 2 video(s)" in done.stdout
    rows = list(csv.DictReader(open(tmp_path / "all.csv")))
    assert sorted((r["source"], r["run"], r["person"]) for r in rows) == [
        (str(videos[0]), "0", "p1"),
        (str(videos[1]), "1", "p1"),
    ]
    assert all(float(r["seconds_visible"]) > 0.5 for r in rows)
    # the same command summarises one records file as infer.py did
    one = tmp_path / "one.csv"
    run_script(["-m", "fer", "summarise", f"source={sweep / '0' / 'records.jsonl'}", f"out={one}"])
    assert [r["person"] for r in csv.DictReader(open(one))] == ["p1", "(unassigned)"]
    bad = run_script(["-m", "fer", "summarise", f"source={tmp_path / 'none'}", "out=x.csv"], check=False)
    assert bad.returncode == 2 and "no such records file" in bad.stderr
