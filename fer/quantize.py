"""`python -m fer.quantize to-float <int8.onnx> <out.pt> <face crops> [--limit N]`: the old name of
`fer export to_float=<int8.onnx> out=<out.pt> calibration=<face crops> [limit=N]`; kept for a release."""

if __name__ == "__main__":
    import sys

    from fer.cli import old_spelling

    new = "fer export to_float=<int8.onnx> out=<model.pt> calibration=<faces> [limit=<n>]"
    names = ("", "to_float", "out", "calibration")  # "" drops the subcommand's word, to-float
    old_spelling("python -m fer.quantize to-float", new, sys.argv[1:], names, {"--limit": "limit"})
