"""`avatarforge face` on real public photos and on bad inputs."""

import json
import numpy as np
import pytest
from PIL import Image

from avatarforge.cli.main import main
from avatarforge.fitting.ibug68 import ibug68_from_mediapipe, inter_ocular


def run(capsys, *args):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper"])
def test_face_outputs_on_real_photos(capsys, body, photos, tmp_path, name):
    out = tmp_path / name
    code, stdout, err = run(capsys, "face", photos[name], "-o", out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        "fit_overlay.png", "head.obj", "landmarks.json", "params.json", "report.json"]
    lm = json.loads((out / "landmarks.json").read_text())
    w, h = Image.open(photos[name]).size
    assert lm["image_size"] == [w, h]
    det = np.array(lm["detected"])
    ib, ib_model = np.array(lm["ibug68"]), np.array(lm["ibug68_model"])
    assert det.shape == (478, 2) and ib.shape == (68, 2) and ib_model.shape == (68, 2)
    assert ((ib >= 0) & (ib < [w, h])).all()
    # The fitted model's own iBUG-68 agree with the detector's (normalised mean error); the
    # exported ones are those fused with the detector's: the mouth is the detector's, the jaw
    # the model's.
    ref = ibug68_from_mediapipe(det)
    nme = np.linalg.norm(ib_model - ref, axis=1).mean() / inter_ocular(ref)
    assert nme < 0.08
    np.testing.assert_allclose(ib[48:68], ref[48:68], atol=2e-3)
    np.testing.assert_allclose(ib[:17], ib_model[:17], atol=2e-3)
    params = json.loads((out / "params.json").read_text())
    cam = params["extra"]["camera"]
    assert cam["width"] == w and cam["height"] == h
    overlay = np.asarray(Image.open(out / "fit_overlay.png"))
    assert overlay.shape[:2] == (h, w)
    report = json.loads((out / "report.json").read_text())
    assert {"detect face", "fit face"} <= set(report["stage_seconds"])
    assert len(report["input"]["sha256"]) == 64
    head = (out / "head.obj").read_text()
    assert head.count("\nf ") > 5000


@pytest.mark.parametrize("name,needle", [
    ("coffee", "no face found"),
    ("notes", "not"),
    ("empty", "empty"),
    ("truncated", "truncated"),
])
def test_face_bad_inputs(capsys, body, photos, tmp_path, name, needle):
    out = tmp_path / "o"
    code, _, err = run(capsys, "face", photos[name], "-o", out)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0].lower()
    assert not out.exists()


def test_face_directory_and_missing_file(capsys, tmp_path):
    for target in (tmp_path, tmp_path / "missing.jpg"):
        code, _, err = run(capsys, "face", target, "-o", tmp_path / "o")
        assert code == 2 and err.startswith("error:")


def test_face_refuses_existing_output_before_working(capsys, photos, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    (out / "params.json").write_text("{}")
    code, _, err = run(capsys, "face", photos["astronaut"], "-o", out)
    assert code == 2 and "--force" in err


def test_texture_command_on_a_fitted_result(capsys, body, photos, tmp_path):
    fitted = tmp_path / "fit"
    assert run(capsys, "face", photos["grace_hopper"], "-o", fitted)[0] == 0
    out = tmp_path / "tex"
    code, stdout, err = run(capsys, "texture", fitted, "-o", out, "--size", "256")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        "render_fitted.png", "report.json", "texture.png", "texture_lit.png", "texture_weight.png"]
    report = json.loads((out / "report.json").read_text())
    assert report["render_fitted_face"]["psnr"] > 15
    w, h = Image.open(photos["grace_hopper"]).size
    assert np.asarray(Image.open(out / "render_fitted.png")).shape == (h, w, 4)
    # Not a fitted result: one line, exit 2, nothing written.
    code, _, err = run(capsys, "texture", photos["grace_hopper"].parent, "-o", tmp_path / "t2")
    assert code == 2 and err.startswith("error:") and not (tmp_path / "t2").exists()
