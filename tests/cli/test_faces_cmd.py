"""`avatarforge faces`: the list, faces.json, faces.png, --face-index in that order, errors."""

import json

import numpy as np
import pytest
from PIL import Image

from avatarforge.cli.main import main


def run(capsys, *args):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """Grace Hopper (face ~195 px) beside the astronaut (face ~95 px), as one PNG."""
    import matplotlib.cbook
    from skimage import data

    grace = np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"))
    canvas = np.full((600, 512 + 40 + 512, 3), 255, np.uint8)
    canvas[:600, :512] = grace
    canvas[44:556, 552:] = data.astronaut()
    path = tmp_path_factory.mktemp("pair") / "pair.png"
    Image.fromarray(canvas).save(path)
    return path


def test_faces_lists_and_writes(capsys, pair, tmp_path):
    from avatarforge.perception.face import find_faces
    from avatarforge.perception.image_io import load_image

    out = tmp_path / "f"
    code, stdout, err = run(capsys, "faces", pair, "-o", out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["faces.json", "faces.png"]
    data = json.loads((out / "faces.json").read_text())
    assert data["image_size"] == [1064, 600]
    assert [f["index"] for f in data["faces"]] == [0, 1]
    assert set(data["faces"][0]) == {"index", "box", "score", "yaw_deg"}
    # The same faces and order as the library; Grace (left, larger) first.
    found = find_faces(load_image(pair))
    for entry, face in zip(data["faces"], found):
        assert entry["box"] == pytest.approx([face.box.x0, face.box.y0, face.box.x1, face.box.y1], abs=0.06)
        assert 0.5 < entry["score"] <= 1 and abs(entry["yaw_deg"]) < 25
    assert data["faces"][0]["box"][2] < 512 < data["faces"][1]["box"][0]
    lines = stdout.splitlines()
    assert lines[0].split()[:2] == ["index", "box"] and lines[1].split()[0] == "0" and lines[2].split()[0] == "1"
    assert "2 faces" in lines[-1]
    # faces.png: the photo with a coloured box drawn at each face.
    png = np.asarray(Image.open(out / "faces.png").convert("RGB")).astype(int)
    assert png.shape == (600, 1064, 3)
    x0, y0, x1, y1 = (round(v) for v in data["faces"][1]["box"])
    edge = png[y0 + 5 : y1 - 5, x0 - 1 : x0 + 2]
    assert (np.abs(edge - [255, 140, 0]).sum(-1) < 60).mean() > 0.5  # face 1's orange box edge


def test_faces_without_output_only_lists(capsys, pair, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, _ = run(capsys, "faces", pair)
    assert code == 0 and "2 faces" in stdout and list(tmp_path.iterdir()) == []


def test_faces_errors(capsys, tmp_path):
    from skimage import data

    coffee = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(coffee)
    for args in ([coffee, "-o", tmp_path / "o"], [tmp_path / "missing.jpg"]):
        code, _, err = run(capsys, "faces", *args)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and lines[0].startswith("error:")
    assert not (tmp_path / "o").exists()


def test_face_index_follows_the_faces_order(capsys, body, pair, tmp_path):
    """`face --face-index 1` fits the second face of the `faces` list; out of range is an
    error that points at `avatarforge faces`."""
    code, _, err = run(capsys, "face", pair, "-o", tmp_path / "one", "--face-index", "1", "--no-eye-net")
    assert code == 0, err
    lm = json.loads((tmp_path / "one" / "landmarks.json").read_text())
    assert lm["face_index"] == 1 and lm["faces_found"] == 2
    assert np.asarray(lm["detected"])[:, 0].min() > 552  # the astronaut's face, on the right
    code, _, err = run(capsys, "face", pair, "-o", tmp_path / "two", "--face-index", "2")
    assert code == 2 and "out of range" in err and "avatarforge faces" in err


def test_batch_passes_face_index(capsys, body, pair, tmp_path):
    """`batch --face-index` reaches every photo's face stage: an index the photo does not
    have fails that photo with the face stage's message (recorded, not fatal)."""
    photos = tmp_path / "in"
    photos.mkdir()
    (photos / "pair.png").write_bytes(pair.read_bytes())
    out = tmp_path / "out"
    run(capsys, "batch", photos, "-o", out, "--face-index", "5")  # its exit code for failed items is not at issue
    report = json.loads((out / "batch_report.json").read_text())
    (item,) = report["items"]
    assert item["status"] == "failed" and "face index 5 is out of range: 2 faces were found" in item["error"]


def test_face_the_landmark_model_rejects_is_one_line_exit_2(capsys, pair, tmp_path, monkeypatch):
    """A detected face the landmark model cannot place: `face` and `faces` end with one
    `error:` line saying why, exit code 2, nothing written."""
    from avatarforge.perception import face as face_mod

    monkeypatch.setattr(face_mod, "_mesh_for_box", lambda rgb, box: None)
    code, _, err = run(capsys, "face", pair, "-o", tmp_path / "o")
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1
    assert lines[0].startswith("error: a face was found in ") and "could not be landmarked" in lines[0]
    assert not (tmp_path / "o").exists()
    code, _, err = run(capsys, "faces", pair, "-o", tmp_path / "f")
    assert code == 2 and err.startswith("error: a face was found in ") and not (tmp_path / "f").exists()
