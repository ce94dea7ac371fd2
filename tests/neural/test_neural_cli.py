"""`avatarforge neural ...` end to end on tiny inputs, and its error policy."""

import json

import numpy as np
import pytest

from avatarforge.cli.main import main


def run(capsys, *args):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_synth_train_resume_render_motion(capsys, tmp_path, body):
    data = tmp_path / "data"
    code, out, err = run(capsys, "neural", "synth", "-o", data, "--size", 32, "--sequences", 1, "--poses-per-sequence", 2)
    assert code == 0, err
    assert (data / "frames.npz").is_file()
    model = tmp_path / "model"
    code, out, err = run(capsys, "neural", "train", data, "-o", model, "--iterations", 2, "--pretrain-iterations", 2,
                         "--batch-size", 2)
    assert code == 0, err
    cfg = json.loads((model / "config.json").read_text())
    assert cfg["step"] == 4 and cfg["model"]["kind"] == "texture"
    # Running again with more steps resumes from the checkpoint.
    code, out, err = run(capsys, "neural", "train", data, "-o", model, "--iterations", 3, "--pretrain-iterations", 2,
                         "--batch-size", 2)
    assert code == 0, err
    logs = [json.loads(x) for x in (model / "log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in logs][-1] == 5
    motion = tmp_path / "walk.json"
    assert run(capsys, "neural", "motion", "walk", "-o", motion, "--frames", 3)[0] == 0
    video = tmp_path / "out.mp4"
    code, out, err = run(capsys, "neural", "render", model, "--motion", motion, "--camera", "30,5", "--size", 32,
                         "-o", video)
    assert code == 0, err
    from avatarforge.util.video import probe_video, read_frames

    info = probe_video(video)
    assert (info.width, info.height) == (32, 32)
    frames = list(read_frames(video))
    assert len(frames) == 3 and np.ptp(frames[0]) > 0
    code, out, err = run(capsys, "neural", "render", model, "--motion", "dance", "--frames", 2, "--camera", "orbit",
                         "--size", 32, "-o", tmp_path / "b.mp4")
    assert code == 0, err


@pytest.mark.parametrize("args,needle", [
    (["neural", "train", "{tmp}/nope", "-o", "{tmp}/m"], "no such file"),
    (["neural", "train", "{tmp}/note.txt", "-o", "{tmp}/m"], "give a video"),
    (["neural", "train", "{tmp}", "-o", "{tmp}/m", "--kind", "gan"], "--kind must be one of"),
    (["neural", "train", "{tmp}", "-o", "{tmp}/m"], "not a data set folder"),
    (["neural", "render", "{tmp}", "--motion", "walk", "-o", "{tmp}/x.mp4"], "not a neural avatar folder"),
    (["neural", "render", "{tmp}", "--motion", "walk", "-o", "{tmp}/x.gif"], "must end in .mp4"),
    (["neural", "render", "{tmp}", "--motion", "walk", "--camera", "north", "-o", "{tmp}/x.mp4"], "--camera"),
    (["neural", "motion", "moonwalk", "-o", "{tmp}/m.json"], "unknown motion preset"),
    (["neural", "track", "{tmp}/note.txt", "-o", "{tmp}/m.json"], "cannot read"),
])
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, args, needle):
    (tmp_path / "note.txt").write_text("hello")
    code, out, err = run(capsys, *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert code == 2, (out, err)
    assert needle in err and err.count("\n") == 1 and "Traceback" not in err
