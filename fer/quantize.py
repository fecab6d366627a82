"""`python -m fer.quantize`: the command-line name of `fer.export.quantize` (int8 ONNX; `to-float` rebuilds a
trainable float model from an int8 file). The code lives there."""

if __name__ == "__main__":
    from fer.export.quantize import main

    raise SystemExit(main())
