"""`python -m fer.quantize to-float <int8.onnx> <out.pt> <face crops>`: the old name of
`fer export to_float=<int8.onnx> out=<out.pt> calibration=<face crops>`; kept for a release."""

if __name__ == "__main__":
    import sys

    from fer.cli import say_moved
    from fer.export.quantize import main

    say_moved("python -m fer.quantize to-float", "fer export to_float=<int8.onnx> out=<model.pt> calibration=<faces>")
    sys.exit(main())
