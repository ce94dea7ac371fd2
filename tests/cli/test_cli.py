"""The CLI end to end on the real body model: outputs, validation, error policy."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from avatarforge.cli.main import main


def run(capsys, *args):
    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_version_and_help(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.startswith("avatarforge ")
    code, out, _ = run(capsys, "body", "--help")
    assert code == 0 and "--set" in out and "--pose" in out


def test_params_lists_every_group(capsys, body):
    code, out, _ = run(capsys, "params", "--json")
    assert code == 0
    specs = json.loads(out)
    assert len(specs) == len(body.params)
    jaw = next(s for s in specs if s["name"] == "jawOpen")
    assert jaw["group"] == "expression" and (jaw["low"], jaw["high"]) == (0.0, 1.0)
    code, out, _ = run(capsys, "params", "--group", "phenotype")
    assert code == 0 and "gender" in out and "jawOpen" not in out
    code, _, err = run(capsys, "params", "--group", "nope")
    assert code == 2 and "unknown group" in err


def test_body_writes_a_valid_rigged_avatar(capsys, body, tmp_path, gltf_validator):
    out = tmp_path / "av"
    code, stdout, err = run(capsys, "body", "-o", str(out), "--pose", "t", "--set", "gender=0.2",
                            "--set", "jawOpen=0.4", "--preview-size", "128")
    assert code == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["avatar.glb", "avatar.mtl", "avatar.obj", "params.json", "preview.png", "report.json"]
    report = json.loads((out / "report.json").read_text())
    assert report["glb"]["joints"] >= 100 and report["glb"]["morph_targets"] == 52 + 15  # ARKit + visemes
    assert report["glb"]["materials"] == ["skin", "eyes", "mouth"]
    assert set(report["stage_seconds"]) >= {"build", "export glb", "preview"}
    result = gltf_validator(out / "avatar.glb")
    assert result["issues"]["numErrors"] == 0, result["issues"]["messages"][:5]

    from avatarforge.export import read_glb

    glb = read_glb(out / "avatar.glb")
    assert len(glb.morph_names) == 67 and "jawOpen" in glb.morph_names and glb.morph_names[-1] == "viseme_ou"
    assert np.isclose(glb.morph_weights[glb.morph_names.index("jawOpen")], 0.4)
    assert len(glb.joint_nodes) == 104
    # Every GLB vertex (split at UV seams) is a vertex of the mesh rebuilt from params.json,
    # and every mesh vertex is in the GLB.
    from scipy.spatial import cKDTree

    from avatarforge.avatar import load_avatar_params

    rebuilt = load_avatar_params(out).rigged_mesh().vertices
    assert cKDTree(rebuilt).query(glb.positions)[0].max() < 1e-5
    assert cKDTree(glb.positions).query(rebuilt)[0].max() < 1e-5
    params = json.loads((out / "params.json").read_text())
    assert params["values"]["gender"] == 0.2 and params["pose_preset"] == "t"
    preview = np.asarray(Image.open(out / "preview.png"))
    assert preview.shape[0] == 128 and preview.shape[1] > 128
    assert (preview[..., :3].astype(int).sum(-1) < 600).mean() > 0.05  # a body is drawn


def test_body_export_formats(capsys, body, tmp_path, gltf_validator):
    out = tmp_path / "vrm"
    code, _, err = run(capsys, "body", "-o", str(out), "--format", "vrm", "--pose", "a", "--no-visemes",
                       "--texture-atlas", "--toon", "--preview-size", "64")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["avatar.mtl", "avatar.obj", "avatar.vrm", "params.json",
                                                      "preview.png", "report.json"]
    report = json.loads((out / "report.json").read_text())
    assert report["vrm"]["morph_targets"] == 52 and report["vrm"]["materials"] == ["skin"] and "glb" not in report
    result = gltf_validator(out / "avatar.vrm")
    assert result["issues"]["numErrors"] == 0 and result["issues"]["numWarnings"] == 0
    from avatarforge.export import read_glb

    vrm = read_glb(out / "avatar.vrm")  # T-pose although --pose a: VRM's rest pose
    nodes = vrm.node_local[vrm.joint_nodes]
    names = json.loads((out / "params.json").read_text())
    assert names["pose_preset"] == "a"  # the GLB/OBJ pose
    from avatarforge.export.gltf_read import node_world_matrices

    world = node_world_matrices(vrm.node_local, vrm.node_parent)[vrm.joint_nodes]
    j = body.joint_names.index
    arm = world[j("wrist.L"), :3, 3] - world[j("upperarm01.L"), :3, 3]
    assert abs(arm[1]) < 0.02 * np.linalg.norm(arm) and np.allclose(nodes[:, :3, :3], np.eye(3))
    assert not np.any(vrm.morph_weights)  # neutral face: the app drives the expressions
    from avatarforge.export.gltf_read import read_glb_json

    doc = read_glb_json(out / "avatar.vrm")  # --toon: MToon on the material
    assert doc["materials"][0]["extensions"]["VRMC_materials_mtoon"]["specVersion"] == "1.0"
    for args, msg in ((["--format", "fbx"], "--format takes"), (["--skeleton-names", "unity"], "--skeleton-names takes"),
                      (["--toon"], "--toon makes the VRM")):
        bad = tmp_path / "bad"
        code, _, err = run(capsys, "body", "-o", str(bad), *args)
        assert code == 2 and err.startswith("error: ") and msg in err and "Traceback" not in err
        assert not bad.exists()


def test_body_rebuilds_from_params_file(capsys, body, tmp_path):
    first = tmp_path / "a"
    assert run(capsys, "body", "-o", str(first), "--set", "age=0.9", "--preview-size", "64")[0] == 0
    second = tmp_path / "b"
    assert run(capsys, "body", "-o", str(second), "--params", str(first), "--preview-size", "64")[0] == 0
    a = json.loads((first / "params.json").read_text())["values"]
    b = json.loads((second / "params.json").read_text())["values"]
    assert a == b and a["age"] == 0.9


@pytest.mark.parametrize("args,needle", [
    (["--set", "agee=0.3"], "unknown parameter 'agee'"),
    (["--set", "age=7"], "out of range"),
    (["--set", "age"], "NAME=VALUE"),
    (["--pose", "x"], "unknown pose"),
])
def test_bad_input_one_line_exit_2_nothing_written(capsys, body, tmp_path, args, needle):
    out = tmp_path / "o"
    code, _, err = run(capsys, "body", "-o", str(out), *args)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0]
    assert "Traceback" not in err
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir()]  # no temporary leftovers either


def test_existing_avatar_refused_unless_force(capsys, body, tmp_path):
    out = tmp_path / "o"
    assert run(capsys, "body", "-o", str(out), "--preview-size", "64")[0] == 0
    before = (out / "params.json").read_text()
    code, _, err = run(capsys, "body", "-o", str(out), "--set", "age=0.1", "--preview-size", "64")
    assert code == 2 and "already holds an avatar" in err and "--force" in err
    assert (out / "params.json").read_text() == before
    code, _, _ = run(capsys, "body", "-o", str(out), "--set", "age=0.1", "--force", "--preview-size", "64")
    assert code == 0 and json.loads((out / "params.json").read_text())["values"]["age"] == 0.1


def test_unwritable_output_is_a_clear_error(capsys, body, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "body", "-o", str(blocker / "sub"))
    assert code == 2 and "cannot create output directory" in err


def test_console_script_exit_code_and_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "avatarforge.cli.main", "body", "-o", str(tmp_path / "x"),
                           "--set", "nope=1"], capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "unknown parameter" in proc.stderr
