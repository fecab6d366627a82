"""How well the identity network tells people apart, what int8 changes, and what an embedding costs.

    python bench/identity.py                                   # the shipped fer/assets/identity_model.onnx
    python bench/identity.py --margins -0.15 -0.1 -0.05 0 0.1 0.2   # also the crop-margin sweep (float network)

Faces: JAFFE's 213 photos (the largest Haar face, cut as IdentityEncoder.embed_boxes cuts it) and CK+48, one
crop per sequence (its three frames are near-duplicates), each crop taken as a box covering the image. Pairs:
every pair of different images, genuine when both show one person; pooled adds the pairs across the sets
(all impostors). For each set: the true accept rate (TAR) at false accept rates (FAR) 1e-4, 1e-3, 1e-2, the
threshold at FAR 1e-3 (the encoder's), and rank-1 (the nearest other face is the same person, over faces whose
person has another). The same for the float network built from the publisher's files (--weights), and the
cosine between the two files' embeddings of each face. Cost: IdentityEncoder.embed_batch at batch 1 and 4 on
1 thread and embed_boxes (crop, resize, network) at batch 1, each the median over --repeats rounds of the median
of --calls calls, the measures alternating within each round.
Writes logs/bench/identity/identity.json.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fer.export.identity import (  # noqa: E402
    FARS,
    THRESHOLD_FAR,
    build_float_network,
    embed_file,
    export_float,
    identity_sets,
    pooled,
    pooled_ids,
    rank1,
    verification,
)
from fer.inference.identity import IdentityEncoder  # noqa: E402

OUT_DIR = ROOT / "logs" / "bench" / "identity"


def cpu_model() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or platform.machine()
    names = [line.partition(":")[2].strip() for line in lines if line.startswith("model name")]
    return f"{names[0] if names else platform.machine()}, {os.cpu_count()} cores"


def per_set(sets: dict, embed) -> dict:
    """Embeddings, verification and rank-1 of each set and of the pool."""
    out = {}
    for name, faces in sets.items():
        out[name] = (embed(faces.batch()), faces.ids)
    out["pooled"] = (np.concatenate([out[name][0] for name in sets]), pooled_ids(sets))
    return {
        name: {"embeddings": e, "verification": verification(e, i), "rank1": rank1(e, i)}
        for name, (e, i) in out.items()
    }


def agreement(a: np.ndarray, b: np.ndarray) -> dict:
    cosine = np.sum(a * b, axis=1)
    return {
        "mean": float(cosine.mean()),
        "min": float(cosine.min()),
        "p01": float(np.percentile(cosine, 1)),
        "faces": len(cosine),
    }


def per_call_ms(call, calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1000)


def costs(files: dict[str, Path], sets: dict, data: Path, calls: int, repeats: int) -> dict:
    """ms per call of each file, batch 1 and 4 and embed_boxes; the measures alternate within each round, so
    that anything else running on the machine weighs on all of them alike."""
    faces = sets["jaffe"].batch()
    frame, box = jaffe_frame(sets, data)
    one, four = faces[:1], faces[:4]
    encoders = {name: IdentityEncoder(path, threads=1) for name, path in files.items()}
    measures = {}
    for name, encoder in encoders.items():
        measures |= {
            (name, "batch1_ms"): lambda e=encoder: e.embed_batch(one),
            (name, "batch4_ms"): lambda e=encoder: e.embed_batch(four),
            (name, "embed_boxes_batch1_ms"): lambda e=encoder: e.embed_boxes(frame, [box]),
        }
    for call in measures.values():
        per_call_ms(call, 20)  # warm: the first runs allocate
    rounds = {key: [] for key in measures}
    for _ in range(repeats):
        for key, call in measures.items():
            rounds[key].append(per_call_ms(call, calls))
    out = {name: {} for name in files}
    for (name, what), values in rounds.items():
        out[name][what] = float(np.median(values))
    return out


def jaffe_frame(sets: dict, data: Path):
    """A whole JAFFE photo and its face box, for the cost of embed_boxes (crop and resize included)."""
    from fer.faces.detect import HaarFaceDetector
    from fer.faces.image_io import read_grey

    grey = read_grey(data / "jaffe" / sets["jaffe"].files[0])
    return grey, HaarFaceDetector().detect(grey)[0]


def margin_sweep(net_embed, data: Path, margins: list[float]) -> dict:
    sweep = {}
    for margin in margins:
        results = per_set(identity_sets(data, margin), net_embed)
        sweep[f"{margin:g}"] = {
            name: {
                "tar_far_1e-3": r["verification"]["curve"]["0.001"]["tar"],
                "rank1": r["rank1"]["accuracy"],
                "genuine_mean": r["verification"]["genuine_mean"],
                "impostor_mean": r["verification"]["impostor_mean"],
            }
            for name, r in results.items()
        }
    return sweep


def eight_bit_weights(fp32: Path, batch: np.ndarray, out: Path) -> Path:
    """The file as fer.export.quantize makes it but with 8-bit weights (no reduce_range), for comparison only:
    exact on CPUs with VNNI, not on AVX2-only ones (fer/export/quantize.py says why the package uses 7)."""
    from fer.export.quantize import quantize_onnx

    return quantize_onnx(fp32, out, batch, reduce_range=False)


def one_layer_at_8_bits(seven: Path, eight: Path, batch: np.ndarray, reference: np.ndarray, tmp: Path) -> dict:
    """Mean cosine to the float network when one layer's weights (and bias) come from the 8-bit file: whether a
    few layers kept at higher precision would close the gap, or the loss is spread over all of them."""
    import onnx

    base, other = onnx.load(str(seven)), onnx.load(str(eight))
    replacement = {t.name: t for t in other.graph.initializer}
    producer = {output: node for node in base.graph.node for output in node.output}
    gains = {}
    for node in base.graph.node:
        if node.op_type not in ("Conv", "Gemm") or node.input[1] not in producer:
            continue
        model = onnx.ModelProto()
        model.CopyFrom(base)
        tensors = {t.name: t for t in model.graph.initializer}
        for name in {x for i in node.input[1:] for x in producer[i].input if x in tensors and x in replacement}:
            tensors[name].CopyFrom(replacement[name])
        onnx.save(model, str(tmp / "one.onnx"))
        gains[node.name] = float(np.mean(np.sum(embed_file(tmp / "one.onnx", batch) * reference, axis=1)))
    return gains


def weight_bits(int8: IdentityEncoder, fp32: Path, sets: dict, report: dict, tmp: Path) -> dict:
    batch, ids = pooled(sets)
    eight = eight_bit_weights(fp32, batch, tmp / "int8_8bit.onnx")
    embeddings = embed_file(eight, batch)
    reference = report["float"]["pooled"]["embeddings"]
    seven = agreement(report["int8"]["pooled"]["embeddings"], reference)
    layers = one_layer_at_8_bits(int8.path, eight, batch, reference, tmp)
    best = max(layers, key=layers.get)
    return {
        "7-bit (shipped)": {"agreement": seven, "verification": report["int8"]["pooled"]["verification"]},
        "8-bit": {"agreement": agreement(embeddings, reference), "verification": verification(embeddings, ids)},
        "one_layer_at_8_bits": {"layers": len(layers), "best": best, "best_mean": layers[best]},
    }


def strip(results: dict) -> dict:
    return {name: {k: v for k, v in r.items() if k != "embeddings"} for name, r in results.items()}


def table(report: dict) -> str:
    lines = [
        "| set | file | genuine / impostor pairs | TAR @ FAR 1e-4 | TAR @ FAR 1e-3 | TAR @ FAR 1e-2 "
        "| threshold @ 1e-3 | rank-1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ("jaffe", "ckplus48", "pooled"):
        for file in ("int8", "float"):
            r = report[file][name]
            v, curve = r["verification"], r["verification"]["curve"]
            tars = " | ".join(f"{100 * curve[f'{far:g}']['tar']:.1f} %" for far in FARS)
            lines.append(
                f"| {name} | {file} | {v['genuine_pairs']:,} / {v['impostor_pairs']:,} | {tars} "
                f"| {curve['0.001']['threshold']:.3f} | {100 * r['rank1']['accuracy']:.1f} % "
                f"({r['rank1']['probes']}) |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="identity file (default: the shipped one)")
    parser.add_argument("--weights", type=Path, default=ROOT.parent / "shared" / "weights" / "mobileface")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--margins", type=float, nargs="*", default=[], help="crop margins to sweep (float network)")
    parser.add_argument(
        "--weight-bits",
        action="store_true",
        help="also compare 8-bit weights, as a whole and one layer at a time (about 2 minutes)",
    )
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args(argv)

    int8 = IdentityEncoder(args.model, threads=2)
    sets = identity_sets(args.data, int8.margin)
    report = measure(args, int8, sets)
    command = " ".join(["python", Path(sys.argv[0]).as_posix(), *(argv or sys.argv[1:])])
    summary = summarise(command, int8, sets, report)
    print(render(summary, report))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    (OUT_DIR / "identity.json").write_text(json.dumps(summary, indent=1))
    print(f"\nwrote {OUT_DIR / 'identity.json'}")
    return 0


def measure(args, int8: IdentityEncoder, sets: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = export_float(build_float_network(args.weights), Path(tmp) / "fp32.onnx")
        float_embed = lambda batch: embed_file(fp32, batch)  # noqa: E731
        report = {"int8": per_set(sets, int8.embed_batch), "float": per_set(sets, float_embed)}
        report["agreement"] = {
            name: agreement(report["int8"][name]["embeddings"], report["float"][name]["embeddings"]) for name in sets
        }
        files = {"int8": int8.path, "float": fp32_with_meta(fp32, int8, tmp)}
        report["cost"] = costs(files, sets, args.data, args.calls, args.repeats)
        if args.margins:
            report["margins"] = margin_sweep(float_embed, args.data, args.margins)
        if args.weight_bits:
            report["weight_bits"] = weight_bits(int8, fp32, sets, report, Path(tmp))
    return report


def summarise(command: str, int8: IdentityEncoder, sets: dict, report: dict) -> dict:
    """What the JSON keeps: everything but the embeddings."""
    model = int8.path.relative_to(ROOT) if int8.path.is_relative_to(ROOT) else int8.path
    return {
        "command": command,
        "machine": cpu_model(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "model": str(model),
        "stored_threshold": int8.threshold,
        "threshold_far": THRESHOLD_FAR,
        "margin": int8.margin,
        "faces": {
            name: {
                "images": len(s.crops),
                "people": len(set(s.ids)),
                "missed": s.missed,
                "box_side_px": [int(np.min(sides)), int(np.median(sides)), int(np.max(sides))]
                if (sides := [box[2] for box in s.boxes])
                else None,
            }
            for name, s in sets.items()
        },
        "int8": strip(report["int8"]),
        "float": strip(report["float"]),
        "agreement": report["agreement"],
        "cost": report["cost"],
        "margins": report.get("margins", {}),
        "weight_bits": report.get("weight_bits", {}),
    }


def fp32_with_meta(fp32: Path, int8: IdentityEncoder, tmp: str) -> Path:
    """The float file with the int8 file's metadata, so that the encoder times both the same way."""
    from fer.export.identity import write_metadata

    out = Path(tmp) / "fp32_meta.onnx"
    out.write_bytes(fp32.read_bytes())
    write_metadata(out, int8.meta)
    return out


