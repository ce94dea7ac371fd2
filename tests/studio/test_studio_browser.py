"""End to end: the studio in headless Chromium (Debian's chromium, driven by Playwright).

One server and one browser for the module (the body model and Chromium start once). The tests
run in file order and share the first tab; each checks the server-side state *and* what the
page shows. Without Chromium or Playwright they skip locally and fail on CI (CI=true).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from avatarforge.dev.studio_browser import (chromium_context, fake_camera_args, find_chromium, open_folder, skin_pixels,
                                            slider_thumb, write_y4m)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"
ON_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _need(what: str, ok: bool) -> None:
    if ok:
        return
    if ON_CI:
        pytest.fail(f"CI is set but {what} is missing: .ci/run installs it (apt-get install chromium; pip install -e .[dev])")
    pytest.skip(f"{what} is not available")


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


@pytest.fixture(scope="module")
def start_dir(tmp_path_factory, body):
    """An avatar folder as `create` writes it: params.json + avatar_texture.png."""
    from PIL import Image

    from avatarforge.avatar import build_avatar

    folder = tmp_path_factory.mktemp("start")
    build_avatar({"weight": 0.4}, body=body).params_file().write(folder / "params.json")
    yy, xx = np.mgrid[0:256, 0:256]
    tex = np.stack([200 + 20 * np.sin(xx / 9.0), 150 + 0 * yy, 120 + 10 * np.cos(yy / 7.0)], -1).astype(np.uint8)
    Image.fromarray(tex).save(folder / "avatar_texture.png")
    return folder


@pytest.fixture(scope="module")
def studio(tmp_path_factory, body, start_dir):
    import importlib.util

    _need("the viser package (studio extra)", importlib.util.find_spec("viser") is not None)
    from avatarforge.studio import StudioConfig, StudioServer

    cfg = StudioConfig(outdir=tmp_path_factory.mktemp("studio-out"), avatar_dir=start_dir, port=0,
                       texture_size=256, max_photo_bytes=EXAMPLE.stat().st_size + 1000)
    server = StudioServer(cfg, body=body)
    server.start()
    yield server
    server.stop()


def face_frames(n: int, width: int = 320, height: int = 240) -> list[np.ndarray]:
    """The example portrait on a grey frame, a few pixels further right each frame."""
    from PIL import Image

    face = np.asarray(Image.open(EXAMPLE).convert("RGB").resize((height, height)))
    out = []
    for i in range(n):
        frame = np.full((height, width, 3), 90, np.uint8)
        x = (width - height) // 2 + 3 * (i % 8) - 12
        frame[:, x:x + height] = face
        out.append(frame)
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    import importlib.util

    _need("the playwright package", importlib.util.find_spec("playwright") is not None)
    _need("chromium", find_chromium() is not None)
    camera = tmp_path_factory.mktemp("camera") / "face.y4m"  # the fake webcam: a face, generated here
    write_y4m(camera, face_frames(16), fps=10)
    with chromium_context(1280, 800, extra_args=fake_camera_args(camera)) as ctx:
        yield ctx


def open_tab(browser, studio, n_sessions: int):
    page = browser.new_page()
    page.goto(studio.url)
    page.get_by_text("weight", exact=True).first.wait_for(timeout=180_000)  # slow under load: software WebGL
    slider_thumb(page, "weight").wait_for(timeout=60_000)
    wait_for(lambda: len(studio.sessions) >= n_sessions, what="the session")
    session = max(studio.sessions.values(), key=lambda s: s.client.client_id)
    wait_for(lambda: session.updates >= 1, what="the first mesh")
    return page, session


@pytest.fixture(scope="module")
def tab(browser, studio):
    return open_tab(browser, studio, 1)


def canvas_shot(page) -> bytes:
    time.sleep(0.8)  # software WebGL: a frame takes ~0.2 s; let the last one land
    return page.screenshot(clip={"x": 0, "y": 0, "width": 930, "height": 800})


def shows_body(page, timeout: float = 15.0) -> int:
    """Skin pixels once the 3D view shows a body (a GLB swap can leave a frame or two empty)."""
    return wait_for(lambda: (n := skin_pixels(canvas_shot(page))) > 3000 and n, timeout, "a body on screen")


def test_binds_to_localhost_only(studio):
    assert studio.config.host == "127.0.0.1" and studio.server.get_host() == "127.0.0.1"
    assert studio.url.startswith("http://127.0.0.1:")


def test_page_shows_the_textured_avatar(tab):
    page, session = tab
    assert session.state.source == "folder " + session.app.config.avatar_dir.name
    assert session.state.values["weight"] == pytest.approx(0.4)
    assert session.textured is not None and session.state.texture is not None  # the GLB view is up
    assert shows_body(page)  # a body, not a blank canvas


def test_phenotype_slider_changes_the_mesh(tab):
    page, session = tab
    before_vertices, before_pixels = session.last_vertices.copy(), shows_body(page)
    thumb = slider_thumb(page, "weight")
    thumb.focus()
    page.keyboard.press("End")
    wait_for(lambda: session.state.values["weight"] == 1.0, what="weight = 1 on the server")
    wait_for(lambda: np.abs(session.last_vertices - before_vertices).max() > 0.01, what="the heavier mesh")
    assert thumb.get_attribute("aria-valuenow") == "1"
    # The shaded mesh follows the slider; the textured view catches up once the slider rests.
    wait_for(lambda: session.textured_vertices is session.last_vertices, 10, "the textured view to catch up")
    # A heavier body covers more of the screen.
    wait_for(lambda: skin_pixels(canvas_shot(page)) > before_pixels * 1.05, 15, "the heavier body on screen")


def test_expression_slider_moves_only_the_face(tab, body):
    page, session = tab
    open_folder(page, "Expression")
    open_folder(page, "Facial actions (52)")
    before = session.last_vertices.copy()
    thumb = slider_thumb(page, "jawOpen")
    thumb.scroll_into_view_if_needed()
    thumb.focus()
    page.keyboard.press("End")
    wait_for(lambda: session.state.values["jawOpen"] == 1.0, what="jawOpen = 1 on the server")
    wait_for(lambda: np.abs(session.last_vertices - before).max() > 0.005, what="the open jaw")
    moved = np.linalg.norm(session.last_vertices - before, axis=1)
    neck_y = session.state.mesh().joints[body.joint_names.index("neck01")][1]
    assert np.all(moved[before[:, 1] < neck_y - 0.05] < 1e-5)


def test_undo_button_restores_the_previous_value(tab):
    page, session = tab
    page.get_by_role("button", name="Undo").click()
    wait_for(lambda: session.state.values["jawOpen"] == 0.0, what="undo")
    wait_for(lambda: slider_thumb(page, "jawOpen").get_attribute("aria-valuenow") == "0", what="the slider back")
    page.get_by_role("button", name="Redo").click()
    wait_for(lambda: session.state.values["jawOpen"] == 1.0, what="redo")


def test_pose_and_expression_controls(tab, studio, body):
    page, session = tab
    open_folder(page, "Pose")
    page.get_by_role("button", name="T", exact=True).click()
    wait_for(lambda: session.state.pose_name == "t", what="the T pose")
    joints = session.state.mesh().joints
    arm = joints[body.joint_names.index("lowerarm01.L")] - joints[body.joint_names.index("upperarm01.L")]
    assert arm[0] / np.linalg.norm(arm) > 0.999  # left upper arm horizontal
    session.controls.joint.value = "head"  # as picking it in the dropdown
    thumb = slider_thumb(page, "rotation y (deg)")
    thumb.scroll_into_view_if_needed()
    thumb.focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    wait_for(lambda: session.state.values["pose.head.y"] == 20.0, what="head yaw 20 deg")
    page.get_by_role("button", name="A", exact=True).click()
    wait_for(lambda: session.state.pose_name == "a", what="the A pose")
    # An expression preset, then saved under a typed name (never a path).
    jaw = session.state.values["jawOpen"]
    session.controls.expression_preset.value = "surprise"
    wait_for(lambda: session.state.values["browInnerUp"] == 0.85, what="the surprise preset")
    name_input = page.locator(
        "xpath=//label[normalize-space(text())='Name']/ancestor::*[.//input[@type='text' or not(@type)]][1]"
        "//input[@type='text' or not(@type)]").first
    name_input.fill("../../wow")
    name_input.press("Enter")
    wait_for(lambda: session.controls.expression_name.value == "../../wow", what="the typed name")
    page.get_by_role("button", name="Save expression").click()
    saved = studio.config.outdir / "expressions" / "wow.json"
    wait_for(saved.is_file, what="the saved expression")
    weights = json.loads(saved.read_text())["weights"]
    assert weights["browInnerUp"] == 0.85 and "jawOpen" in weights
    session.state.undo()  # back to the previous expression for the next tests
    session.sync_controls()
    session.request_update()
    assert session.state.values["jawOpen"] == jaw


def test_export_downloads_a_valid_glb(tab, tmp_path, gltf_validator):
    from avatarforge.export.gltf_read import read_glb

    page, session = tab
    with page.expect_download(timeout=60_000) as info:
        page.get_by_role("button", name="Export GLB + OBJ + params").click()
    glb = tmp_path / "download.glb"
    info.value.save_as(glb)
    report = gltf_validator(glb)
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:3]
    contents = read_glb(glb)
    assert contents.morph_weights[contents.morph_names.index("jawOpen")] == pytest.approx(1.0)
    folder = session.exports[-1]
    assert folder.parent == session.app.config.outdir / "exports"  # only inside the output dir
    assert {"avatar.glb", "avatar.obj", "params.json", "avatar_texture.png"} <= {p.name for p in folder.iterdir()}
    assert json.loads((folder / "params.json").read_text())["values"]["weight"] == 1.0
    assert (folder / "avatar.glb").read_bytes() == glb.read_bytes()


def test_export_downloads_a_vrm(tab, tmp_path, gltf_validator):
    page, session = tab
    session.controls.export_format.value = "avatar.vrm"  # as picking it in the dropdown
    try:
        with page.expect_download(timeout=60_000) as info:
            page.get_by_role("button", name="Export GLB + OBJ + params").click()
    finally:
        session.controls.export_format.value = "avatar.glb"
    assert info.value.suggested_filename == "avatar.vrm"
    vrm = tmp_path / "download.vrm"
    info.value.save_as(vrm)
    report = gltf_validator(vrm)
    assert report["issues"]["numErrors"] == 0 and report["issues"]["numWarnings"] == 0
    doc = json.loads(vrm.read_bytes()[20:20 + int.from_bytes(vrm.read_bytes()[12:16], "little")])
    assert doc["extensions"]["VRMC_vrm"]["specVersion"] == "1.0"
    folder = session.exports[-1]
    assert {"avatar.glb", "avatar.vrm"} <= {p.name for p in folder.iterdir()}
    assert (folder / "avatar.vrm").read_bytes() == vrm.read_bytes()


def test_skeleton_load_folder_and_params_upload(tab, studio, body):
    page, session = tab
    page.get_by_text("Skeleton", exact=True).first.click()
    wait_for(lambda: session.skeleton.visible and session.mesh.opacity == 0.35, what="the skeleton view")
    bones = session.skeleton.points
    assert bones.shape == (len(body.joint_names) - 1, 2, 3)
    page.get_by_text("Skeleton", exact=True).first.click()
    wait_for(lambda: not session.skeleton.visible, what="the skeleton hidden")
    # The export is offered back as an avatar folder (by label; the page never sends a path).
    exported = session.exports[-1]
    label = str(exported.relative_to(studio.config.outdir))
    assert label in session.controls.folder.options
    session.state.set({"weight": 0.1})
    session.controls.folder.value = label
    page.get_by_role("button", name="Load folder").click()
    wait_for(lambda: session.state.source == f"folder {exported.name}", what="the folder loaded")
    assert session.state.values["weight"] == 1.0 and session.state.texture is not None
    # A params.json from the page (the second upload button).
    params = json.loads((exported / "params.json").read_text())
    params["values"]["age"] = 0.25
    page.locator("input[type=file]").nth(1).set_input_files(
        files=[{"name": "params.json", "mimeType": "application/json", "buffer": json.dumps(params).encode()}])
    wait_for(lambda: session.state.source == "params params.json", what="the params upload")
    assert session.state.values["age"] == 0.25 and session.state.texture is None
    session.load_values(*studio.read_avatar(exported)[:2], "folder again", "a")  # back to the export for the next tests


def test_tabs_have_their_own_avatar(browser, studio, tab):
    page1, first = tab
    page2, second = open_tab(browser, studio, 2)
    assert second is not first
    assert second.state.values["weight"] == pytest.approx(0.4)  # the start avatar, not tab 1's edits
    slider_thumb(page2, "age").focus()
    page2.keyboard.press("Home")
    wait_for(lambda: second.state.values["age"] == 0.0, what="age = 0 in tab 2")
    assert first.state.values["age"] != 0.0 and first.state.values["weight"] == 1.0
    page2.close()
    wait_for(lambda: len(studio.sessions) == 1, what="tab 2's session to end")


def test_malformed_messages_do_not_crash_the_server(studio, tab):
    from websockets.sync.client import connect

    import viser

    page, session = tab
    url = studio.url.replace("http://", "ws://")
    with connect(url, subprotocols=[f"viser-v{viser.__version__}"], open_timeout=10) as ws:
        ws.send(b"\x00\xff garbage that is not msgpack")
        ws.send("text frame")
    with connect(url, subprotocols=[f"viser-v{viser.__version__}"], open_timeout=10) as ws:
        ws.send(b"\x85\xa4type\xa9GuiUpdate\xa4uuid\xa3bad")
    # The slider callbacks validate values too: a forged one is refused, not applied.
    session.on_slider("weight", float("nan"))
    session.on_slider("weight", "12")
    session.on_slider("pose.head.x", 1e9)
    assert session.state.values["weight"] == 1.0
    # ... and the page still works.
    slider_thumb(page, "muscle").focus()
    page.keyboard.press("End")
    wait_for(lambda: session.state.values["muscle"] == 1.0, what="the server to keep serving")


def test_uploads_refuse_non_images_and_oversize_files(tab, studio):
    page, session = tab
    photo_input = page.locator("input[type=file]").first
    photo_input.set_input_files(files=[{"name": "evil.jpg", "mimeType": "image/jpeg", "buffer": b"<?php echo 1; ?>"}])
    page.get_by_text("not a JPEG, PNG, WebP, BMP or TIFF image").first.wait_for(timeout=15_000)
    big = EXAMPLE.read_bytes() + b"\0" * 5000  # still a decodable JPEG, but over the limit
    photo_input.set_input_files(files=[{"name": "big.jpg", "mimeType": "image/jpeg", "buffer": big}])
    page.get_by_text("upload refused").first.wait_for(timeout=15_000)
    assert not list((studio.config.outdir / "uploads").glob("photo-*"))  # nothing refused is kept
    assert session.state.source.startswith("folder")


def colour_pixels(png: bytes, channel: int) -> int:
    """Pixels where ``channel`` (0 R, 1 G, 2 B) exceeds both others by 80 (a vivid colour)."""
    import io

    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)
    others = [c for c in range(3) if c != channel]
    return int(((img[..., channel] - img[..., others[0]] > 80) & (img[..., channel] - img[..., others[1]] > 80)).sum())


def test_hair_and_outfit_controls(tab, tmp_path):
    page, session = tab
    c = session.controls
    session.controls.shading.value = "shaded"
    open_folder(page, "Hair")
    c.hair_style.value = "medium"  # as picking it in the dropdown
    wait_for(lambda: "hair" in session.part_handles, 60, "the hair mesh")
    assert session.state.look.hair.style == "medium" and c.hair_length.value == session.state.look.hair.length
    c.hair_colour.value = (20, 210, 40)
    wait_for(lambda: session.part_handles["hair"].color == (20, 210, 40), what="the hair recoloured")
    green = wait_for(lambda: colour_pixels(canvas_shot(page), 1) > 500 and colour_pixels(canvas_shot(page), 1),
                     30, "green hair on screen")
    # The length slider, as a user drags it: the hair grows down.
    low_before = session.parts.parts[0].vertices[:, 1].min()
    thumb = slider_thumb(page, "Length (m)")
    thumb.scroll_into_view_if_needed()
    thumb.focus()
    page.keyboard.press("End")
    wait_for(lambda: session.state.look.hair.length == 0.45, what="length 0.45 on the server")
    wait_for(lambda: session.parts.look == session.state.look, 60, "the longer hair built")
    assert session.parts.parts[0].vertices[:, 1].min() < low_before - 0.1
    assert wait_for(lambda: colour_pixels(canvas_shot(page), 1) > green * 1.2, 30, "more hair on screen")
    # Outfit: a blue T-shirt, then a dress (which takes the bottom's place too).
    open_folder(page, "Outfit")
    c.garments["bottom"].value = "trousers"
    c.garments["top"].value = "tshirt"
    c.garment_colours["top"].value = (30, 50, 230)
    wait_for(lambda: session.state.look.outfit.get("top") == ("tshirt", (30, 50, 230)), what="the blue T-shirt")
    wait_for(lambda: {"top", "bottom"} <= set(session.part_handles), 60, "the garment meshes")
    wait_for(lambda: colour_pixels(canvas_shot(page), 2) > 1500, 30, "a blue T-shirt on screen")
    c.garments["top"].value = "dress"
    wait_for(lambda: "bottom" not in session.part_handles and c.garments["bottom"].value == "none", 60,
             "the dress to replace the trousers")
    c.garments["top"].value = "tshirt"
    c.garments["bottom"].value = "shorts"
    wait_for(lambda: {"top", "bottom"} <= set(session.part_handles), 60, "tshirt and shorts")
    # A body slider: the clothes follow while it moves and are rebuilt once it rests.
    before = session.part_handles["top"].vertices.copy()
    weight_before = session.state.values["weight"]
    body_before = session.last_vertices  # read before the key press: the update may be quick
    slider_thumb(page, "weight").focus()
    page.keyboard.press("Home" if weight_before > 0.5 else "End")
    # first the shown body must change (else the rebuild check below holds for the old body already)
    wait_for(lambda: abs(session.state.values["weight"] - weight_before) > 0.2, 60, "the weight slider moved")
    wait_for(lambda: session.last_vertices is not body_before
             and not np.array_equal(session.last_vertices, body_before), 60, "the new body shown")
    wait_for(lambda: session.parts.built_on is session.last_vertices, 60, "the clothes rebuilt on the new body")
    after = session.parts.parts[[p.key for p in session.parts.parts].index("top")].vertices
    assert len(after) != len(before) or np.abs(after - before).max() > 0.01
    # The download holds the hair and the clothes (their own meshes), and remembers the look.
    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("button", name="Export GLB + OBJ + params").click()
    glb = tmp_path / "dressed.glb"
    info.value.save_as(glb)
    data = glb.read_bytes()
    doc = json.loads(data[20:20 + int.from_bytes(data[12:16], "little")])
    names = " ".join(m.get("name", "") for m in doc["meshes"]) + " " + " ".join(m["name"] for m in doc["materials"])
    assert all(n in names for n in ("hair", "tshirt", "shorts")), names
    folder = session.exports[-1]
    saved = json.loads((folder / "params.json").read_text())["extra"]["look"]
    assert saved["hair"]["colour_srgb"] == [20, 210, 40] and [o["type"] for o in saved["outfit"]] == ["tshirt", "shorts"]
    _, _, _, look = session.app.read_avatar(folder)
    assert look == session.state.look


def test_drive_from_a_video_clip(tab, studio, tmp_path):
    from avatarforge.util.video import write_mp4

    page, session = tab
    clip = write_mp4(tmp_path / "talk.mp4", face_frames(6), fps=10.0)
    open_folder(page, "Drive from video")
    page.locator("input[type=file]").nth(2).set_input_files(str(clip))
    page.get_by_text("tracking").first.wait_for(timeout=300_000)  # progress while tracking
    wait_for(lambda: session.drive.clip is not None, 600, "the clip tracked")
    assert len(session.drive.clip) == 6 and session.drive.clip.motion.valid.all()
    assert session.drive.progress_log[-1] == (6, 6)
    assert list((studio.config.outdir / "uploads").glob("video-*.mp4"))
    page.get_by_text("6 frames at 10 fps").first.wait_for(timeout=30_000)
    thumb = slider_thumb(page, "Frame")
    thumb.scroll_into_view_if_needed()
    thumb.focus()
    page.keyboard.press("End")
    want = session.drive.clip.values(5)
    wait_for(lambda: all(session.state.values[k] == pytest.approx(v, abs=1e-9) for k, v in want.items()), 30,
             "the avatar in the clip's last frame")
    # A non-video is refused and the tracked clip stays.
    page.locator("input[type=file]").nth(2).set_input_files(
        files=[{"name": "x.mp4", "mimeType": "video/mp4", "buffer": b"not a video at all"}])
    page.get_by_text("not an MP4, MOV, WebM, MKV or AVI video").first.wait_for(timeout=15_000)
    assert len(session.drive.clip) == 6


def test_drive_from_the_webcam(tab, studio):
    page, session = tab
    session.drive.c.webcam.value = True  # as ticking the box
    frame = page.frame_locator("iframe")
    frame.get_by_role("button", name="Start camera").click(timeout=30_000)
    wait_for(lambda: session.drive.live is not None and session.drive.live.found >= 4, 600, "webcam frames fitted")
    assert studio.webcam.url.startswith("http://127.0.0.1:")
    assert session.state.values["jawOpen"] == session.state.values["jawOpen"]  # driven values are valid floats
    page.get_by_text("capture→update").first.wait_for(timeout=60_000)  # the latency is shown in the panel
    assert session.drive.latencies and all(0 < ms < 120_000 for ms in session.drive.latencies)
    frame.get_by_role("button", name="Stop").click()
    session.drive.c.webcam.value = False
    wait_for(lambda: not session.drive.c.webcam_page.visible, what="the webcam page hidden")


def test_create_from_a_photo_shows_progress_then_the_avatar(tab, studio):
    page, session = tab
    page.locator("input[type=file]").first.set_input_files(str(EXAMPLE))
    page.get_by_text("create:").first.wait_for(timeout=30_000)  # the stage indicator
    wait_for(lambda: session.state.source.startswith("created"), timeout=180, what="create to finish")
    assert session.state.texture is not None and session.state.texture.shape[:2] == (256, 256)
    created = list((studio.config.outdir / "created").iterdir())
    assert len(created) == 1 and (created[0] / "avatar.glb").is_file()
    assert session.state.values == session.state.base  # the result is the new reset target
    wait_for(lambda: session.textured is not None, what="the textured view")
    assert shows_body(page)
    # The Hair and Outfit controls show what create found in the photo.
    look = session.state.look
    assert session.controls.hair_style.value == look.hair.style
    assert tuple(session.controls.hair_colour.value) == look.hair_srgb
    for slot, dropdown in session.controls.garments.items():
        assert dropdown.value == look.outfit.get(slot, ("none",))[0]
    report = json.loads((created[0] / "report.json").read_text())
    assert look.hair_srgb == tuple(report["hair"]["colour_srgb"])
    assert [n for n, _ in look.garments] == [o["type"] for o in report["outfit"]]
