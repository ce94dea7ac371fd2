"""`create` on full-body photos without a usable face (issue 14 item 6), on synthetic renders:
the avatar comes from the body, a warning says so, render_fitted shows the fitted pose over
the photo; photos without a face AND without a full body are still refused."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from avatarforge.cli.main import main


@pytest.fixture(scope="module")
def back_view(body, tmp_path_factory):
    """A clothed synthetic body seen from behind (no face anywhere), 512 x 768."""
    from avatarforge.dev.body_synthetic import random_body_sample, render_body_sample

    rng = np.random.default_rng(11)
    values = random_body_sample(body, rng, yaw_deg=10.0)
    values["pose.root.y"] = 180.0 + values["pose.root.y"]
    sample = render_body_sample(body, values, rng)
    path = tmp_path_factory.mktemp("fullbody") / "back.png"
    Image.fromarray(sample.rgb).save(path)
    return path, sample


def run(capsys, *args):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_create_from_a_back_view(capsys, back_view, tmp_path):
    path, sample = back_view
    out = tmp_path / "o"
    code, _, err = run(capsys, "create", path, "-o", out, "--keep-pose", "--texture-size", "256", "--preview-size", "96")
    assert code == 0, err
    assert "warning: no usable face" in err and "come from the body" in err
    names = sorted(p.name for p in out.iterdir())
    assert {"avatar.glb", "avatar.obj", "params.json", "parsing.png", "preview.png", "preview_head.png",
            "render_fitted.png", "report.json"} <= set(names)
    assert "landmarks.json" not in names  # no face fit
    report = json.loads((out / "report.json").read_text())
    assert report["face"] is None and report["body"]["source"] == "body"
    assert any("no usable face" in w for w in report["warnings"])
    fb = report["full_body"]
    assert set(fb["taken_from_body"]) == {"gender", "age", "weight", "muscle", "proportions"}
    # render_fitted: the avatar in the fitted pose over the photo -- against the true body's mask.
    rf = np.asarray(Image.open(out / "render_fitted.png"))
    assert rf.shape == (*sample.rgb.shape[:2], 4)
    alpha = rf[..., 3] > 127
    iou = (alpha & sample.mask).sum() / (alpha | sample.mask).sum()
    assert iou > 0.75 and fb["render_fitted_silhouette_iou"] > 0.75
    # The exported pose is the photo's (--keep-pose): the body is turned round, as in the photo.
    params = json.loads((out / "params.json").read_text())
    import torch

    from avatarforge.bodies.rotation import euler_xyz_to_matrix

    fitted = params["extra"]["fitted_pose"]
    root = euler_xyz_to_matrix(torch.tensor([fitted[f"pose.root.{a}"] for a in "xyz"], dtype=torch.float64)).numpy()
    assert (root @ [0.0, 0.0, 1.0])[2] < -0.8  # the body's front faces away from the camera (at +Z)
    assert all(params["values"][f"pose.root.{a}"] == pytest.approx(fitted[f"pose.root.{a}"]) for a in "xyz")


def test_no_face_and_no_full_body_is_still_refused(capsys, back_view, tmp_path):
    path, sample = back_view
    top = tmp_path / "top.png"
    Image.fromarray(sample.rgb[: sample.rgb.shape[0] * 2 // 5]).save(top)  # head and shoulders only
    out = tmp_path / "o"
    code, _, err = run(capsys, "create", top, "-o", out)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "face" in lines[0] and not out.exists()


def test_bad_glasses_flag(capsys, tmp_path):
    code, _, err = run(capsys, "create", tmp_path / "missing.png", "-o", tmp_path / "o", "--glasses", "never")
    assert code == 2 and "--glasses" in err and not (tmp_path / "o").exists()
