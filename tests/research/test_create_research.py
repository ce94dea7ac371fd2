import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from avatarforge.cli.main import main


@pytest.fixture(scope="module")
def hopper(tmp_path_factory):
    import matplotlib.cbook

    src = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    dst = tmp_path_factory.mktemp("photo") / "grace_hopper.jpg"
    dst.write_bytes(src.read_bytes())
    return dst


@pytest.mark.parametrize("with_deca", [True, False])
def test_create_backend_smplx_end_to_end(asset_tree, hopper, tmp_path, with_deca, capsys):
    root = asset_tree
    if not with_deca:
        root = tmp_path / "assets"
        shutil.copytree(asset_tree, root, symlinks=True)
        (root / "deca" / "deca_model.tar").unlink()
    out = tmp_path / "out"
    code = main(["create", str(hopper), "-o", str(out), "--backend", "smplx", "--assets", str(root),
                 "--texture-size", "256", "--preview-size", "64", "--age", "30", "--set", "shape.2=1.5"])
    err = capsys.readouterr().err
    assert code == 0, err
    names = sorted(p.name for p in out.iterdir())
    for n in ("avatar.glb", "avatar.obj", "params.json", "preview.png", "report.json", "head_codes.json",
              "head_texture_flame_uv.png", "deca_crop.png", "landmarks.json", "fit_overlay.png"):
        assert n in names
    for n in ("displacement.png", "deca_albedo.png", "deca_shaded.png", "detail_normals.png"):
        assert (n in names) == with_deca, n
    assert "--age apply to the anny backend only" in err
    report = json.loads((out / "report.json").read_text())
    assert report["research"]["method"] == ("deca" if with_deca else "landmarks")
    assert report["glb"]["vertices"] >= 10475 and report["glb"]["joints"] == 55
    lm = json.loads((out / "landmarks.json").read_text())
    assert len(lm["detected68"]) == 68 and len(lm["fitted68"]) == 68
    assert report["research"]["landmark_rms_px_photo"] > 0
    params = json.loads((out / "params.json").read_text())
    assert params["backend"] == "smplx" and params["values"]["expr.photo"] == 1.0
    assert params["values"]["shape.2"] == 1.5 and params["values"]["pose.left_shoulder.z"] == -40.0
    # the output folder + assets rebuild the same avatar: every GLB position is a rebuilt vertex
    from scipy.spatial import cKDTree

    from avatarforge.export.gltf_read import read_glb_positions
    from avatarforge.research.rebuild import rebuild_avatar

    mesh = rebuild_avatar(out, root).rigged_mesh()
    d, hit = cKDTree(mesh.vertices).query(read_glb_positions(out / "avatar.glb"))
    assert d.max() < 1e-6 and set(hit.tolist()) == set(np.unique(mesh.faces).tolist())


def test_missing_asset_is_one_line(asset_tree, hopper, tmp_path, capsys):
    root = tmp_path / "assets"
    shutil.copytree(asset_tree, root, symlinks=True)
    (root / "smplx" / "SMPLX_NEUTRAL.npz").unlink()
    code = main(["create", str(hopper), "-o", str(tmp_path / "o"), "--backend", "smplx", "--assets", str(root)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and "SMPLX_NEUTRAL.npz" in err[0] and "https://smpl-x.is.tue.mpg.de" in err[0]


def test_unknown_backend(hopper, tmp_path, capsys):
    assert main(["create", str(hopper), "-o", str(tmp_path / "o"), "--backend", "flame"]) == 2
    assert "unknown backend 'flame': choose anny or smplx" in capsys.readouterr().err


def test_bad_set_value_is_refused(asset_tree, hopper, tmp_path, capsys):
    code = main(["create", str(hopper), "-o", str(tmp_path / "o"), "--backend", "smplx", "--assets", str(asset_tree),
                 "--set", "shape.0=99"])
    assert code == 2 and "out of range" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
