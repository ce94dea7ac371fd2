"""Photos for the command tests: public examples available offline, and broken files."""

from pathlib import Path

import pytest
from PIL import Image


@pytest.fixture(scope="session")
def photos(tmp_path_factory) -> dict[str, Path]:
    import matplotlib.cbook
    from skimage import data

    d = tmp_path_factory.mktemp("photos")
    Image.fromarray(data.astronaut()).save(d / "astronaut.png")
    hopper = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    (d / "grace_hopper.jpg").write_bytes(hopper.read_bytes())
    Image.fromarray(data.coffee()).save(d / "coffee.jpg")
    (d / "notes.jpg").write_text("not an image")
    (d / "empty.png").write_bytes(b"")
    jpeg = (d / "grace_hopper.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    return {p.stem: p for p in d.iterdir()}
