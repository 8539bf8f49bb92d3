"""The scenes gallery PNG."""

import cv2

from envs.gallery import default_scenes, write_gallery


def test_gallery_png(tmp_path):
    out = write_gallery(tmp_path / "g.png", scenes=["summer", "winter+fog"], seed=0)
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > 2 * 180 and img.shape[1] > 320
    assert default_scenes()[:5] == ["summer", "fall", "winter", "spring", "urban"]
