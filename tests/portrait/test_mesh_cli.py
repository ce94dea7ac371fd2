"""`portrait pose|drive --method`: the choices and their one-line errors (no body model needed)."""

import numpy as np
import pytest
from PIL import Image

from avatarforge.cli.main import main


@pytest.fixture
def blank(tmp_path):
    path = tmp_path / "blank.png"
    Image.fromarray(np.full((100, 120, 3), 90, np.uint8)).save(path)
    return path


@pytest.mark.parametrize("args, message", [
    (["--method", "mesh"], "no face found"),
    (["--method", "bogus"], "--method must be auto, mesh or neural"),
    (["--action", "jawOpen=0.3"], "need the mesh method"),
    (["--method", "mesh", "--action", "jawOpen"], "NAME=VALUE"),
])
def test_pose_method_errors_are_one_line(blank, tmp_path, capsys, args, message):
    out = tmp_path / "o.png"
    assert main(["portrait", "pose", str(blank), "-o", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()


def test_bad_action_syntax_is_a_user_error():
    from avatarforge.cli.portrait_cmd import _actions
    from avatarforge.errors import UserInputError

    assert _actions(["jawOpen=0.5", " mouthSmileLeft = 1"]) == {"jawOpen": 0.5, "mouthSmileLeft": 1.0}
    with pytest.raises(UserInputError, match="NAME=VALUE"):
        _actions(["jawOpen"])


def test_drive_mesh_refuses_a_missing_video(blank, tmp_path, capsys):
    assert main(["portrait", "drive", str(blank), "--video", str(tmp_path / "none.mp4"), "--method", "mesh",
                 "-o", str(tmp_path / "o.mp4")]) == 2
    assert "does not exist" in capsys.readouterr().err
