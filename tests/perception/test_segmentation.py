"""perception.segmentation.person_mask: MediaPipe's selfie segmentation behind the perception API."""

import numpy as np

from avatarforge.perception.segmentation import person_mask


def test_person_mask_separates_the_astronaut_from_the_background(astronaut):
    m = person_mask(astronaut)
    assert m is not None and m.dtype == np.float32 and m.shape == astronaut.shape[:2]
    assert 0.0 <= m.min() and m.max() <= 1.0
    assert m[100:140, 200:240].mean() > 0.9  # her face
    assert m[:40, :40].mean() < 0.1 and m[:60, 440:].mean() < 0.1  # the flag's corner, the backdrop by the shuttle
