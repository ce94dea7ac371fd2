"""Drive from video / webcam: clip upload checks, per-frame values, tracking, the webcam endpoint."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from avatarforge.errors import UserInputError
from avatarforge.export.face_shapes import ARKIT_BLENDSHAPES
from avatarforge.studio.drive import (NECK_SHARE, DriveClip, LiveFace, decode_jpeg, face_values, sniff_video,
                                      store_video, track_clip)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"


def face_frames(n: int, size: int = 320) -> list[np.ndarray]:
    """The example portrait, shifted a few pixels per frame (a face that moves a little)."""
    img = Image.open(EXAMPLE).convert("RGB").resize((size, size))
    base = np.asarray(img)
    return [np.roll(base, 2 * i, axis=1) for i in range(n)]


def jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=80)
    return buf.getvalue()


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory):
    from avatarforge.util.video import write_mp4

    grey = np.full((320, 320, 3), 90, np.uint8)
    return write_mp4(tmp_path_factory.mktemp("clip") / "clip.mp4", [grey] + face_frames(4), fps=10.0)


def test_sniff_and_store_video(tmp_path, clip_path):
    content = clip_path.read_bytes()
    assert sniff_video(content) == ".mp4"
    assert sniff_video(b"\x00\x00\x00\x14ftypqt  \x00") == ".mov"
    assert sniff_video(b"\x1a\x45\xdf\xa3....webm") == ".webm"
    assert sniff_video(b"RIFF\x00\x00\x00\x00AVI LIST") == ".avi"
    stored = store_video(tmp_path, content)
    assert stored.parent == tmp_path / "uploads" and stored.suffix == ".mp4" and stored.read_bytes() == content
    for bad, message in ((b"", "empty"), (b"<?php echo 1; ?>" * 4, "not an MP4"), (content, "limit")):
        with pytest.raises(UserInputError, match=message):
            store_video(tmp_path, bad, limit=len(content) - 1)
    with pytest.raises(UserInputError, match="cannot be used"):  # an MP4 header over garbage
        store_video(tmp_path, content[:40] + b"\x00" * 200)
    assert list((tmp_path / "uploads").iterdir()) == [stored]  # nothing refused is kept


def test_face_values_map_onto_the_body(body):
    w = np.linspace(0.0, 1.0, 52)
    v = face_values(list(ARKIT_BLENDSHAPES), w, np.array([10.0, -20.0, 5.0]), np.array([[1.0, 2.0], [3.0, 4.0]]))
    assert v["pose.neck01.y"] == pytest.approx(-20.0 * NECK_SHARE)
    assert v["pose.head.y"] == pytest.approx(-20.0 * (1 - NECK_SHARE))
    assert v["pose.neck01.x"] + v["pose.head.x"] == pytest.approx(10.0)
    assert (v["pose.eye.L.x"], v["pose.eye.L.y"], v["pose.eye.R.x"], v["pose.eye.R.y"]) == (1.0, 2.0, 3.0, 4.0)
    assert v[ARKIT_BLENDSHAPES[-1]] == 1.0 and v[ARKIT_BLENDSHAPES[0]] == 0.0
    assert body.params.validate(v) == v  # every name is a body parameter, in range


def test_clip_frames_hold_the_last_face():
    from avatarforge.animate.face_motion import FaceMotion

    m = FaceMotion.empty(4, 25.0)
    m.valid[1] = True
    m.weights[1, ARKIT_BLENDSHAPES.index("jawOpen")] = 0.7
    m.head[1] = (0.0, 30.0, 0.0)
    clip = DriveClip(m, list(ARKIT_BLENDSHAPES))
    assert clip.values(0)["jawOpen"] == 0.0 and clip.values(0)["pose.head.y"] == 0.0  # neutral before the first face
    assert clip.values(1)["jawOpen"] == 0.7 and clip.values(3)["jawOpen"] == 0.7  # held after it
    assert clip.values(99) == clip.values(3) and clip.values(-5) == clip.values(0)  # clamped


def test_track_clip_follows_the_face(clip_path, body):
    seen = []
    clip = track_clip(clip_path, body, progress=lambda done, total: seen.append((done, total)), source="c")
    assert len(clip) == 5 and clip.fps == pytest.approx(10.0)
    assert clip.motion.valid.tolist() == [False, True, True, True, True]
    assert seen[-1][0] == 5 and [d for d, _ in seen] == sorted(d for d, _ in seen)
    v = clip.values(3)
    assert set(v) <= set(body.params.names()) and body.params.validate(v) == v


def test_track_clip_refuses_a_clip_without_a_face(tmp_path, body):
    from avatarforge.util.video import write_mp4

    path = write_mp4(tmp_path / "none.mp4", [np.full((240, 320, 3), 90, np.uint8)] * 3, fps=10.0)
    with pytest.raises(UserInputError, match="no face"):
        track_clip(path, body)


def test_live_face_fits_frames_and_skips_faceless_ones(body):
    live = LiveFace(body, steps=4)
    frames = face_frames(2)
    first = live.frame(decode_jpeg(jpeg(frames[0])))
    assert first is not None and body.params.validate(first) == first
    assert first["pose.head.y"] == 0.0 == first["pose.neck01.y"]  # the first frame is the head's neutral
    assert live.frame(np.full((240, 320, 3), 90, np.uint8)) is None
    assert live.frame(frames[1]) is not None
    assert (live.frames, live.found, len(live.fit_seconds)) == (3, 2, 2)


def test_decode_jpeg_refuses_other_data():
    for bad in (b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff" + b"\x00" * 50):
        with pytest.raises(UserInputError):
            decode_jpeg(bad)
    assert decode_jpeg(jpeg(np.zeros((8, 16, 3), np.uint8))).shape == (8, 16, 3)


def test_webcam_endpoint_routes_frames_by_token():
    from avatarforge.studio.webcam import WebcamServer

    server = WebcamServer("127.0.0.1", 0)
    got = []

    def handler(body: bytes, capture_ms: float, last_ms: float) -> dict:
        decode_jpeg(body)
        got.append((len(body), capture_ms, last_ms))
        return {"found": True, "fit_ms": 1.0, "update_ms": 2.0}

    def request(path: str, data: bytes | None = None, headers: dict | None = None):
        req = urllib.request.Request(server.url + path, data=data, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    try:
        assert server.url.startswith("http://127.0.0.1:")
        server.register("tok", handler)
        status, page = request("/webcam?t=tok")
        assert status == 200 and b"getUserMedia" in page and b'"tok"' in page
        assert request("/webcam?t=other")[0] == 403 and request("/nothing")[0] == 404
        frame = jpeg(np.zeros((24, 32, 3), np.uint8))
        status, answer = request("/frame?t=tok", frame, {"X-Capture-Ms": "1234.5", "X-Last-Latency-Ms": "nan"})
        assert status == 200 and json.loads(answer)["found"] is True
        assert got == [(len(frame), 1234.5, 0.0)]
        assert request("/frame?t=tok", b"not a jpeg")[0] == 415
        assert request("/frame?t=other", frame)[0] == 403
        # Too large: refused from the header, before the body is read.
        import http.client

        conn = http.client.HTTPConnection(*server.httpd.server_address[:2], timeout=10)
        conn.putrequest("POST", "/frame?t=tok")
        conn.putheader("Content-Length", str(2 * 1024 * 1024 + 1))
        conn.endheaders()
        assert conn.getresponse().status == 413
        conn.close()
        server.unregister("tok")
        assert request("/frame?t=tok", frame)[0] == 403
    finally:
        server.stop()


def test_webcam_server_logs_a_vanished_client_without_a_traceback(capsys, caplog):
    import logging

    from avatarforge.studio.webcam import WebcamServer

    server = WebcamServer("127.0.0.1", 0)
    try:
        with caplog.at_level(logging.DEBUG, logger="avatarforge"):
            for err in (BrokenPipeError(32, "Broken pipe"), ValueError("bad header")):
                try:
                    raise err
                except Exception:  # noqa: BLE001 - what socketserver does before handle_error
                    server.httpd.handle_error(None, ("127.0.0.1", 5))
        assert "Traceback" not in capsys.readouterr().err
        levels = {r.levelname for r in caplog.records if "webcam" in r.getMessage()}
        assert levels == {"DEBUG", "WARNING"}
    finally:
        server.stop()
