"""The Python API: facial expressions from your own code, in one line.

    import fer
    faces = fer.Recognizer().predict("photo.jpg")      # or a numpy array, PIL image, encoded bytes
    for face in faces:
        print(face["box"], face["label"], face["score"], face["probs"])

    results = fer.Recognizer().predict_many(["a.jpg", "b.png"])   # faces batched across images
    for faces in fer.Recognizer().stream("clip.mp4"):              # or "webcam", a stream URL
        ...

Each face is the record `infer.py output.jsonl=...` writes (plain JSON types): source, frame,
time_s, face (its index, largest first), box [x, y, w, h] in the image's pixels, label, score and
probs (the seven probabilities by label). `infer.py` runs on this same class.

This module is the front door: the class lives in `fer.inference.recognizer`. With ONNX weights (the
shipped model among them) neither torch nor the training libraries are imported.
"""

from fer.inference.profile import Profile
from fer.inference.recognizer import Recognizer, predict

__all__ = ["Recognizer", "predict", "Profile"]
