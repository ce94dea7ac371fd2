"""`avatarforge create` and `avatarforge batch` end to end on real photos."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from avatarforge.cli.main import main

# avatar_hair.png: the OBJ's hair texture (the photo has hair; a bald avatar has none)
EXPECTED = ["avatar.glb", "avatar.mtl", "avatar.obj", "avatar_hair.png", "avatar_texture.png", "fit_overlay.png",
            "landmarks.json",
            "params.json", "parsing.png", "preview.png", "preview_head.png", "render_fitted.png", "report.json", "texture_lit.png"]


def run(capsys, *args):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


@pytest.fixture(scope="module")
def created(body, photos, tmp_path_factory):
    out = tmp_path_factory.mktemp("create") / "astro"
    code = main(["create", str(photos["astronaut"]), "-o", str(out), "--texture-size", "512",
                 "--preview-size", "128", "--gender", "female", "--height", "1.70", "--pose", "t"])
    assert code == 0
    return out


def test_create_writes_the_full_set(created, gltf_validator):
    assert sorted(p.name for p in created.iterdir()) == EXPECTED
    report = json.loads((created / "report.json").read_text())
    assert {"detect face", "fit face", "infer body", "texture", "export glb", "preview"} <= set(report["stage_seconds"])
    assert report["total_seconds"] > 0 and len(report["input"]["sha256"]) == 64
    assert report["body"]["given"] == ["gender", "height"] and "age" in report["body"]["inferred"]
    assert report["body"]["stature_m"] == pytest.approx(1.70, abs=0.01)
    result = gltf_validator(created / "avatar.glb")
    assert result["issues"]["numErrors"] == 0

    from avatarforge.export import read_glb

    glb = read_glb(created / "avatar.glb")
    assert glb.image_png is not None and len(glb.morph_names) == 67 and len(glb.joint_nodes) >= 100


def test_create_parsing_and_hair(created):
    from avatarforge.perception.parsing import LABELS

    report = json.loads((created / "report.json").read_text())
    legend = report["parsing"]["legend"]
    assert list(legend) == list(LABELS)
    labels = np.asarray(Image.open(created / "parsing.png"))
    assert Image.open(created / "parsing.png").mode == "P"
    counts = np.bincount(labels.ravel(), minlength=len(LABELS))
    assert [legend[n]["pixels"] for n in LABELS] == counts.tolist()
    assert legend["face_skin"]["pixels"] > 0 and legend["hair"]["pixels"] > 0
    assert report["parsing"]["detected"]["glasses"] is False and report["parsing"]["detected"]["headwear"] is False
    # Her hair is modelled (not bald) in the photo's colour, and raises the head-silhouette IoU
    # well above the bare head's (0.64 measured before hair geometry).
    assert report["hair"]["style"] in ("short", "medium") and report["head_silhouette_iou"] > 0.72
    mtl = (created / "avatar.mtl").read_text()
    assert "newmtl avatar_hair" in mtl and "o hair" in (created / "avatar.obj").read_text()


def test_create_images(created, photos):
    w, h = Image.open(photos["astronaut"]).size
    rf = np.asarray(Image.open(created / "render_fitted.png"))
    assert rf.shape == (h, w, 4) and 0 < (rf[..., 3] > 0).mean() < 0.9
    tex = np.asarray(Image.open(created / "avatar_texture.png"))
    assert tex.shape[:2] == (512, 512) and tex.std() > 5
    prev = np.asarray(Image.open(created / "preview.png"))
    assert prev.shape[0] == 128 and prev.shape[1] > 4 * 40  # four views
    head = np.asarray(Image.open(created / "preview_head.png"))[..., :3].astype(float)
    assert head.shape[0] == 128 and head.shape[1] > 5 * 64  # five views, the head framed
    front = head[:, : head.shape[1] // 5]
    assert (np.abs(front - front[0, 0]).sum(-1) > 30).mean() > 0.3  # the head fills the view
    lit = np.asarray(Image.open(created / "texture_lit.png"))
    assert lit.shape == tex.shape and np.abs(lit.astype(float) - tex).mean() > 1  # not the albedo
    report = json.loads((created / "report.json").read_text())
    assert report["render_fitted_face"]["psnr"] > report["render_fitted_face_relit_albedo"]["psnr"] > 15
    assert report["total_cpu_seconds"] > 0 and report["eyes"]["iris_network_used"] in ([True, True], [True, False], [False, True])


def test_create_params_rebuild_the_mesh(created, body):
    from avatarforge.avatar import load_avatar_params

    params = json.loads((created / "params.json").read_text())
    assert params["values"]["gender"] == 1.0 and params["pose_preset"] == "t"
    assert "camera" in params["extra"] and "fitted_pose" in params["extra"]
    again = load_avatar_params(created)
    assert again.output.vertices.shape == (1, 13718, 3)


@pytest.mark.parametrize("name,needle", [
    ("coffee", "no face found"), ("notes", "not"), ("empty", "empty"), ("truncated", "truncated"),
])
def test_create_bad_photos(capsys, body, photos, tmp_path, name, needle):
    out = tmp_path / "o"
    code, _, err = run(capsys, "create", photos[name], "-o", out)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and needle in lines[0].lower() and not out.exists()


def test_create_bad_outputs_and_flags(capsys, body, photos, tmp_path, created):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = [
        (["-o", blocker / "sub"], "cannot create output directory"),
        (["-o", created], "already holds an avatar"),
        (["-o", tmp_path / "x", "--gender", "robot"], "--gender"),
        (["-o", tmp_path / "x", "--age", "200"], "--age"),
        (["-o", tmp_path / "x", "--pose", "sitting"], "unknown pose"),
        (["-o", tmp_path / "x", "--set", "nose=1"], "unknown parameter"),
        (["-o", tmp_path / "x", "--hair", "mohawk"], "--hair"),
        (["-o", tmp_path / "x", "--hair", "long+wild"], "modifiers"),
        (["-o", tmp_path / "x", "--hair", "auto+wild"], "modifiers"),
        (["-o", tmp_path / "x", "--hair-color", "brown"], "--hair-color"),
    ]
    for args, needle in cases:
        code, _, err = run(capsys, "create", photos["astronaut"], *args)
        assert code == 2 and needle in err, (args, err)
    code, _, err = run(capsys, "create", tmp_path, "-o", tmp_path / "y")
    assert code == 2 and "directory" in err


def test_create_hair_texture(created):
    """The hair is textured from the photo: its own PNG (alpha-cut tips) in the OBJ and the
    GLB (alphaMode MASK), and report.json says how much of it the photo showed."""
    from pygltflib import GLTF2

    report = json.loads((created / "report.json").read_text())
    assert 0.0 < report["hair"]["texture_seen"] < 1.0 and report["hair"]["strand_detail"] > 0
    tex = np.asarray(Image.open(created / "avatar_hair.png"))
    assert tex.shape[2] == 4 and tex[..., 3].min() == 0 and (tex[..., 3] == 255).mean() > 0.5
    assert "map_Kd avatar_hair.png" in (created / "avatar.mtl").read_text()
    g = GLTF2().load(str(created / "avatar.glb"))
    hair = next(m for m in g.meshes if m.name == "hair")
    mat = g.materials[hair.primitives[0].material]
    assert mat.alphaMode == "MASK" and mat.pbrMetallicRoughness.baseColorTexture is not None


def test_create_outfit(created):
    """The astronaut (a portrait) wears a top in her suit's colours, the rest is the neutral
    default; each garment is its own mesh in the GLB and object in the OBJ."""
    from pygltflib import GLTF2

    report = json.loads((created / "report.json").read_text())
    outfit = {g["type"]: g for g in report["outfit"]}
    assert {"trousers", "shoes"} <= set(outfit) and outfit["trousers"]["source"] == "default"
    tops = [g for g in report["outfit"] if g["type"] in ("tshirt", "longsleeve", "shirt", "jacket")]
    assert len(tops) == 1 and tops[0]["source"] == "photo"
    meshes = {m.name for m in GLTF2.load_binary(str(created / "avatar.glb")).meshes}
    assert set(outfit) <= meshes
    assert all(f"o {name}" in (created / "avatar.obj").read_text() for name in outfit)


@pytest.mark.parametrize("value,needle", [("cape", "unknown garment 'cape'"), ("tshirt+shirt", "both cover the top"),
                                          ("tshirt:red", "#RRGGBB"), ("skirt+dress", "both cover")])
def test_bad_outfit_is_one_line_before_the_photo(capsys, tmp_path, value, needle):
    code, _, err = run(capsys, "create", tmp_path / "missing.jpg", "-o", tmp_path / "o", "--outfit", value)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and "--outfit" in lines[0] and needle in lines[0], err
    assert not (tmp_path / "o").exists()


def test_batch_records_failures_and_resumes(capsys, body, photos, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("grace_hopper", "coffee", "notes"):
        (src / photos[name].name).write_bytes(photos[name].read_bytes())
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "batch", src, "-o", out, "--workers", "2", "--texture-size", "256",
                            "--preview-size", "64")
    assert code == 1, err  # some photos failed: scripts must be able to tell
    assert "2 failed" in stdout and "exit code 1" in stdout
    report = json.loads((out / "batch_report.json").read_text())
    status = {it["photo"].split("/")[-1]: it for it in report["items"]}
    assert status["grace_hopper.jpg"]["status"] == "done"
    assert status["coffee.jpg"]["status"] == "failed" and "no face found" in status["coffee.jpg"]["error"]
    assert status["notes.jpg"]["status"] == "failed"
    assert (out / "grace_hopper" / "avatar.glb").exists() and not (out / "coffee").exists()
    assert report["counts"] == {"done": 1, "failed": 2, "skipped": 0, "pending": 0}
    # Resumable: done photos are skipped, failed ones retried.
    code, stdout, _ = run(capsys, "batch", src, "-o", out, "--texture-size", "256", "--preview-size", "64")
    report = json.loads((out / "batch_report.json").read_text())
    assert code == 1 and report["counts"]["skipped"] == 1 and report["counts"]["failed"] == 2


def test_batch_bad_source(capsys, tmp_path):
    code, _, err = run(capsys, "batch", tmp_path / "nothing*", "-o", tmp_path / "o")
    assert code == 2 and "error:" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "batch", tmp_path / "empty", "-o", tmp_path / "o")
    assert code == 2 and "no photos" in err


def test_batch_on_local_ray(capsys, body, photos, tmp_path):
    pytest.importorskip("ray")
    src = tmp_path / "in"
    src.mkdir()
    (src / "notes.jpg").write_text("x")
    (src / "g.jpg").write_bytes(photos["grace_hopper"].read_bytes())
    out = tmp_path / "out"
    code, _, err = run(capsys, "batch", src, "-o", out, "--ray", "local", "--texture-size", "256", "--preview-size", "64")
    assert code == 1, err  # notes.jpg failed
    report = json.loads((out / "batch_report.json").read_text())
    assert report["backend"] == "ray" and report["counts"]["done"] == 1 and report["counts"]["failed"] == 1


def test_create_on_a_full_body_photo_measures_the_body(capsys, body, tmp_path):
    from avatarforge.dev.body_synthetic import random_body_sample, render_body_sample

    rng = np.random.default_rng(5)
    values = random_body_sample(body, rng, yaw_deg=10)
    sample = render_body_sample(body, values, rng, size=(800, 1200))
    photo = tmp_path / "full.png"
    Image.fromarray(sample.rgb).save(photo)
    out = tmp_path / "o"
    code, _, err = run(capsys, "create", photo, "-o", out, "--texture-size", "256", "--preview-size", "64",
                       "--keep-pose")
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    assert report["full_body"] is not None and report["full_body"]["silhouette_iou"] > 0.8
    assert set(report["full_body"]["taken_from_body"]) == {"weight", "muscle", "proportions"}
    assert "height" in report["body"]["inferred"]
    params = json.loads((out / "params.json").read_text())["values"]
    assert any(abs(v) > 5 for k, v in params.items() if k.startswith("pose.upperarm01"))  # the photo's pose kept


def test_head_only_photo_has_no_body_fit(created):
    report = json.loads((created / "report.json").read_text())
    assert report["full_body"] is None


def test_lit_texture_option_exports_the_photo_lit_texture(body, photos):
    from avatarforge.pipeline.create import CreateOptions, create_avatar

    result = create_avatar(photos["astronaut"], CreateOptions(texture_size=256, lit_texture=True, eye_net=False),
                           body=body)
    np.testing.assert_array_equal(result.avatar.texture, result.texture.lit)
    assert np.abs(result.texture.lit.astype(float) - result.texture.albedo).mean() > 1
    assert result.face.iris is None  # the eye network was off


@pytest.mark.parametrize("name,needle", [
    ("coffee", "no face found"), ("notes", "not"), ("truncated", "truncated"),
])
def test_bad_photo_is_refused_before_torch_loads(photos, tmp_path, name, needle):
    # A new process, as a user runs it: the refusal must come before torch (and the body
    # model) is imported, i.e. in about a second instead of after the model load.
    out = tmp_path / "o"
    code = ("import sys\n"
            "from avatarforge.cli.main import main\n"
            f"rc = main(['create', {str(photos[name])!r}, '-o', {str(out)!r}])\n"
            "print('torch' in sys.modules, 'anny' in sys.modules, rc)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.stdout.split() == ["False", "False", "2"], (proc.stdout, proc.stderr)
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0].lower()
    assert not out.exists()
