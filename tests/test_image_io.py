"""Every image format the sources ship is read as 8-bit grey; broken files raise UnreadableImage."""

import cv2
import numpy as np
import pytest
from PIL import Image

from fer.faces.image_io import UnreadableImage, read_grey


def face_like(size=48):
    image = np.zeros((size, size), np.uint8)
    cv2.circle(image, (size // 2, size // 2), size // 3, 200, -1)
    return image


def test_colour_rgba_palette_and_16bit_become_grey_uint8(tmp_path):
    grey = face_like()
    cv2.imwrite(str(tmp_path / "grey.png"), grey)
    cv2.imwrite(str(tmp_path / "colour.jpg"), cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    cv2.imwrite(str(tmp_path / "sixteen.png"), grey.astype(np.uint16) * 257)
    rgba = np.dstack([cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), np.full_like(grey, 255)])
    cv2.imwrite(str(tmp_path / "rgba.png"), rgba)
    Image.fromarray(grey).convert("P").save(tmp_path / "palette.tiff")
    for name in ("grey.png", "colour.jpg", "sixteen.png", "rgba.png", "palette.tiff"):
        out = read_grey(tmp_path / name)
        assert out.dtype == np.uint8 and out.shape == (48, 48), name
        assert abs(int(out[24, 24]) - 200) <= 3 and int(out[0, 0]) <= 3, name


def test_transparent_pixels_become_white(tmp_path):
    rgba = np.zeros((8, 8, 4), np.uint8)
    cv2.imwrite(str(tmp_path / "clear.png"), rgba)
    assert read_grey(tmp_path / "clear.png").min() == 255


@pytest.mark.parametrize("content", [b"", b"this is not an image", None])
def test_broken_files_raise(tmp_path, content):
    path = tmp_path / "broken.jpg"
    if content is None:  # a JPEG cut in half
        ok, data = cv2.imencode(".jpg", face_like())
        content = data.tobytes()[: len(data) // 2]
    path.write_bytes(content)
    with pytest.raises(UnreadableImage, match="broken.jpg"):
        read_grey(path)
