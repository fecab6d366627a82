"""Default model v2: the candidates compared on FER+ Valid and the posed held-out subjects, v1 beside them."""

# v1's file is in git history; `V1_COMMAND` puts it where its rows look for it.
V1 = "logs/v1"
V1_COMMAND = f"mkdir -p {V1} && git show aefe09d:fer/assets/default_model.onnx > {V1}/model.int8.onnx"
FT = "python train.py experiment=ferplus_v2_ft"
V2_CANDIDATES = [
    # (name, run folder holding model.int8.onnx, training command)
    ("v1: FER2013 labels, 24 + 4 epochs (shipped until v2)", V1, V1_COMMAND),
    ("A: FER+ votes + posed training folds, from scratch, 8 epochs", "logs/ferplus_v2/final",
     "python train.py experiment=ferplus_v2"),
    ("B: v1 fine-tuned on FER+ votes + posed training folds, 10 epochs", "logs/ferplus_v2_ft/final", FT),
    ("C: as B, majority labels instead of vote shares", "logs/ferplus_v2_ft_majority/final",
     f"{FT} data.sources.ferplus.label_mode=majority task_name=ferplus_v2_ft_majority"),
    ("D: as B, SGD + Nesterov (lr 0.01, momentum 0.9) instead of AdamW", "logs/ferplus_v2_ft_sgd/final",
     f"{FT} model.optimizer.name=sgd model.optimizer.lr=0.01 +model.optimizer.momentum=0.9 "
     "+model.optimizer.nesterov=true task_name=ferplus_v2_ft_sgd"),
    ("E: as B, 24 epochs", "logs/ferplus_v2_long/final", "python train.py experiment=ferplus_v2_long"),
    ("F: as B, distilled from an ensemble of C and E (model.distill)", "logs/ferplus_v2_distill/final",
     "python train.py experiment=ferplus_v2_distill"),
    ("G: E trained 10 more epochs (lr 5e-4), distilled from an ensemble of C, E and F", "logs/ferplus_v2_refine/final",
     "python train.py experiment=ferplus_v2_refine"),
    ("Z: FER+ votes only, from scratch, 8 epochs (never saw a posed face: zero-shot there)", "logs/ferplus_only/final",
     "python train.py experiment=ferplus_only"),
]
V1_NAME = V2_CANDIDATES[0][0]
# v1 and the zero-shot model are references in the table, never candidates for shipping
V2_REFERENCES = {V1_NAME, V2_CANDIDATES[-1][0]}
V2_EVALUATIONS = {"ferplus": ["data=ferplus"], "fer2013": ["data=fer2013"], "posed": ["data=human"]}
# candidate A was reported in the earlier row format (2026-12-01); its figures are carried over from those rows
LEGACY_ROWS = {"A: FER+ votes + posed training folds, from scratch, 8 epochs": {
    "ferplus": "v2 candidate (FER+ votes + CK+48 + JAFFE, 8 epochs), FER+ Valid, int8",
    "fer2013": "v2 candidate, FER2013 PublicTest (original labels), int8",
    "posed": "v2 candidate, CK+48 + JAFFE held-out subjects (fold 0), int8"}}
# a candidate's figures, in this order; the columns the table and the comparisons index
V2_COLUMNS = ["FER+ Valid accuracy %", "FER+ Valid macro-F1 %", "FER+ Valid ECE (calibrated)",
              "FER2013 PublicTest accuracy % (original labels)", "posed held-out (fold 0) accuracy %",
              "classify ms (int8, batch 1, 2 threads)", "int8 MB"]
FERPLUS, FER2013, POSED, CLASSIFY_MS, INT8_MB = 0, 3, 4, 5, 6  # indices into V2_COLUMNS
V2_FORMATS = ["{:.2f}", "{:.2f}", "{:.3f}", "{:.2f}", "{:.2f}", "{:.2f}", "{:.1f}"]
