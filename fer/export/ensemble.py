"""Several exported models as one ONNX file (`fer export ensemble=a.onnx,b.onnx,... out=<file.onnx>`).

The file takes one face batch, at the largest member's input size and with that member's normalisation;
inside, each member gets its own: the pixels are brought back to [0, 1], normalised as the member was
trained, and resized (linear, antialiased) where its side is smaller. Each member's logits go through its
own temperature and softmax; the output `logits` are the log of the mean probabilities, so the runtime's
softmax (temperature 1) gives the mean back. The file is then used like any other (infer.py, fer serve,
fer evaluate), with the members' metadata kept under `members`.

Members must share the labels and the number of input channels; int8 and float members mix.
"""

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper

from fer.export.embedding import EMBEDDING, add_embedding_output
from fer.models.model_file import ONNX_META_FORMAT, ONNX_META_KEY, read_onnx_file

INPUT, OUTPUT = "image", "logits"


def merge_ensemble(members: list[str | Path], out: str | Path) -> Path:
    """One ONNX file that returns log(mean of the members' probabilities) for a face batch."""
    if len(members) < 2:
        raise ValueError(f"an ensemble needs two or more members, got {len(members)}")
    models, metas = zip(*(read_onnx_file(m) for m in members))
    _check_compatible(metas, members)
    lead = max(metas, key=lambda m: m["image_size"])  # the file's input: the largest member's
    nodes, inits, value_info, probs = [], [], [], []
    for i, (model, meta) in enumerate(zip(models, metas)):
        prefix = f"m{i}_"
        member = compose.add_prefix(model, prefix)
        graph = member.graph
        member_input, member_output = graph.input[0].name, f"{prefix}{OUTPUT}"
        nodes += _adapt_input(prefix, lead, meta, member_input, inits)
        # the member's own embedding output is not the ensemble's (added at the end, from every member)
        nodes += [node for node in graph.node if not node.output[0].startswith(f"{prefix}{EMBEDDING}")]
        inits += list(graph.initializer)
        value_info += graph.value_info
        scaled = f"{prefix}probs"
        inits.append(numpy_helper.from_array(np.array(float(meta.get("temperature", 1.0)), np.float32), f"{prefix}t"))
        nodes += [
            helper.make_node("Div", [member_output, f"{prefix}t"], [f"{prefix}scaled"]),
            helper.make_node("Softmax", [f"{prefix}scaled"], [scaled], axis=1),
        ]
        probs.append(scaled)
    nodes += [helper.make_node("Mean", probs, ["mean_probs"]), helper.make_node("Log", ["mean_probs"], [OUTPUT])]
    batch = helper.make_tensor_value_info(
        INPUT, TensorProto.FLOAT, ["batch", lead["channels"], lead["image_size"], lead["image_size"]]
    )
    logits = helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", len(lead["labels"])])
    graph = helper.make_graph(nodes, "fer_ensemble", [batch], [logits], inits, value_info=value_info)
    merged = helper.make_model(graph, opset_imports=list(models[0].opset_import), ir_version=models[0].ir_version)
    meta = {
        "format": ONNX_META_FORMAT,
        **{k: lead[k] for k in ("labels", "image_size", "channels", "mean", "std") if k in lead},
    }
    meta.update(
        {
            "arch": {"ensemble": [m.get("arch", {}) for m in metas]},
            "outputs": "log mean probabilities",
            "temperature": 1.0,
            "members": [{**m, "file": Path(p).name} for m, p in zip(metas, members)],
        }
    )
    onnx.helper.set_model_props(merged, {ONNX_META_KEY: json.dumps(meta)})
    add_embedding_output(merged)  # the members' hidden layers side by side
    onnx.checker.check_model(merged)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(merged, str(out))
    return Path(out)


def _adapt_input(prefix: str, lead: dict, meta: dict, member_input: str, inits: list) -> list:
    """Nodes that turn the file's input into this member's: same pixels, its normalisation, its side."""
    # x_lead = (p - m_lead) / s_lead  ->  x_member = (p - m) / s = x_lead * (s_lead / s) + (m_lead - m) / s
    scale = np.float32(lead["std"] / meta["std"])
    shift = np.float32((lead["mean"] - meta["mean"]) / meta["std"])
    inits += [
        numpy_helper.from_array(np.array(scale), f"{prefix}in_scale"),
        numpy_helper.from_array(np.array(shift), f"{prefix}in_shift"),
    ]
    nodes = [
        helper.make_node("Mul", [INPUT, f"{prefix}in_scale"], [f"{prefix}in_scaled"]),
        helper.make_node("Add", [f"{prefix}in_scaled", f"{prefix}in_shift"], [f"{prefix}in_norm"]),
    ]
    current = f"{prefix}in_norm"
    if meta["image_size"] != lead["image_size"]:
        side = meta["image_size"]
        inits.append(numpy_helper.from_array(np.array([side, side], np.int64), f"{prefix}in_side"))
        nodes.append(
            helper.make_node(
                "Resize",
                [current, "", "", f"{prefix}in_side"],
                [f"{prefix}in_resized"],
                mode="linear",
                antialias=1,
                axes=[2, 3],
            )
        )
        current = f"{prefix}in_resized"
    nodes.append(helper.make_node("Identity", [current], [member_input]))
    return nodes


def _check_compatible(metas: list[dict], members: list) -> None:
    for meta, path in zip(metas[1:], members[1:]):
        if meta["labels"] != metas[0]["labels"]:
            raise ValueError(f"{path}: labels {meta['labels']} differ from {members[0]}'s {metas[0]['labels']}")
    channels = {m["channels"] for m in metas}
    if len(channels) > 1:
        raise ValueError(f"members take {sorted(channels)} input channels; an ensemble's members take the same number")


# The old command-line name says the new one and stops: a stage's module never runs the front door (fer.cli).
if __name__ == "__main__":
    raise SystemExit(
        "python -m fer.export.ensemble is now `fer export ensemble=<a.onnx>,<b.onnx>[,...] out=<out.onnx>`"
    )
