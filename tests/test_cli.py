"""`fer <command>`: the one command-line front door, run as a user runs it (the installed `fer` script, or
`python -m fer.cli` where the environment has no script), from folders other than the checkout."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fer.cli import COMMANDS
from fer.inference.profile import file_sha256
from fer.inference.runtime import default_weights
from tests.conftest import DATA_DIR, FAST, ROOT, run_script
from tests.test_api import two_faces

SCRIPT = Path(sys.executable).with_name("fer")


def fer(*args: str, cwd: Path = ROOT, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """`fer <args>` in a fresh process."""
    command = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "fer.cli"]
    env = {**os.environ, "FER_DATA_DIR": str(DATA_DIR), "PYTHONUNBUFFERED": "1", **(env or {})}
    result = subprocess.run([*command, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"fer {args} exited {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


def test_help_lists_every_command_in_one_line_and_loads_no_command():
    result = fer("--help")
    for name, (_, text) in COMMANDS.items():
        assert any(line.split()[:1] == [name] and text in line for line in result.stdout.splitlines()), name
    assert {
        "train",
        "infer",
        "evaluate",
        "audit",
        "export",
        "serve",
        "calibrate",
        "enroll",
        "summarise",
        "report",
        "import-weights",
        "info",
    } <= set(COMMANDS)
    heavy = (
        "fer.commands",
        "fer.inference",
        "fer.serve",
        "fer.export",
        "numpy",
        "cv2",
        "hydra",
        "onnxruntime",
        "torch",
    )
    names = "{'.'.join(m.split('.')[:2]) if m.startswith('fer.') else m.split('.')[0] for m in sys.modules}"
    code = f"import sys\nfrom fer.cli import main\nmain(['--help'])\nprint(sorted({names} & set({heavy!r})))"
    loaded = run_script(["-c", code]).stdout.splitlines()[-1]
    assert loaded == "[]", loaded  # nothing of any command, so `fer --help` answers at once


def test_an_unknown_command_is_one_line_and_exit_code_2():
    result = fer("trian", check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: fer: unknown command 'trian'; commands: {', '.join(COMMANDS)} (fer --help)"
    ]


@pytest.mark.slow
def test_every_command_answers_help():
    """`fer <command> --help` for each command, in one process (each as the script runs it: cli.main)."""
    code = (
        "import sys\nfrom hydra.core.global_hydra import GlobalHydra\nfrom fer.cli import COMMANDS, main\n"
        "for name in COMMANDS:\n"
        "    print(f'=== {name}', flush=True)\n"
        "    try:\n        code = main([name, '--help'])\n"
        "    except SystemExit as done:\n        code = done.code\n"
        "    GlobalHydra.instance().clear()\n"
        "    print(f'=== exit {code}', flush=True)\n"
    )
    out = run_script(["-c", code]).stdout
    helps, exits, name = {}, {}, None
    for line in out.splitlines():
        if line.startswith("=== exit "):
            exits[name] = line.removeprefix("=== exit ")
        elif line.startswith("=== "):
            name = line.removeprefix("=== ")
            helps[name] = ""
        else:
            helps[name] += line + "\n"
    assert exits == {name: "0" for name in COMMANDS}, exits
    for name in ("train", "infer", "evaluate", "audit"):  # Hydra's own help: the config groups
        assert f"{name} is powered by Hydra" in helps[name] and "Configuration groups" in helps[name], name
    for name in ("export", "calibrate", "enroll", "summarise", "import-weights", "info"):
        assert f"fer {name}" in helps[name], name
    assert "skip_latency=true" in helps["report"] and "fer serve" in helps["serve"]


def test_report_takes_key_value_options_as_every_command_does():
    from fer.commands.report import script_arguments

    assert script_arguments([]) == []
    assert script_arguments(["render_only=true", "skip_latency=false", "machine=2-core Xeon"]) == [
        "--render-only",
        "--machine",
        "2-core Xeon",
    ]
    bad = fer("report", "render_only=yes", check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("error: fer report: render_only=yes: say true or false")
    unknown = fer("report", "--skip-latency", check=False)
    assert unknown.returncode == 2 and "is not key=value" in unknown.stderr


def test_info_names_the_cpu_precision_libraries_and_the_shipped_model(tmp_path):
    out = fer("info", cwd=tmp_path).stdout
    assert out.startswith("openfer 0.") and "(import fer)" in out.split("\n")[0]
    for flag in ("avx2", "avx512_bf16", "amx_bf16"):
        assert f"{flag} yes" in out or f"{flag} no" in out, flag
    assert "precision auto on CPU: " in out and "onnxruntime " in out and "opencv " in out
    assert file_sha256(default_weights()) in out and "default_model.onnx (v3)" in out
    assert "labels anger, disgust, fear, happy, neutral, sad, surprise" in out
    assert f"configs: {ROOT / 'conf'}" in out
    assert fer("info", "verbose=true", check=False).returncode == 2


def test_info_needs_no_torch():
    """Where torch is not installed (simulated: its modules cannot be found), info still answers, without it."""
    code = (
        "import importlib.util, sys\nfound = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, package=None: None if name.split('.')[0] == 'torch' "
        "else found(name, package)\n"
        "class NoTorch:\n    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n            raise ModuleNotFoundError(name, name=name)\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "from fer.cli import main\nassert main(['info']) == 0\nprint('torch loaded:', 'torch' in sys.modules)"
    )
    out = run_script(["-c", code]).stdout
    assert "GPU: not looked at (torch is not installed" in out and "shipped model: default_model.onnx" in out
    assert out.strip().splitlines()[-1] == "torch loaded: False"


def test_infer_runs_from_any_folder(tmp_path):
    image = two_faces(tmp_path / "faces.png")
    fer("infer", f"source={image.name}", "display=false", "output.jsonl=faces.jsonl", cwd=tmp_path)
    records = [json.loads(line) for line in (tmp_path / "faces.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(record["label"] for record in records)


def test_train_finds_its_configs_from_any_folder(tmp_path):
    """Composed and resolved (the ${mobileface:...} resolver included) outside the checkout."""
    result = fer("train", "--cfg", "job", "--resolve", "model=mobileface", "model.variant=v2", cwd=tmp_path)
    assert "task_name: train" in result.stdout and "image_size: 112" in result.stdout
    assert f"root_dir: {ROOT}" in result.stdout  # runs and data are the checkout's, wherever it starts


@pytest.mark.slow
@pytest.mark.parametrize("command", ["evaluate", "audit"])
def test_the_old_names_say_the_new_one_and_run_it(tmp_path, command):
    new = fer(command, "--help", cwd=tmp_path)
    old = run_script(["-m", f"fer.{command}", "--help"], cwd=tmp_path)
    assert f"{command} is powered by Hydra" in new.stdout and old.stdout == new.stdout
    assert old.stderr.strip() == (
        f"note: python -m fer.{command} is now `fer {command}`; the old name goes in a later release"
    )


@pytest.mark.parametrize("command", ["calibrate", "enroll"])
def test_the_old_calibrate_and_enroll_names_run_the_command(tmp_path, command):
    new = fer(command, "--help", cwd=tmp_path)
    old = run_script(["-m", f"fer.{command}", "--help"], cwd=tmp_path)
    assert new.stdout.startswith(f"usage: fer {command} ") and old.stdout == new.stdout
    assert old.stderr.strip() == (
        f"note: python -m fer.{command} is now `fer {command}`; the old name goes in a later release"
    )


def test_python_m_fer_is_the_fer_command(tmp_path):
    module = run_script(["-m", "fer", "--help"], cwd=tmp_path)
    assert module.stdout == fer("--help", cwd=tmp_path).stdout and "summarise" in module.stdout


def pointer(old: str, new: str) -> str:
    """The line with which an old name points to its new one."""
    return f"note: {old} is now `{new}`; the old name goes in a later release"


def test_an_old_spelling_becomes_the_commands_key_values(monkeypatch):
    """Positional arguments by their new names (an empty name drops a subcommand's word), --flag value and
    --flag=value by theirs, the new spelling's fixed words; the rest goes to the command as it is."""
    import fer.cli

    ran = []
    monkeypatch.setattr(fer.cli, "main", lambda argv: ran.append(argv) or 0)
    args = ["to-float", "a=1.onnx", "--limit", "5", "b.pt", "--out=c", "--bogus", "d", "e"]
    with pytest.raises(SystemExit) as done:
        fer.cli.old_spelling(
            "python -m old",
            "fer export mode=x to_float=<a> [out=<b>]",
            args,
            ("", "to_float", "out"),
            {"--limit": "limit", "--out": "out"},
        )
    assert done.value.code == 0
    assert ran == [["export", "mode=x", "to_float=a=1.onnx", "limit=5", "out=b.pt", "out=c", "--bogus", "d", "e"]]


@pytest.mark.parametrize(
    "module, new",
    [
        ("fer.export.ensemble", "fer export ensemble=<a.onnx>,<b.onnx>[,...] out=<out.onnx>"),
        ("fer.export.embedding", "fer export embedding=<model.onnx> [out=<out.onnx>]"),
        (
            "fer.export.identity",
            "fer import-weights source=<folder> [out=<file>] [faces=<folder>] [margin=<m>] [float_out=<file>]",
        ),
        ("fer.models.mobileface", "fer import-weights source=<folder> what=trunks"),
    ],
)
def test_a_stages_old_command_name_says_the_new_one_and_does_nothing(tmp_path, module, new):
    """A stage's module never runs the front door, so its old name only points to the new spelling: one line,
    exit code 1, nothing written."""
    old = run_script(["-m", module, str(tmp_path / "a.onnx"), str(tmp_path / "b.onnx")], cwd=tmp_path, check=False)
    assert old.returncode == 1 and old.stdout == ""
    assert old.stderr.strip() == f"python -m {module} is now `{new}`"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_old_quantize_name_rebuilds_a_float_model_with_fer_export(tmp_path):
    from tests.test_export import int8_export

    _, calibration = int8_export(tmp_path, faces=16)
    old = ["-m", "fer.quantize", "to-float", "model.int8.onnx", "float.pt", calibration.name, "--limit", "8"]
    result = run_script(old, cwd=tmp_path)
    new = "fer export to_float=<int8.onnx> out=<model.pt> calibration=<faces> [limit=<n>]"
    assert result.stderr.strip() == pointer("python -m fer.quantize to-float", new)
    assert result.stdout.strip() == (
        "wrote float.pt (float model rebuilt from model.int8.onnx; BatchNorm statistics from 8 faces)"
    )


@pytest.mark.slow
def test_export_merges_an_ensemble(tmp_path):
    from fer.inference.runtime import load_classifier

    shipped = default_weights()
    result = fer("export", f"ensemble={shipped},{shipped}", f"out={tmp_path / 'pair.onnx'}", cwd=tmp_path)
    assert result.stdout.strip() == f"wrote ensemble: {tmp_path / 'pair.onnx'}"
    merged = load_classifier(tmp_path / "pair.onnx", threads=1)
    assert merged.labels == load_classifier(shipped, threads=1).labels and merged.image_size == 100


@pytest.mark.slow
def test_import_weights_names_what_is_missing(tmp_path):
    missing = fer("import-weights", check=False)
    assert missing.returncode == 2 and missing.stderr.startswith("fer import-weights: source= is missing")
    empty = fer("import-weights", f"source={tmp_path}", "what=trunks", check=False)
    assert empty.returncode == 2 and len(empty.stderr.strip().splitlines()) == 1 and str(tmp_path) in empty.stderr


@pytest.mark.slow
def test_train_runs_from_any_folder(tmp_path):
    """A real (short) training run started outside the checkout: conf/ is found, the run folder is written."""
    run = tmp_path / "run"
    fer("train", *FAST, "trainer.max_epochs=1", f"hydra.run.dir={run}", cwd=tmp_path)
    assert (run / "model.pt").is_file() and (run / "train.log").is_file()
    assert "test/acc" in json.loads((run / "metrics.json").read_text())["test"]


@pytest.mark.slow
def test_an_installed_wheel_carries_the_configs(tmp_path):
    """The wheel holds conf/ as fer_conf, and the Hydra commands use it where the package is not a checkout;
    fer report says in one line that it needs one."""
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        (source / name).write_bytes((ROOT / name).read_bytes())
    for folder in ("conf", "fer"):
        listed = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", folder],
            cwd=ROOT,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.split()
        for name in listed:
            if (ROOT / name).is_file():
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                (source / name).write_bytes((ROOT / name).read_bytes())
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            ".",
            "-w",
            str(tmp_path / "dist"),
        ],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    shipped = sorted(p.relative_to(ROOT / "conf").as_posix() for p in (ROOT / "conf").rglob("*.yaml"))
    assert sorted(p.relative_to(site / "fer_conf").as_posix() for p in (site / "fer_conf").rglob("*.yaml")) == shipped
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {"PYTHONPATH": str(site)}  # the unpacked wheel comes before the editable checkout
    composed = run_script(
        ["-m", "fer.cli", "train", "--cfg", "job", "--resolve", "trainer.accelerator=cpu"], cwd=away, env=env
    ).stdout
    assert "task_name: train" in composed and "log_dir: ./logs" in composed
    info = run_script(["-m", "fer.cli", "info"], cwd=away, env=env).stdout
    assert f"configs: {site / 'fer_conf'}" in info
    report = run_script(["-m", "fer.cli", "report"], cwd=away, env=env, check=False)
    assert report.returncode == 2 and len(report.stderr.strip().splitlines()) == 1
    assert "fer report: bench/report.py is not next to this installed package" in report.stderr
