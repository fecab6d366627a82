"""A second output, `embedding`, on an exported ONNX model: the head's hidden layer, for calibration to a person.

    fer export embedding=model.onnx [out=new.onnx]     # in place without out=

The embedding is the input of the head's last linear layer (the 256-wide hidden layer after its ReLU, batch
norm folded in): the features the model's own expression decision reads, 256 numbers instead of the trunk's
2,048, already shaped for the seven expressions. An ensemble's embedding is its members' side by side.

Nothing the logits depend on changes: in an int8 file the hidden layer is a quantised tensor, and the
embedding is a new DequantizeLinear of it (the one feeding the last layer keeps its single reader, so ONNX
Runtime fuses the same integer kernels and the logits stay identical to the last bit); in a float file it
is an Identity of the hidden tensor. `fer.export` adds it to every ONNX file it writes; the metadata names
it (`embedding`: output, size, layer).
"""

import json
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from fer.models.model_file import ONNX_META_KEY, read_onnx_file

LOGITS, EMBEDDING = "logits", "embedding"
LAYER = "head hidden layer (after its ReLU)"
FOLLOW = ("DequantizeLinear", "QuantizeLinear", "Identity", "Div", "Softmax", "Mean", "Log", "Add", "Sub", "Mul")


def producers(graph: onnx.GraphProto) -> dict[str, onnx.NodeProto]:
    return {out: node for node in graph.node for out in node.output}


def head_inputs(graph: onnx.GraphProto) -> list[str]:
    """The tensors that the last linear layer of each head reads, in member order: walking back from the
    logits through element-wise, (de)quantise and ensemble-averaging nodes to the first Gemm or MatMul."""
    producer = producers(graph)
    initializers = {init.name for init in graph.initializer}
    found, frontier, seen = [], [LOGITS], set()
    while frontier:
        tensor = frontier.pop(0)
        node = producer.get(tensor)
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if node.op_type in ("Gemm", "MatMul"):
            found.append(node.input[0])
        elif node.op_type in FOLLOW:
            frontier += [name for name in node.input if name and name not in initializers]
        else:
            raise ValueError(
                f"{node.op_type} node {node.name!r} between the head and the logits: not a graph this package exported"
            )
    if not found:
        raise ValueError("no linear layer found before the logits")
    return sorted(found)  # members' prefixes (m0_, m1_) sort in member order


def add_embedding_output(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` with the `embedding` output added (or left as it is when it has one) and named in its metadata."""
    graph = model.graph
    if any(output.name == EMBEDDING for output in graph.output):
        return model
    producer, hidden = producers(graph), head_inputs(graph)
    parts = []
    for i, tensor in enumerate(hidden):
        node = producer.get(tensor)
        part = f"{EMBEDDING}_{i}"
        if node is not None and node.op_type == "DequantizeLinear":  # a reader of its own: same fusions as before
            graph.node.append(
                helper.make_node(
                    "DequantizeLinear",
                    list(node.input),
                    [part],
                    name=f"{part}_dequantize",
                    **{a.name: helper.get_attribute_value(a) for a in node.attribute},
                )
            )
        else:
            graph.node.append(helper.make_node("Identity", [tensor], [part], name=f"{part}_identity"))
        parts.append(part)
    if len(parts) == 1:
        graph.node[-1].output[0] = EMBEDDING
    else:
        graph.node.append(helper.make_node("Concat", parts, [EMBEDDING], name="embedding_concat", axis=1))
    size = embedding_size(model, hidden)
    graph.output.append(helper.make_tensor_value_info(EMBEDDING, TensorProto.FLOAT, ["batch", size]))
    meta = json.loads({p.key: p.value for p in model.metadata_props}[ONNX_META_KEY])
    meta["embedding"] = {"output": EMBEDDING, "size": size, "layer": LAYER, "members": len(parts)}
    meta["outputs"] = [LOGITS, EMBEDDING]
    helper.set_model_props(model, {**{p.key: p.value for p in model.metadata_props}, ONNX_META_KEY: json.dumps(meta)})
    return model


def remove_embedding_output(model: onnx.ModelProto) -> onnx.ModelProto:
    """`model` as it was before `add_embedding_output` (the logits alone; its metadata no longer names the
    embedding): what an older export looks like, for comparisons and tests."""
    keep = [output for output in model.graph.output if output.name != EMBEDDING]
    del model.graph.output[:]
    model.graph.output.extend(keep)
    nodes = [node for node in model.graph.node if not node.output[0].startswith(EMBEDDING)]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    props = {p.key: p.value for p in model.metadata_props}
    meta = json.loads(props[ONNX_META_KEY])
    meta.pop("embedding", None)
    meta["outputs"] = LOGITS
    helper.set_model_props(model, {**props, ONNX_META_KEY: json.dumps(meta)})
    return model


def embedding_size(model: onnx.ModelProto, tensors: list[str]) -> int:
    """The summed width of the hidden tensors, from the weights of the layers that read them."""
    initializers = {init.name: init for init in model.graph.initializer}
    producer = producers(model.graph)
    size = 0
    for node in model.graph.node:
        if node.op_type in ("Gemm", "MatMul") and node.input[0] in tensors:
            weight = node.input[1]
            while weight not in initializers and weight in producer:  # a dequantised weight: its int8 tensor
                weight = producer[weight].input[0]
            dims = list(initializers[weight].dims)
            transposed = node.op_type == "Gemm" and any(a.name == "transB" and a.i for a in node.attribute)
            size += dims[1] if transposed else dims[0]  # the layer's input width
    return size


def add_embedding_to_file(path: str | Path, out: str | Path | None = None) -> Path:
    """The ONNX file `path` with the embedding output, written to `out` (default: `path` itself)."""
    model, _ = read_onnx_file(path)
    out = Path(out or path)
    onnx.save(add_embedding_output(model), str(out))
    return out


# The old command-line name says the new one and stops: a stage's module never runs the front door (fer.cli).
if __name__ == "__main__":
    raise SystemExit("python -m fer.export.embedding is now `fer export embedding=<model.onnx> [out=<out.onnx>]`")
