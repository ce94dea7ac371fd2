"""`avatarforge animate` end to end on small synthetic videos, and its refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from pygltflib import GLTF2

from avatarforge.cli.main import main


def run(capsys, *args):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture(scope="module")
def avatar_dir(tmp_path_factory, body):
    from avatarforge.avatar import build_avatar
    from avatarforge.export import write_glb

    d = tmp_path_factory.mktemp("avatar")
    write_glb(build_avatar({}, pose="a", body=body).rigged_mesh(), d / "avatar.glb")
    return d


def _video(path, frames, fps=10.0):
    from avatarforge.util.video import write_mp4

    write_mp4(path, frames, fps=fps)
    return path


def test_no_person_is_refused_with_exit_2(capsys, avatar_dir, tmp_path):
    grey = [np.full((96, 128, 3), 90 + 10 * i, np.uint8) for i in range(4)]
    video = _video(tmp_path / "empty.mp4", grey)
    out = tmp_path / "out"
    code, _, err = run(capsys, "animate", avatar_dir, "--video", video, "-o", out)
    assert code == 2, err
    assert "no person found" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
    code, _, err = run(capsys, "animate", avatar_dir, "--video", video, "-o", out, "--body-only")
    assert code == 2 and "no frame could be tracked" in err and not out.exists()


def test_sporadic_detections_are_not_a_person(capsys, avatar_dir, photos, tmp_path):
    img = np.asarray(Image.open(photos["grace_hopper"]).convert("RGB"))[:480, :480]
    video = _video(tmp_path / "one_face.mp4", [img] + [np.full_like(img, 128)] * 7)
    out = tmp_path / "out"
    code, _, err = run(capsys, "animate", avatar_dir, "--video", video, "-o", out, "--face-only")
    assert code == 2, err
    assert "a face in only 1 of 8 frames (at least 25% needed)" in err and not out.exists()


def test_bad_arguments_are_refused(capsys, tmp_path):
    code, _, err = run(capsys, "animate", tmp_path, "--video", tmp_path / "v.mp4", "-o", tmp_path / "o",
                       "--face-only", "--body-only")
    assert code == 2 and "exclude each other" in err
    (tmp_path / "v.mp4").write_bytes(b"")
    code, _, err = run(capsys, "animate", tmp_path / "nothing", "--video", tmp_path / "v.mp4", "-o", tmp_path / "o")
    assert code == 2 and ("avatar folder not found" in err or "is empty" in err), err


def test_face_animation_end_to_end(capsys, avatar_dir, photos, tmp_path):
    """A 'video' of a photo sliding sideways, then 8 empty frames: the outputs are complete and
    consistent with each other, and the lost face holds its pose for 0.5 s, then eases back."""
    from avatarforge.animate.bvh import read_bvh
    from avatarforge.util.video import probe_video

    img = np.asarray(Image.open(photos["grace_hopper"]).convert("RGB"))[:480, :480]
    frames = [np.roll(img, 6 * i, axis=1) for i in range(4)] + [np.full_like(img, 128)] * 8
    video = _video(tmp_path / "face.mp4", frames)
    out = tmp_path / "anim"
    code, stdout, err = run(capsys, "animate", avatar_dir, "--video", video, "-o", out, "--face-only",
                            "--height", "128")
    assert code == 0, err
    assert "12 frames" in stdout and "face in 4" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["animation.bvh", "animation.glb", "animation.mp4", "motion.json"]
    motion = json.loads((out / "motion.json").read_text())
    assert motion["frames"] == 12 and motion["fps"] == pytest.approx(10.0)
    assert motion["face_valid"] == [1] * 4 + [0] * 8
    # held for 5 frames (0.5 s at 10 fps), then a 5-frame smoothstep down to neutral
    np.testing.assert_allclose(motion["face_weight"], [1.0] * 9 + [0.896, 0.648, 0.352, 0.104][:3], atol=1e-3)
    assert len(motion["arkit"]) == 52 and all(len(v) == 12 for v in motion["arkit"].values())
    head_q = np.array(motion["joint_rotations"]["head"])
    np.testing.assert_allclose(head_q[4:9], np.repeat(head_q[3:4], 5, axis=0), atol=1e-5)  # the held pose
    jaw = np.array(motion["arkit"]["jawOpen"])
    np.testing.assert_allclose(jaw[9:], jaw[3] * np.array([0.896, 0.648, 0.352]), atol=2e-3)
    g = GLTF2.load_binary(str(out / "animation.glb"))
    (anim,) = g.animations
    paths = {ch.target.path for ch in anim.channels}
    assert paths == {"rotation", "weights"}  # face only: no root translation
    rotated = {g.nodes[ch.target.node].name for ch in anim.channels if ch.target.path == "rotation"}
    assert {"head", "neck01", "eye.L", "eye.R"} <= rotated
    bvh = read_bvh(out / "animation.bvh")
    assert bvh.values.shape[0] == 12 and bvh.names[0] == "root" and bvh.frame_time == pytest.approx(0.1)
    info = probe_video(out / "animation.mp4")
    assert info.height == 128 and info.n_frames == 12
    assert info.width > 128  # the video beside the avatar
