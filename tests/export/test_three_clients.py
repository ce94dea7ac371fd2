"""Real clients load what we export: three.js's GLTFLoader (GLB) and pixiv's official VRM
loader for three.js (@pixiv/three-vrm) in headless Chromium (Debian's, driven by Playwright).

The page (web/viewer.html) imports three and three-vrm from tools/node_modules (npm ci in
tools/) through an import map; a local server on 127.0.0.1 serves it with the files. Without
Chromium, Playwright or the npm packages the tests skip locally and fail on CI (CI=true).
"""

from __future__ import annotations

import base64
import http.server
import io
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avatarforge.export.face_shapes import ARKIT_BLENDSHAPES, OCULUS_VISEMES, VISEME_PREFIX
from avatarforge.export.humanoid import ANNY_TO_VRM, VRM_REQUIRED_BONES
from avatarforge.export.vrm import VRM_PRESETS

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / "tools" / "node_modules"
PAGE = Path(__file__).resolve().parent / "web" / "viewer.html"
ON_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
#: Where the screenshots go when set (the figures in the README were looked at there).
SHOT_DIR = os.environ.get("AVATARFORGE_TEST_SHOTS")


def _need(what: str, ok: bool) -> None:
    if ok:
        return
    if ON_CI:
        pytest.fail(f"CI is set but {what} is missing (make tools browser; pip install -e .[dev])")
    pytest.skip(f"{what} is not available")


class _Handler(http.server.SimpleHTTPRequestHandler):
    """/ -> the test page, /node_modules/* -> tools/node_modules, /files/* -> the avatar files."""

    files: Path

    def translate_path(self, path: str) -> str:
        path = path.split("?", 1)[0]
        if path.startswith("/node_modules/"):
            return str(NODE_MODULES / path[len("/node_modules/"):])
        if path.startswith("/files/"):
            return str(self.files / path[len("/files/"):])
        return str(PAGE)

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def avatar_files(tmp_path_factory, body):
    """avatar.glb and avatar.vrm of one T-pose body with a synthetic texture."""
    from avatarforge.avatar import build_avatar, lod_meshes
    from avatarforge.errors import MissingDependencyError
    from avatarforge.export import write_glb
    from avatarforge.export.compress import meshopt_compress
    from avatarforge.export.vrm import write_vrm

    folder = tmp_path_factory.mktemp("three-clients")
    yy, xx = np.mgrid[0:512, 0:512]
    tex = np.stack([190 + 30 * np.sin(xx / 11.0), 140 + 20 * np.cos(yy / 13.0), 120 + 0 * xx], -1).astype(np.uint8)
    avatar = build_avatar({"weight": 0.5}, pose="t", body=body, texture=tex)
    mesh = avatar.rigged_mesh()
    glb = write_glb(mesh, folder / "avatar.glb")
    vrm = write_vrm(mesh, folder / "avatar.vrm")
    write_glb(lod_meshes(avatar, mesh)[3], folder / "avatar_lod3.glb")
    try:
        meshopt_compress(folder / "avatar.glb", folder / "avatar_meshopt.glb")
    except MissingDependencyError:
        pass  # its test skips (or fails on CI)
    # The same body with long hair (spring chains): plain and toon VRM.
    from avatarforge.bodies.hair import HairStyle, build_hair

    avatar.hair = build_hair(avatar.output, HairStyle.preset("long"))
    hair_mesh = avatar.rigged_mesh()
    write_vrm(hair_mesh, folder / "avatar_hair.vrm")
    write_vrm(hair_mesh, folder / "avatar_toon.vrm", toon=True)
    return folder, glb, vrm, mesh


@pytest.fixture(scope="module")
def page(avatar_files):
    import importlib.util

    from avatarforge.dev.studio_browser import chromium_context, find_chromium

    _need("the playwright package", importlib.util.find_spec("playwright") is not None)
    _need("chromium", find_chromium() is not None)
    _need("three and @pixiv/three-vrm in tools/node_modules",
          (NODE_MODULES / "three" / "package.json").is_file()
          and (NODE_MODULES / "@pixiv" / "three-vrm" / "package.json").is_file())
    handler = type("H", (_Handler,), {"files": avatar_files[0]})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with chromium_context(600, 600) as ctx:
            pg = ctx.new_page()
            errors: list[str] = []
            pg.on("pageerror", lambda e: errors.append(str(e)))
            pg.goto(f"http://127.0.0.1:{server.server_address[1]}/")
            pg.wait_for_function("window.ready === true", timeout=30_000)
            pg.errors = errors
            yield pg
    finally:
        server.shutdown()
        server.server_close()


