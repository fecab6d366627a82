"""The decoded-face cache: built once per source, size and content; the pixels training sees are unchanged."""

import numpy as np

from fer.data.face_cache import face_array
from fer.data.scan import scan_source
from fer.data.sources import FERG
from fer.faces.crop import CropPolicy
from tests.conftest import compose_train
from tests.trees import make_ferg_tree


def ferg(tmp_path):
    make_ferg_tree(tmp_path / "data", per_expression=2)
    source = FERG(root=str(tmp_path / "data" / "FERG_DB_256"))
    source.name = "ferg"
    records, _ = scan_source(source, CropPolicy(), tmp_path / "cache")
    return source, records


def test_cached_faces_are_the_source_pixels_resized_once(tmp_path):
    source, records = ferg(tmp_path)
    faces = face_array(source, records, 48, tmp_path / "cache")
    assert isinstance(np.load(faces.path, mmap_mode="r"), np.memmap)  # mapped, never read whole
    import cv2

    for record in records[:10]:
        expected = cv2.resize(source.load(record), (48, 48), interpolation=cv2.INTER_AREA)
        np.testing.assert_array_equal(faces.load(record), expected)


def test_cache_is_built_once_and_keyed_by_content_and_size(tmp_path):
    source, records = ferg(tmp_path)
    first = face_array(source, records, 48, tmp_path / "cache")
    built_at = first.path.stat().st_mtime_ns
    again = face_array(source, records, 48, tmp_path / "cache")
    assert again.path == first.path and again.path.stat().st_mtime_ns == built_at  # read, not rebuilt
    assert face_array(source, records, 64, tmp_path / "cache").path != first.path
    # a file whose content changed gets a new digest at scan time, hence a new array
    changed = records[0].path
    image = np.full((64, 64, 3), 90, np.uint8)
    import cv2

    cv2.imwrite(changed, image)
    rescanned, _ = scan_source(source, CropPolicy(), tmp_path / "cache")
    fresh = face_array(source, rescanned, 48, tmp_path / "cache")
    assert fresh.path != first.path
    assert (fresh.load(next(r for r in rescanned if r.path == changed)) == 90).all()
    assert list((tmp_path / "cache" / "faces").glob("*.tmp.npy")) == []


def test_datamodule_batches_equal_with_and_without_the_cache(tmp_path):
    batches = []
    for cache in ("true", "false"):
        from fer.data.datamodule import instantiate_data

        cfg = compose_train(
            [
                "data.sources.synthetic.num_identities=14",
                "data.sources.synthetic.images_per_identity=7",
                "data.num_workers=0",
                f"data.cache_faces={cache}",
                f"data.cache_dir={tmp_path / 'cache'}",
            ],
            tmp_path / cache,
        )
        datamodule = instantiate_data(cfg.data)
        datamodule.prepare_data()
        datamodule.setup("fit")
        batches.append([next(iter(loader()))[0] for loader in (datamodule.train_dataloader, datamodule.val_dataloader)])
    for cached, uncached in zip(*batches):
        assert torch_equal(cached, uncached)
    assert len(list((tmp_path / "cache" / "faces").glob("synthetic-48px-*.npy"))) == 1


def torch_equal(a, b) -> bool:
    return a.shape == b.shape and bool((a == b).all())
