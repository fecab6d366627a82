"""The package is grouped by stage and its imports flow one way: down the stages, never in a circle.

Read from the source with `ast` (nothing is imported, so the check is fast and sees imports inside
functions too). Stages, lowest first; a module may import its own stage and the ones below it:

    leaves      fer.labels, fer.errors (import nothing of fer), fer.utils
    faces       fer.faces        image files, detectors, crops, eval preprocessing
    data        fer.data         sources, scanning, splits, the datamodule
    models      fer.models       networks and the model-file format
    inference   fer.inference    runtimes, predictor, video loops, outputs, infer.py's task
    export      fer.export       TorchScript / ONNX / int8 writers
    evaluation  fer.evaluation   metrics, calibration, fer.evaluate, fer.audit
    training    fer.training     the Lightning module and the training task
    serving     fer.serve        the HTTP service (fer serve): imports inference and below, nothing of torch
    front door  fer, fer.api, fer.cli and fer.__main__ (the `fer` command), its command modules (fer.commands)
                and the old command-line names fer.evaluate, fer.audit, fer.quantize, fer.calibrate, fer.enroll
"""

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = "fer"
# (stage, packages whose modules all belong to it, single modules that belong to it), lowest first
STAGES = (
    ("leaves", ("fer.utils",), ("fer.labels", "fer.errors")),
    ("faces", ("fer.faces",), ()),
    ("data", ("fer.data",), ()),
    ("models", ("fer.models",), ()),
    ("inference", ("fer.inference",), ()),
    ("export", ("fer.export",), ()),
    ("evaluation", ("fer.evaluation",), ()),
    ("training", ("fer.training",), ()),
    ("serving", ("fer.serve",), ()),
    (
        "front door",
        ("fer.commands",),
        (
            "fer",
            "fer.api",
            "fer.cli",
            "fer.__main__",
            "fer.evaluate",
            "fer.audit",
            "fer.quantize",
            "fer.calibrate",
            "fer.enroll",
        ),
    ),
)
LEAVES = ("fer.labels", "fer.errors")  # they import nothing of fer at all


def modules(root: Path = ROOT / PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its __init__.py)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> dict[str, int]:
    """The package's modules that `name` imports, anywhere in its file, with the first line of each."""
    is_package = path.name == "__init__.py"
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package, up one more per extra dot
                package = name.split(".") if is_package else name.split(".")[:-1]
                anchor = package[: len(package) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from package import module` imports that module; `from module import name` the module
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            if target != PACKAGE and not target.startswith(PACKAGE + "."):
                continue
            while target not in known and "." in target:  # `import fer.x.y` of a name inside fer.x
                target = target.rsplit(".", 1)[0]
            if target != name:
                found.setdefault(target, node.lineno)
    return found


def import_graph() -> dict[str, dict[str, int]]:
    """module -> {module it imports: line}."""
    found = modules()
    return {name: imports_of(name, path, set(found)) for name, path in found.items()}


def stage_of(module: str) -> int | None:
    """The index of the module's stage in STAGES, or None where it has none."""
    for index, (_, packages, singles) in enumerate(STAGES):
        if module in singles or any(module == p or module.startswith(p + ".") for p in packages):
            return index
    return None


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def violations(graph: dict[str, dict[str, int]]) -> list[str]:
    """Every broken rule of an import graph, one line each: a module without a stage, a leaf importing the
    package, an import from a higher stage, a circle of imports (with the edges that close it)."""
    problems = []
    for module in sorted(graph):
        if stage_of(module) is None:
            problems.append(f"{module}: in no stage (add it to STAGES in tests/test_architecture.py)")
    for module, targets in sorted(graph.items()):
        for target, line in sorted(targets.items()):
            if module in LEAVES:
                problems.append(f"{module}:{line} imports {target}: {module} is a leaf and imports nothing of fer")
            low, high = stage_of(module), stage_of(target)
            if low is not None and high is not None and high > low:
                problems.append(
                    f"{module}:{line} ({STAGES[low][0]}) imports {target} ({STAGES[high][0]}), a higher stage"
                )
    for component in cycles(graph):
        members = set(component)
        edges = [f"{a}:{line} -> {b}" for a in component for b, line in sorted(graph[a].items()) if b in members]
        problems.append(f"import cycle between {', '.join(component)}: {'; '.join(edges)}")
    return problems


def test_imports_flow_down_the_stages_and_never_in_a_circle():
    graph = import_graph()
    assert len(graph) > 70 and "fer.inference.predictor" in graph["fer.inference.recognizer"]
    problems = violations(graph)
    assert not problems, "\n".join(problems)


def test_the_check_reports_an_upward_import_and_a_circle():
    graph = {module: dict(targets) for module, targets in import_graph().items()}
    assert "fer.inference.predictor" in graph["fer.inference.video.live"]
    graph["fer.data.scan"]["fer.training.train"] = 1  # data reaching up into training
    graph["fer.inference.predictor"]["fer.inference.video.live"] = 2  # the live loop imports predictor: now a circle
    graph["fer.labels"]["fer.errors"] = 3  # a leaf importing the package
    problems = violations(graph)
    assert any(p.startswith("fer.data.scan:1 (data) imports fer.training.train (training)") for p in problems), problems
    circle = [
        p for p in problems if p.startswith("import cycle between fer.inference.predictor, fer.inference.video.live")
    ]
    assert circle and "fer.inference.predictor:2 -> fer.inference.video.live" in circle[0], problems
    assert any(p.startswith("fer.labels:3 imports fer.errors") for p in problems), problems
    # ... and the upward edge closes a circle of its own, back through training's imports of data
    assert any(p.startswith("import cycle between") and "fer.data.scan:1 -> fer.training.train" in p for p in problems)
    assert len(problems) == 4, problems


def test_imports_are_read_inside_functions_and_relative_ones_resolved(tmp_path):
    package = tmp_path / PACKAGE
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "labels.py").write_text("")
    (package / "data" / "__init__.py").write_text("from . import scan\n")
    (package / "data" / "scan.py").write_text("def f():\n    from ..training import train\n    import fer.labels\n")
    (package / "training").mkdir()
    (package / "training" / "__init__.py").write_text("")
    (package / "training" / "train.py").write_text("from fer.data.scan import f\n")
    found = modules(package)
    graph = {name: imports_of(name, path, set(found)) for name, path in found.items()}
    assert graph["fer.data"] == {"fer.data.scan": 1}
    assert graph["fer.data.scan"] == {"fer.training.train": 2, "fer.labels": 3}
    assert violations(graph) == [
        "fer.data.scan:2 (data) imports fer.training.train (training), a higher stage",
        "import cycle between fer.data.scan, fer.training.train: "
        "fer.data.scan:2 -> fer.training.train; fer.training.train:1 -> fer.data.scan",
    ]