def _load(page, name: str) -> dict:
    return page.evaluate(f"window.loadAvatar('/files/{name}')")


def _frame(page, target, distance, expressions=None, shot: str | None = None, keep: bool = False) -> np.ndarray:
    """Render from ``distance`` in front of ``target`` with ``expressions`` set (``keep``: leave
    the VRM as it is: no expression reset, no update)."""
    exprs = None if keep else (expressions or {})
    url = page.evaluate("([t, d, e]) => window.renderView(t, d, e)", [list(target), distance, exprs])
    png = base64.b64decode(url.split(",", 1)[1])
    if SHOT_DIR and shot:
        Path(SHOT_DIR).mkdir(parents=True, exist_ok=True)
        (Path(SHOT_DIR) / shot).write_bytes(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def test_arkit_names_are_the_canonical_52(body, avatar_files) -> None:
    # Apple's ARFaceAnchor.BlendShapeLocation list, written out independently of the code.
    canonical = """browDownLeft browDownRight browInnerUp browOuterUpLeft browOuterUpRight cheekPuff
    cheekSquintLeft cheekSquintRight eyeBlinkLeft eyeBlinkRight eyeLookDownLeft eyeLookDownRight eyeLookInLeft
    eyeLookInRight eyeLookOutLeft eyeLookOutRight eyeLookUpLeft eyeLookUpRight eyeSquintLeft eyeSquintRight
    eyeWideLeft eyeWideRight jawForward jawLeft jawOpen jawRight mouthClose mouthDimpleLeft mouthDimpleRight
    mouthFrownLeft mouthFrownRight mouthFunnel mouthLeft mouthLowerDownLeft mouthLowerDownRight mouthPressLeft
    mouthPressRight mouthPucker mouthRight mouthRollLower mouthRollUpper mouthShrugLower mouthShrugUpper
    mouthSmileLeft mouthSmileRight mouthStretchLeft mouthStretchRight mouthUpperUpLeft mouthUpperUpRight
    noseSneerLeft noseSneerRight tongueOut""".split()
    assert len(canonical) == 52 and len(set(canonical)) == 52
    assert list(ARKIT_BLENDSHAPES) == canonical
    assert sorted(body.expression_names) == sorted(canonical)
    _, glb, vrm, _ = avatar_files
    want = canonical + [VISEME_PREFIX + v for v in OCULUS_VISEMES]
    assert sorted(glb.morph_names[:52]) == sorted(canonical)
    assert list(glb.morph_names[52:]) == want[52:] and list(vrm.morph_names) == list(glb.morph_names)


def test_gltfloader_loads_every_material_and_morph(page, avatar_files) -> None:
    _, glb, _, _ = avatar_files
    got = _load(page, "avatar.glb")
    assert not page.errors, page.errors
    assert sorted(got["materials"]) == sorted(f"avatar_{m}" for m in ("skin", "eyes", "mouth"))
    assert set(got["morphs"]) == set(glb.morph_names) and len(got["morphs"]) == 67
    assert [m["skinned"] for m in got["meshes"]] == [True] * 3  # one SkinnedMesh per material primitive
    assert all(m["bones"] == 104 and m["morphs"] == 67 and m["material"] == ["MeshStandardMaterial"]
               for m in got["meshes"])


@pytest.mark.parametrize("name", ["avatar_lod3.glb", "avatar_meshopt.glb"])
def test_gltfloader_loads_lod_and_meshopt(page, avatar_files, name) -> None:
    if not (avatar_files[0] / name).is_file():
        _need("gltfpack (npm ci in tools/)", False)
    got = _load(page, name)
    assert not page.errors, page.errors
    want = ["avatar_eyes", "avatar_skin"] if "lod" in name else ["avatar_eyes", "avatar_mouth", "avatar_skin"]
    assert sorted(got["materials"]) == want
    assert set(got["morphs"]) == set(avatar_files[1].morph_names)
    assert all(m["skinned"] and m["bones"] == 104 and m["morphs"] == 67 for m in got["meshes"])


def test_three_vrm_resolves_the_humanoid(page, avatar_files) -> None:
    got = _load(page, "avatar.vrm")
    assert not page.errors, page.errors
    assert got["metaVersion"] == "1" and got["metaName"] == "avatar"
    assert set(VRM_REQUIRED_BONES) <= set(got["bones"])
    assert set(got["bones"]) == set(ANNY_TO_VRM.values())  # fingers and eyes too: 52 bones
    assert set(got["normalizedBones"]) == set(got["bones"])
    assert set(VRM_PRESETS) <= set(got["expressions"])
    assert got["lookAt"] == "VRMLookAtBoneApplier" and got["firstPerson"]
    assert got["springJoints"] == [] and got["mtoon"] == []  # no hair, no --toon


def test_three_vrm_loads_mtoon_and_it_renders_differently(page, avatar_files) -> None:
    plain = _load(page, "avatar_hair.vrm")
    assert not page.errors, page.errors
    assert plain["mtoon"] == [] and all("MToonMaterial" not in m["material"] for m in plain["meshes"])
    head = page.evaluate("window.bonePosition('head')")
    view = ((0.0, head[1] - 0.2, 0.0), 2.5)
    before = _frame(page, *view, shot="vrm_hair_plain.png")
    toon = _load(page, "avatar_toon.vrm")
    assert not page.errors, page.errors
    # Every material is MToon; skin and hair get an outline (a second, back-face material).
    want = [f"avatar_{m}" for m in ("skin", "eyes", "mouth", "hair")] + ["avatar_skin (Outline)", "avatar_hair (Outline)"]
    assert sorted(set(toon["mtoon"])) == sorted(want)
    assert all(set(m["material"]) == {"MToonMaterial"} for m in toon["meshes"])
    by_name = {m["name"]: m for m in toon["meshes"]}
    assert len(by_name["hair"]["material"]) == 2  # surface + outline
    after = _frame(page, *view, shot="vrm_hair_toon.png")
    diff = np.abs(after - before).sum(-1) > 30
    assert diff.mean() > 0.05, diff.mean()  # the toon shading changes a large part of the figure
    figure = np.abs(before - np.array([128, 128, 128])).sum(-1) > 30  # not the grey background
    assert diff[figure].mean() > 0.3, diff[figure].mean()


def test_three_vrm_spring_bones_sway_the_hair(page, avatar_files) -> None:
    got = _load(page, "avatar_hair.vrm")
    assert not page.errors, page.errors
    names = avatar_files[3].joint_names
    assert len(got["springJoints"]) == 5 * 3  # 5 chains of 4 joints: 3 head-tail pairs each
    assert all(n.startswith("hair_") for n in got["springJoints"]) and got["springColliders"] == 3
    assert not set(got["springJoints"]) & set(names)  # not body joints
    # Nod the head 23 degrees forward at once and step the simulation (a nod: turning or
    # tilting it instead presses the long hair onto the shoulder and neck colliders, which
    # then hold the tips whatever the stiffness).
    loose = page.evaluate("window.swayTest('x', 0.4, 40, null, false)")
    stiff = page.evaluate("window.swayTest('x', 0.4, 40, 1000, false)")
    # The tails lag behind the turned head and swing; with a huge stiffness they stay put
    # relative to the head (and still move in the world, as the head turns).
    assert max(loose["off"]) > 0.02, loose
    assert max(stiff["off"]) < 0.2 * max(loose["off"]), (stiff, loose)
    assert np.ptp(loose["off"][10:]) > 0.002  # still moving after the first steps: a swing
    assert min(stiff["moved"][-5:]) > 0.02  # the hair followed the head in the world
    if SHOT_DIR:  # what a nod does to the hair, 8 frames in (for the eye, not asserted)
        head = page.evaluate("window.bonePosition('head')")
        _frame(page, (0.0, head[1] - 0.1, 0.0), 1.6, shot="vrm_hair_rest.png")
        page.evaluate("window.swayTest('x', 0.4, 8, null, true)")
        _frame(page, (0.0, head[1] - 0.1, 0.0), 1.6, shot="vrm_hair_sway.png", keep=True)
        page.evaluate("window.swayTest('x', 0.4, 8, 1000, true)")
        _frame(page, (0.0, head[1] - 0.1, 0.0), 1.6, shot="vrm_hair_stiff.png", keep=True)
        page.evaluate("window.swayTest('x', 0.0, 1, null, false)")  # back to rest


def test_three_vrm_expressions_change_the_rendered_face(page, avatar_files) -> None:
    _load(page, "avatar.vrm")
    head = page.evaluate("window.bonePosition('head')")
    eyes = np.add(page.evaluate("window.bonePosition('leftEye')"), page.evaluate("window.bonePosition('rightEye')")) / 2
    target = (eyes[0], eyes[1] - 0.04, eyes[2])
    neutral = _frame(page, target, 0.9, shot="vrm_neutral.png")
    again = _frame(page, target, 0.9)
    np.testing.assert_array_equal(neutral, again)  # rendering is deterministic: differences are the expression's
    aa = _frame(page, target, 0.9, {"aa": 1.0}, shot="vrm_aa.png")
    blink = _frame(page, target, 0.9, {"blink": 1.0}, shot="vrm_blink.png")
    _frame(page, target, 0.9, {"aa": 1.0, "blink": 1.0}, shot="vrm_aa_blink.png")
    _frame(page, (0.0, head[1] - 0.6, 0.0), 6.0, shot="vrm_body.png")
    h, w = neutral.shape[:2]
    rows = np.arange(h)[:, None]

    def changed(a: np.ndarray) -> np.ndarray:
        return np.abs(a - neutral).sum(-1) > 30

    # The face fills the frame: eyes on the middle row (the camera aims 4 cm below them),
    # the mouth further down. aa opens the mouth (changes below the eyes), blink shuts the
    # lids (changes around the eye row), and neither changes much elsewhere.
    mouth_change, blink_change = changed(aa), changed(blink)
    assert mouth_change[rows[:, 0] > h * 0.55].sum() > 500, mouth_change.sum()
    assert blink_change[(rows[:, 0] > h * 0.25) & (rows[:, 0] < h * 0.55)].sum() > 200, blink_change.sum()
    assert blink_change[rows[:, 0] > h * 0.7].sum() < 0.05 * blink_change.sum()
    assert mouth_change[rows[:, 0] < h * 0.35].sum() < 0.05 * mouth_change.sum()


def test_gltfloader_plays_an_added_animation(page, avatar_files) -> None:
    """export.animation's clip on the avatar: three.js's AnimationMixer moves the joint and the
    morph weights to the written keyframes (and interpolates between them)."""
    from scipy.spatial.transform import Rotation

    from avatarforge.export.animation import AnimationClip, add_animation
    from avatarforge.export.gltf_read import read_glb

    folder, glb, _, mesh = avatar_files
    g = read_glb(folder / "avatar.glb")
    node = g.joint_nodes[list(mesh.joint_names).index("upperarm01.L")]
    n, fps = 11, 10.0
    rest = Rotation.from_matrix(g.node_local[node][:3, :3])
    quats = (rest * Rotation.from_euler("z", np.linspace(0, 60, n)[:, None], degrees=True)).as_quat()
    weights = np.zeros((n, len(glb.morph_names)))
    jaw = list(glb.morph_names).index("jawOpen")
    weights[:, jaw] = np.linspace(0, 1, n)
    data = add_animation((folder / "avatar.glb").read_bytes(), AnimationClip(fps, rotations={node: quats},
                                                                             weights={0: weights}))
    (folder / "animated.glb").write_bytes(data)
    got = page.evaluate("([u, n, t]) => window.sampleAnimation(u, n, t)",
                        ["/files/animated.glb", "upperarm01.L", [0.0, 0.5, 1.0]])
    assert not page.errors, page.errors
    assert got["duration"] == pytest.approx(1.0) and got["tracks"] >= 2
    for s, k in zip(got["samples"], (0, 5, 10)):
        q = np.array(s["q"])
        assert min(np.abs(q - quats[k]).max(), np.abs(q + quats[k]).max()) < 1e-4, (s["t"], q, quats[k])
        assert s["weights"][s["dictionary"]["jawOpen"]] == pytest.approx(weights[k, jaw], abs=1e-5)
