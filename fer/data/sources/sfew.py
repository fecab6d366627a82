"""SFEW 2.0 (Static Facial Expressions in the Wild): movie frames' aligned faces, one folder per class.

    Train/<Class>/*.png    Val/<Class>/*.png    (Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise)

Train is the train split and Val the test split (the challenge's test labels are not public);
validation is carved from Train by the split step. SFEW names no actors, so every image is its own
group there.
"""

from collections.abc import Iterator

from fer.data.sources.base import ListedFile, Source, image_files, label_folders

FOLDERS = {"Train": "train", "Val": "test"}


class SFEW(Source):
    labels_from_folders = True  # an unknown class folder is a layout mistake: the scan stops and names it

    def list_files(self) -> Iterator[ListedFile]:
        # both parts checked before any file is listed, so a missing Val/ fails at once
        parts = {
            self.expect(self.root / name, "SFEW's Train/<Class>/ and Val/<Class>/ folders"): split
            for name, split in FOLDERS.items()
        }
        for folder, split in parts.items():
            for class_dir in label_folders(folder):
                for path in image_files(class_dir):
                    yield ListedFile(path, label_name=class_dir.name, split=split)