def render(summary: dict, report: dict) -> str:
    load = ", ".join(f"{v:.1f}" for v in summary["load_average"])
    lines = [
        f"{summary['command']}  ({summary['machine']}; load average {load} at the end)",
        "",
        table(report),
        "",
        f"stored threshold {summary['stored_threshold']} (cosine, FAR {THRESHOLD_FAR:g} pooled, int8); "
        f"crop margin {summary['margin']}",
        "",
        "| int8 vs float, cosine of the same face | mean | 1st percentile | min |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {name} ({a['faces']} faces) | {a['mean']:.4f} | {a['p01']:.4f} | {a['min']:.4f} |"
        for name, a in summary["agreement"].items()
    ]
    lines += [
        "",
        "| ms per call, 1 thread | batch 1 | batch 4 (per face) | embed_boxes, batch 1 |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {file} | {c['batch1_ms']:.2f} | {c['batch4_ms']:.2f} ({c['batch4_ms'] / 4:.2f}) "
        f"| {c['embed_boxes_batch1_ms']:.2f} |"
        for file, c in summary["cost"].items()
    ]
    return "\n".join(lines + margin_lines(summary["margins"]) + weight_bit_lines(summary["weight_bits"]))


def margin_lines(margins: dict) -> list[str]:
    if not margins:
        return []
    lines = [
        "",
        "| crop margin (float) | JAFFE TAR @ 1e-3 | CK+48 TAR @ 1e-3 | pooled TAR @ 1e-3 "
        "| JAFFE rank-1 | CK+48 rank-1 | JAFFE impostor mean |",
        "|---|---|---|---|---|---|---|",
    ]
    for margin, r in margins.items():
        tars = " | ".join(f"{100 * r[name]['tar_far_1e-3']:.1f} %" for name in ("jaffe", "ckplus48", "pooled"))
        lines.append(
            f"| {margin} | {tars} | {100 * r['jaffe']['rank1']:.1f} % "
            f"| {100 * r['ckplus48']['rank1']:.1f} % | {r['jaffe']['impostor_mean']:.3f} |"
        )
    return lines


def weight_bit_lines(bits: dict) -> list[str]:
    if not bits:
        return []
    lines = ["", "| int8 weights (pooled faces) | cosine to float: mean | min | TAR @ FAR 1e-3 |", "|---|---|---|---|"]
    for name, r in bits.items():
        if "agreement" in r:
            lines.append(
                f"| {name} | {r['agreement']['mean']:.4f} | {r['agreement']['min']:.4f} "
                f"| {100 * r['verification']['curve']['0.001']['tar']:.1f} % |"
            )
    one = bits["one_layer_at_8_bits"]
    lines.append(
        f"\none layer at a time at 8 bits ({one['layers']} layers): "
        f"best mean cosine {one['best_mean']:.4f} ({one['best']})"
    )
    return lines


if __name__ == "__main__":
    sys.exit(main())
