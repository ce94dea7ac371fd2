"""Drive the studio page in headless Chromium (Playwright): used by the end-to-end tests and
the latency benchmark, and handy to script the studio.

Chromium is the system's (Debian ``chromium``; ``AVATARFORGE_CHROMIUM`` overrides the
path): Playwright's own browser download is never used.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator

__all__ = ["CHROMIUM_ARGS", "find_chromium", "chromium_context", "fake_camera_args", "write_y4m", "labelled", "slider_thumb", "open_folder",
           "install_frame_probe", "skin_pixels"]

#: Flags for a quiet, sandbox-free, offline headless Chromium.
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)


def find_chromium() -> str | None:
    """Path of the Chromium executable, or None."""
    env = os.environ.get("AVATARFORGE_CHROMIUM")
    if env:
        return env if os.path.isfile(env) else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.path.isfile("/usr/bin/chromium") else None


@contextlib.contextmanager
def chromium_context(width: int = 1280, height: int = 800, playwright=None,
                     extra_args: tuple[str, ...] = ()) -> Iterator[object]:
    """A Playwright browser context on a fresh user-data directory (removed afterwards);
    ``extra_args``: more Chromium flags (e.g. `fake_camera_args`)."""
    from avatarforge.errors import require

    require("playwright", "dev")
    from playwright.sync_api import sync_playwright

    exe = find_chromium()
    if exe is None:
        raise FileNotFoundError("chromium not found: install it (apt-get install chromium) or set AVATARFORGE_CHROMIUM")
    profile = tempfile.mkdtemp(prefix="avatarforge-chromium-")
    manager = sync_playwright() if playwright is None else contextlib.nullcontext(playwright)
    try:
        with manager as p:
            ctx = p.chromium.launch_persistent_context(
                profile, executable_path=exe, args=[*CHROMIUM_ARGS, *extra_args], headless=True,
                viewport={"width": width, "height": height}, accept_downloads=True)
            try:
                yield ctx
            finally:
                ctx.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def fake_camera_args(video: str | os.PathLike) -> tuple[str, ...]:
    """Chromium flags that grant the camera without asking and play ``video`` (a .y4m or
    .mjpeg file, e.g. from `write_y4m`) as the camera."""
    return ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={os.fspath(video)}")


def write_y4m(path: str | os.PathLike, frames, fps: int = 10) -> None:
    """Write RGB uint8 frames (same even size) as a YUV4MPEG2 (4:2:0) file, Chromium's fake
    camera input."""
    import cv2
    import numpy as np

    frames = [np.ascontiguousarray(f[..., :3]) for f in frames]
    h, w = frames[0].shape[:2]
    with open(path, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{int(fps)}:1 Ip A1:1 C420jpeg\n".encode())
        for f in frames:
            fh.write(b"FRAME\n")
            fh.write(cv2.cvtColor(f, cv2.COLOR_RGB2YUV_I420).tobytes())


def labelled(page, label: str):
    """The GUI element (input, slider root, ...) whose label reads exactly ``label``."""
    target = page.locator(f"xpath=//label[normalize-space(text())='{label}']").first
    return page.locator(f"[id='{target.get_attribute('for')}']")


def slider_thumb(page, label: str):
    """The thumb (role=slider) of the viser slider labelled exactly ``label``."""
    return labelled(page, label).locator("[role=slider]")


def open_folder(page, title: str) -> None:
    """Expand a collapsed GUI folder by clicking its title."""
    page.get_by_text(title, exact=True).first.click()


# Per animation frame: draw the 3D canvas into a small 2D canvas; record its "skin" pixels
# (red clearly above blue: not the grey/white background) and how many pixels differ from
# the last frame drawn before the latest key press.
_PROBE_JS = """
() => {
  const gl = [...document.querySelectorAll('canvas')].sort((a, b) => b.width * b.height - a.width * a.height)[0];
  const W = 320, H = 200;
  const c = document.createElement('canvas'); c.width = W; c.height = H;
  const ctx = c.getContext('2d', {willReadFrequently: true});
  const probe = window.__afProbe = {frames: [], keys: [], keysWall: [], prev: null, ref: null};
  document.addEventListener('keydown', () => {
    probe.keys.push(performance.now()); probe.keysWall.push(Date.now()); probe.ref = probe.prev; }, true);
  const loop = () => {
    ctx.drawImage(gl, 0, 0, W, H);
    const d = ctx.getImageData(0, 0, W, H).data; let skin = 0, diff = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i] - d[i + 2] > 25) skin++;
      if (probe.ref !== null && Math.abs(d[i] - probe.ref[i]) + Math.abs(d[i + 1] - probe.ref[i + 1])
          + Math.abs(d[i + 2] - probe.ref[i + 2]) > 30) diff++;
    }
    probe.prev = d;
    probe.frames.push([performance.now(), skin, diff]);
    if (probe.frames.length > 4000) probe.frames.splice(0, 2000);
    requestAnimationFrame(loop);
  };
  requestAnimationFrame(loop);
}
"""


def install_frame_probe(page) -> None:
    """Record ``[time, skin pixels, pixels changed since the last frame before the latest key
    press]`` for every frame the page draws, and key-down times, in ``window.__afProbe.frames``
    / ``.keys`` (page clock, ms) / ``.keysWall`` (Date.now(), ms)."""
    page.evaluate(_PROBE_JS)


def skin_pixels(png: bytes) -> int:
    """Pixels of a screenshot whose red exceeds blue by more than 25 (skin, not background)."""
    import io

    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int16)
    return int(((img[..., 0] - img[..., 2]) > 25).sum())
