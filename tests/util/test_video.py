"""MP4 round trip through the bundled FFmpeg and OpenCV, and the error cases."""

from __future__ import annotations

import numpy as np
import pytest

from avatarforge.errors import UserInputError
from avatarforge.util.video import probe_video, read_frames, write_mp4


def _frames(n: int, h: int = 48, w: int = 64) -> list[np.ndarray]:
    out = []
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[..., 0] = 40 + 20 * i  # red ramps with the frame index
        f[:, : w // 2, 2] = 200  # blue left half
        out.append(f)
    return out


def test_round_trip_keeps_size_count_and_colours(tmp_path):
    path = write_mp4(tmp_path / "clip.mp4", _frames(6), fps=12)
    info = probe_video(path)
    assert (info.width, info.height) == (64, 48)
    assert info.fps == pytest.approx(12, abs=0.01)
    got = list(read_frames(path))
    assert len(got) == 6
    for i, f in enumerate(got):
        # H.264 is lossy and subsamples chroma: compare region means away from the edge.
        assert abs(float(f[10:38, 40:60, 0].mean()) - (40 + 20 * i)) < 6
        assert float(f[10:38, 5:25, 2].mean()) > 170 and float(f[10:38, 40:60, 2].mean()) < 30


def test_odd_size_is_padded_and_step_max_frames(tmp_path):
    path = write_mp4(tmp_path / "odd.mp4", _frames(5, h=31, w=45))
    assert (probe_video(path).width, probe_video(path).height) == (46, 32)
    assert len(list(read_frames(path, step=2))) == 3
    assert len(list(read_frames(path, max_frames=2))) == 2


def test_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "bad.mp4"
    with pytest.raises(ValueError):
        write_mp4(target, [np.zeros((8, 8, 3), np.uint8), np.zeros((16, 16, 3), np.uint8)])
    with pytest.raises(ValueError):
        write_mp4(target, [])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 10])
def test_bad_inputs_give_user_errors(tmp_path, content):
    p = tmp_path / "x.mp4"
    p.write_bytes(content)
    with pytest.raises(UserInputError):
        list(read_frames(p))
    with pytest.raises(UserInputError):
        probe_video(tmp_path / "missing.mp4")
    with pytest.raises(UserInputError):
        probe_video(tmp_path)
