"""`create` on a portrait wearing glasses and a hat (drawn onto a public test photo): the
glasses become a mesh in the frame colour, the hat is detected, reported and kept out of the
hair colour and the skin texture. (--glasses remove: tests/bodies/test_glasses.py, one create
run is enough here.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from avatarforge.cli.main import main

FRAME = (150, 40, 30)
HAT = (40, 60, 200)


@pytest.fixture(scope="module")
def dressed_photo(tmp_path_factory):
    from skimage import data

    from avatarforge.dev.face_synthetic import draw_glasses, draw_hat
    from avatarforge.perception.face import face_landmarks

    rgb = np.ascontiguousarray(data.astronaut())
    pts = face_landmarks(rgb).points
    img = draw_hat(draw_glasses(rgb, pts, FRAME), pts, HAT)
    path = tmp_path_factory.mktemp("dressed") / "dressed.png"
    Image.fromarray(img).save(path)
    return path


def test_glasses_and_hat(body, dressed_photo, tmp_path):
    out = tmp_path / "keep"
    assert main(["create", str(dressed_photo), "-o", str(out), "--texture-size", "256", "--preview-size", "96"]) == 0
    report = json.loads((out / "report.json").read_text())
    detected = report["parsing"]["detected"]
    assert detected["glasses"] and detected["headwear"]
    g = report["glasses"]
    assert g["added"] and g["choice"] == "keep" and np.abs(np.subtract(g["frame_srgb"], FRAME)).max() <= 12
    assert "o glasses" in (out / "avatar.obj").read_text() and "newmtl avatar_glasses" in (out / "avatar.mtl").read_text()
    # The hat is neither hair colour nor skin: the hair's colour is not the hat's blue, the
    # texture has no hat-blue texels.
    r, g_, b = report["hair"]["colour_srgb"]
    assert not (b > r + 60 and b > 150)
    tex = np.asarray(Image.open(out / "avatar_texture.png").convert("RGB")).astype(int)
    bluish = (tex[..., 2] > tex[..., 0] + 80) & (tex[..., 2] > 150)
    assert bluish.mean() < 0.001
