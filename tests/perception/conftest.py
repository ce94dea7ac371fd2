"""Real public photos available offline, and their landmarks computed once per session.

* ``astronaut``: scikit-image's ``data.astronaut()`` (Eileen Collins, NASA, public domain),
  512 x 512, frontal;
* ``grace``: matplotlib's sample ``grace_hopper.jpg`` (US Navy, public domain), 512 x 600.
  It is known to be unmirrored: the name tag text reads normally, and the ribbons, worn on
  the left breast, are on the image's right.
"""

from __future__ import annotations

import matplotlib.cbook as cbook
import numpy as np
import pytest
from PIL import Image
from skimage import data

GRACE_PATH = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def grace() -> np.ndarray:
    with Image.open(GRACE_PATH) as img:
        return np.asarray(img.convert("RGB")).copy()


@pytest.fixture(scope="session", params=["astronaut", "grace"])
def photo(request) -> np.ndarray:
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="session")
def photo_landmarks(photo):
    from avatarforge.perception import face_landmarks

    return face_landmarks(photo)
