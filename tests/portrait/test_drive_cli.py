"""Face-video driving (tracking on rendered frames with known poses), the CLI and the live page."""

from __future__ import annotations

import socket

import numpy as np
import pytest
import torch
from PIL import Image

from avatarforge.cli.main import main
from avatarforge.errors import UserInputError
from avatarforge.portrait.drive import DriveConfig, drive_video, smooth_poses, track_poses
from avatarforge.portrait.networks import NetConfig
from avatarforge.portrait.pose import TalkingPose
from avatarforge.portrait.poser import Poser
from avatarforge.portrait.synth import PortraitRenderer, sample_identity
from avatarforge.portrait.synth.video import render_driving_frames
from avatarforge.portrait.weights import build_nets, save_checkpoint

TINY = NetConfig(image_size=16, width=4, bottleneck_size=4, blocks=1)
POSES = [TalkingPose(), TalkingPose(left_eye=1, right_eye=1), TalkingPose(mouth=1), TalkingPose(head_y=1),
         TalkingPose(head_x=1), TalkingPose(neck_z=1), TalkingPose(left_eye=1)]


@pytest.fixture(scope="module")
def renderer():
    return PortraitRenderer(size=96, supersample=1)


@pytest.fixture(scope="module")
def frames(renderer):
    return render_driving_frames(POSES, size=192, renderer=PortraitRenderer(size=192, supersample=1, body=renderer.body))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    return save_checkpoint(tmp_path_factory.mktemp("ck") / "tiny.pt", build_nets(TINY))


@pytest.fixture(scope="module")
def portrait_png(renderer, tmp_path_factory):
    path = tmp_path_factory.mktemp("img") / "p.png"
    Image.fromarray(renderer.render(sample_identity(7, renderer.body.local_names), TalkingPose()), "RGBA").save(path)
    return path


def test_tracked_poses_match_the_rendered_ones(frames):
    rest, blink, mouth, yaw, pitch, roll, left = [p.vector() for p in track_poses(frames)]
    assert rest[3] < 0.5 and rest[4] < 0.5 and rest[5] < 0.1 and np.all(np.abs(rest[:3]) < 0.3)
    assert blink[3] > 0.7 and blink[4] > 0.7
    assert mouth[5] > 0.6 and mouth[3] < 0.6
    assert yaw[1] > 0.6 and abs(yaw[0]) < 0.3  # signs agree with the renderer's conventions
    assert pitch[0] > 0.6 and abs(pitch[1]) < 0.3
    assert roll[2] > 0.6
    assert left[3] > 0.7 and left[4] < 0.6  # the character's left is the subject's left


def test_smoothing_is_a_one_pole_filter_and_holds_missing_frames():
    a, b = TalkingPose(mouth=1.0), TalkingPose(head_x=-1.0)
    out = smooth_poses([None, a, None, b], a=0.5)
    assert np.allclose(out[0], 0)
    assert np.allclose(out[1], 0.5 * a.vector())
    assert np.allclose(out[2], 0.75 * a.vector())
    assert np.allclose(out[3], 0.5 * b.vector() + 0.375 * a.vector())
    with pytest.raises(UserInputError, match="smoothing"):
        smooth_poses([a], a=0)


def test_drive_video_writes_one_frame_per_input_frame(frames, tmp_path, renderer):
    from avatarforge.util.video import probe_video, write_mp4

    video = write_mp4(tmp_path / "face.mp4", frames[:2], fps=10)
    torch.manual_seed(0)
    poser = Poser(*build_nets(TINY))
    rgba = renderer.render(sample_identity(5, renderer.body.local_names), TalkingPose())
    res = drive_video(poser, rgba, video, tmp_path / "out.mp4", DriveConfig(smoothing=1.0))
    info = probe_video(tmp_path / "out.mp4")
    assert res.tracked == 2 and res.poses.shape == (2, 6) and info.n_frames == 2
    assert (info.width, info.height) == (96 + 96, 96)  # driving frame beside the result
    assert res.poses[1, 3] > 0.7  # the blink frame


