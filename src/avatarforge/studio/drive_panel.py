"""The studio's "Drive from video" folder: upload a clip, track it, scrub or play it, or drive
the avatar live from the browser's webcam (see `studio.drive` and `studio.webcam`)."""

from __future__ import annotations

import logging
import secrets
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from avatarforge.errors import UserInputError
from avatarforge.studio.drive import DriveClip, LiveFace, decode_jpeg, store_video, track_clip

if TYPE_CHECKING:  # pragma: no cover
    from avatarforge.studio.session import StudioSession

__all__ = ["DriveControls", "add_drive_controls", "DrivePanel"]

log = logging.getLogger(__name__)

#: While webcam frames arrive, the textured GLB waits this long after each (see `StudioSession.hold_texture`).
WEBCAM_TEXTURE_HOLD_SECONDS = 1.5


@dataclass
class DriveControls:
    upload: Any = None
    progress: Any = None
    text: Any = None
    frame: Any = None
    play: Any = None
    webcam: Any = None
    webcam_page: Any = None
    latency: Any = None


def add_drive_controls(gui) -> DriveControls:
    """The "Drive from video" folder (viser GuiApi ``gui``)."""
    d = DriveControls()
    with gui.add_folder("Drive from video", expand_by_default=False):
        d.upload = gui.add_upload_button("Upload clip", mime_type="video/*", icon=None,
                                         hint="MP4, MOV, WebM, MKV or AVI of a face; its face is tracked once")
        d.progress = gui.add_progress_bar(0.0, visible=False, animated=True)
        d.text = gui.add_markdown("", visible=False)
        d.frame = gui.add_slider("Frame", min=0, max=1, step=1, initial_value=0, disabled=True,
                                 hint="the clip's frame the avatar shows")
        d.play = gui.add_checkbox("Play clip", False, disabled=True)
        d.webcam = gui.add_checkbox("Webcam", False, hint="drive the face from this browser's camera")
        d.webcam_page = gui.add_html("", visible=False)
        d.latency = gui.add_markdown("", visible=False)
    return d