def test_cli_pose_writes_an_rgba_png(checkpoint, portrait_png, tmp_path):
    out = tmp_path / "o.png"
    code = main(["portrait", "pose", str(portrait_png), "--eyes", "0.2,0.2", "--mouth", "0.5", "--head", "0.1,-0.3,0",
                 "--weights", str(checkpoint), "--size", "64", "-o", str(out)])
    assert code == 0
    img = np.asarray(Image.open(out))
    assert img.shape == (64, 64, 4)


@pytest.mark.parametrize("args, message", [
    (["--eyes", "0.2"], "--eyes expects 2"),
    (["--mouth", "1.5"], "mouth=1.5 is out of range"),
    (["--head", "0,0,x"], "--head expects 3"),
])
def test_cli_pose_bad_values_are_one_line_errors(checkpoint, portrait_png, tmp_path, capsys, args, message):
    code = main(["portrait", "pose", str(portrait_png), "--weights", str(checkpoint), "-o", str(tmp_path / "o.png"), *args])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_opaque_image_is_refused_without_matting(checkpoint, tmp_path, capsys):
    path = tmp_path / "flat.png"
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(path)
    code = main(["portrait", "pose", str(path), "--no-matte", "--weights", str(checkpoint), "-o", str(tmp_path / "o.png")])
    assert code == 2 and "no transparent background" in capsys.readouterr().err


def test_published_weights_folder_missing_files_is_a_clear_error(portrait_png, tmp_path, capsys):
    code = main(["portrait", "pose", str(portrait_png), "--weights", str(tmp_path), "-o", str(tmp_path / "o.png")])
    err = capsys.readouterr().err
    assert code == 2 and "face_morpher.pt is missing" in err


def test_live_page_sliders_pose_the_image(checkpoint):
    pytest.importorskip("viser")
    from avatarforge.portrait.live import serve
    from avatarforge.portrait.weights import load_checkpoint

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (32, 32, 4), dtype=np.uint8)
    nets, _ = load_checkpoint(checkpoint)
    page = serve(Poser(*nets), rgba, port=port)
    try:
        assert set(page.sliders) == {"head_x", "head_y", "neck_z", "left_eye", "right_eye", "mouth"}
        before = page.update().copy()
        page.sliders["mouth"].value = 1.0
        page.sliders["head_y"].value = -0.5
        assert page.pose() == TalkingPose(head_y=-0.5, mouth=1.0)
        after = page.update()
        assert after.shape == (32, 32, 3) and not np.array_equal(before, after)
    finally:
        page.stop()


def test_every_portrait_command_runs_end_to_end(frames, checkpoint, portrait_png, tmp_path):
    """data -> train (three stages) -> export -> pose with the export; drive on a short video."""
    from avatarforge.util.video import write_mp4

    data, work = tmp_path / "data", tmp_path / "work"
    assert main(["portrait", "data", "-o", str(data), "--size", "16", "--train", "2", "--val", "1", "--test", "1",
                 "--per-identity", "1"]) == 0
    for stage in ("morpher", "rotator", "combiner"):
        assert main(["portrait", "train", "--data", str(data), "--work", str(work), "--stage", stage,
                     "--steps", "1", "--batch", "1"]) == 0
    assert main(["portrait", "export", "--work", str(work), "-o", str(tmp_path / "exp.pt"), "--half"]) == 0
    assert main(["portrait", "pose", str(portrait_png), "--weights", str(tmp_path / "exp.pt"), "--size", "64",
                 "-o", str(tmp_path / "a.png")]) == 0
    video = write_mp4(tmp_path / "f.mp4", frames[:1], fps=5)
    assert main(["portrait", "drive", str(portrait_png), "--video", str(video), "--weights", str(checkpoint),
                 "--size", "32", "--no-side-by-side", "-o", str(tmp_path / "d.mp4")]) == 0
    assert (tmp_path / "d.mp4").stat().st_size > 0