class DrivePanel:
    """The folder's behaviour for one tab."""

    def __init__(self, session: "StudioSession", controls: DriveControls) -> None:
        self.session = session
        self.c = controls
        self.clip: DriveClip | None = None
        self.live: LiveFace | None = None
        self.token = secrets.token_urlsafe(16)
        """This tab's webcam token (the webcam page's frames name it)."""
        self.latencies: list[float] = []
        """Webcam capture -> update times reported by the page, ms."""
        self.server_latencies: list[float] = []
        """Webcam capture -> mesh update queued, measured on the server (same clock), ms."""
        self.tracking: threading.Thread | None = None
        self.progress_log: list[tuple[int, int]] = []
        """(frames done, total) as tracking reported them."""
        self._play_stop = threading.Event()
        self._player: threading.Thread | None = None
        self._latency_time = 0.0
        g = session._guarded
        controls.upload.on_upload(lambda ev: g("video", self._on_upload))
        controls.frame.on_update(lambda ev: g("video", self._on_frame))
        controls.play.on_update(lambda ev: g("video", self._on_play))
        controls.webcam.on_update(lambda ev: g("webcam", self._on_webcam))

    def close(self) -> None:
        self._play_stop.set()
        webcam = self.session.app.webcam
        if webcam is not None:
            webcam.unregister(self.token)

    # ------------------------------------------------------------ clip
    def _on_upload(self) -> None:
        upload = self.c.upload.value
        path = store_video(self.session.app.config.outdir, upload.content, self.session.app.config.max_video_bytes)
        self.track(path, Path(upload.name).name[:60])

    def track(self, path: Path, label: str = "clip", wait: bool = False) -> threading.Thread:
        """Track the face of the clip at ``path`` in a background thread, showing progress; then
        the Frame slider scrubs it. Returns the thread (joined first when ``wait``)."""
        from avatarforge.studio.jobs import CREATE_LOCK, background_job

        c = self.c

        def progress(done: int, total: int) -> None:
            self.progress_log.append((done, total))
            c.progress.value = min(100.0, 100.0 * done / max(total, 1))
            c.text.content = f"tracking **{label}**: frame {done}/{total}"

        def work() -> None:
            with CREATE_LOCK:  # one heavy job at a time
                c.text.content = f"tracking **{label}**: the first frame gets the full face fit…"
                clip = track_clip(path, self.session.app.body, progress, source=label)
            self.clip = clip
            n = len(clip)
            c.frame.max = max(n - 1, 1)
            c.frame.value = 0
            c.frame.disabled = False
            c.play.disabled = False
            c.progress.value = 100.0
            c.text.content = (f"**{label}**: {n} frames at {clip.fps:.0f} fps, face in {int(clip.motion.valid.sum())}; "
                              f"tracked in {clip.seconds:.1f} s")
            self.show_frame(0)

        self.tracking = background_job("tracking", work, c.upload, c.progress, c.text, self.session.notify, wait)
        return self.tracking

    def show_frame(self, frame: int) -> None:
        """Put the avatar's face in the clip's ``frame``."""
        if self.clip is None:
            raise UserInputError("upload a clip first")
        self.session.drive_values(self.clip.values(int(frame)), key="drive-clip")

    def _on_frame(self) -> None:
        if self.session._syncing() or self.clip is None:
            return
        self.show_frame(int(self.c.frame.value))

    def _on_play(self) -> None:
        if self.c.play.value and self.clip is not None:
            self._play_stop.clear()
            self._player = threading.Thread(target=self._play, name="studio-play", daemon=True)
            self._player.start()
        else:
            self._play_stop.set()

    def _play(self) -> None:
        """Advance the Frame slider in real time (frames the update cannot keep up with are skipped)."""
        clip = self.clip
        start_frame, t0 = int(self.c.frame.value), time.monotonic()
        while not self._play_stop.is_set() and clip is self.clip:
            frame = (start_frame + int((time.monotonic() - t0) * clip.fps)) % len(clip)
            self.session._local.syncing = True
            try:
                self.c.frame.value = frame
            finally:
                self.session._local.syncing = False
            self.session._guarded("video", self.show_frame, frame)
            time.sleep(0.01)
        self.session.sync_controls()

    # ------------------------------------------------------------ webcam
    def _on_webcam(self) -> None:
        app = self.session.app
        if not self.c.webcam.value:
            self.c.webcam_page.visible = False
            self.c.latency.visible = False
            if app.webcam is not None:
                app.webcam.unregister(self.token)
            self.session.sync_controls()
            return
        webcam = app.start_webcam()
        webcam.register(self.token, self.on_webcam_frame)
        self.live = self.live or LiveFace(app.body)
        self.c.webcam_page.content = (f'<iframe src="{webcam.page_url(self.token)}" allow="camera; autoplay" '
                                      'style="width:100%;height:140px;border:0"></iframe>')
        self.c.webcam_page.visible = True
        self.c.latency.content = "press *Start camera*; the browser asks for the camera"
        self.c.latency.visible = True

    def on_webcam_frame(self, jpeg: bytes, capture_ms: float, last_latency_ms: float) -> dict:
        """One webcam frame (the webcam endpoint's handler): fit, update the avatar, answer."""
        rgb = decode_jpeg(jpeg)
        live = self.live or LiveFace(self.session.app.body)
        self.live = live
        t0 = time.perf_counter()
        values = live.frame(rgb)
        fit = time.perf_counter() - t0
        if values is not None:
            self.session.hold_texture(WEBCAM_TEXTURE_HOLD_SECONDS)
            self.session.drive_values(values, key="drive-webcam")
        update = time.perf_counter() - t0 - fit
        if capture_ms > 0:
            self.server_latencies.append(time.time() * 1000.0 - capture_ms)
            del self.server_latencies[:-200]
        if last_latency_ms > 0:
            self.latencies.append(last_latency_ms)
            del self.latencies[:-200]
        now = time.monotonic()
        if now - self._latency_time > 0.5 and self.latencies:  # the panel at most 2 Hz
            self._latency_time = now
            self.c.latency.content = (f"webcam: capture→update **{statistics.median(self.latencies[-30:]):.0f} ms** "
                                      f"(median of the last {min(len(self.latencies), 30)}; fit "
                                      f"{1000 * fit:.0f} ms, {live.found}/{live.frames} frames with a face)")
        return {"found": values is not None, "fit_ms": round(1000 * fit, 1), "update_ms": round(1000 * update, 1)}
