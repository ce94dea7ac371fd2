"""Drive the studio avatar's face from a video clip or a webcam (issue 22, live part).

Plain Python, no web server: the "Drive from video" panel (`studio.session`) and the webcam
endpoint (`studio.webcam`) call these.

* A **clip** is uploaded (size and type checked like photos), its face tracked once with the
  shared tracker (`animate.face_motion.face_motion_from_frames`: full fit on the first frame
  with a face, warm-started steps after), taken relative to the performer's neutral
  (`relative_to_neutral`) and scrubbed: :meth:`DriveClip.values` gives the body parameters
  of a frame.
* A **webcam** sends small JPEG frames; :class:`LiveFace` fits each one warm-started from the
  previous frame (landmarks in tracking mode, `fitting.face_track.FaceTracker`'s few
  Gauss-Newton iterations) and gives the parameters at once. The head
  is taken relative to the first frame's (the performer's rest pose faces the avatar's front;
  Euler angles subtracted, close enough for the small turns in front of a webcam).

Parameters per frame: the 52 ARKit actions (the body's expression parameters of the same
names), the head rotation split between ``neck01`` (:data:`NECK_SHARE`) and ``head``, and each
eye's gaze (``pose.eye.L/R.x/y``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from jaxtyping import Float

from avatarforge.errors import UserInputError

__all__ = ["MAX_VIDEO_BYTES", "MAX_DRIVE_FRAMES", "MAX_FRAME_BYTES", "NECK_SHARE", "sniff_video", "store_video",
           "face_values", "DriveClip", "track_clip", "LiveFace", "decode_jpeg"]

#: Largest clip accepted from the page.
MAX_VIDEO_BYTES = 100 * 1024 * 1024
#: Frames tracked from a clip at most (30 s at 30 fps); longer clips are cut.
MAX_DRIVE_FRAMES = 900
#: Largest webcam frame (a small JPEG).
MAX_FRAME_BYTES = 2 * 1024 * 1024
#: Share of the head's rotation given to the neck (the rest to the head joint).
NECK_SHARE = 0.4


def sniff_video(content: bytes) -> str:
    """The file extension of a video by its first bytes (MP4/MOV, WebM/MKV, AVI), else a
    UserInputError."""
    if content[4:8] == b"ftyp":
        return ".mov" if content[8:12] == b"qt  " else ".mp4"
    if content[:4] == b"\x1a\x45\xdf\xa3":
        return ".webm" if b"webm" in content[:64] else ".mkv"
    if content[:4] == b"RIFF" and content[8:12] == b"AVI ":
        return ".avi"
    raise UserInputError("the uploaded file is not an MP4, MOV, WebM, MKV or AVI video")


def store_video(outdir: str | os.PathLike, content: bytes, limit: int = MAX_VIDEO_BYTES) -> Path:
    """Check an uploaded clip (size, type by content, readable as a video) and store it as
    ``<outdir>/uploads/video-<random>.<ext>``; returns the path. Nothing refused is kept."""
    from avatarforge.studio.uploads import check_size, store_upload
    from avatarforge.util.video import probe_video

    check_size(content, limit, "video")
    return store_upload(outdir, content, limit, "video", "video", sniff_video(content), probe_video)


def face_values(names: list[str], weights: Float[np.ndarray, " 52"], head: Float[np.ndarray, " 3"],
                gaze: Float[np.ndarray, "2 2"]) -> dict[str, float]:
    """Body parameter values of one frame: ``weights`` of the ARKit actions ``names`` (the body's
    expression parameters), ``head`` rotation (degrees, ``pose.head.*`` convention) split
    between neck and head, ``gaze`` ([left, right] x [x, y] degrees)."""
    out = {n: float(np.clip(w, 0.0, 1.0)) for n, w in zip(names, weights)}
    for i, axis in enumerate("xyz"):
        out[f"pose.neck01.{axis}"] = float(NECK_SHARE * head[i])
        out[f"pose.head.{axis}"] = float((1.0 - NECK_SHARE) * head[i])
    for e, eye in enumerate("LR"):
        out[f"pose.eye.{eye}.x"] = float(gaze[e, 0])
        out[f"pose.eye.{eye}.y"] = float(gaze[e, 1])
    return out


@dataclass
class DriveClip:
    """A tracked clip, ready to scrub."""

    motion: object
    """animate.face_motion.FaceMotion, relative to the performer's neutral."""
    names: list[str]
    """ARKit action names in the motion's column order."""
    source: str = ""
    """The clip's name (for the panel)."""
    seconds: float = 0.0
    """Tracking time."""

    def __len__(self) -> int:
        return len(self.motion)

    @property
    def fps(self) -> float:
        return float(self.motion.fps)

    def values(self, frame: int) -> dict[str, float]:
        """Body parameters at ``frame`` (clamped to the clip); a frame without a face holds
        the nearest earlier one with a face (the neutral before the first)."""
        m = self.motion
        i = int(np.clip(frame, 0, len(m) - 1))
        valid = np.flatnonzero(m.valid[: i + 1])
        if len(valid) == 0:
            return face_values(self.names, np.zeros(52), np.zeros(3), np.zeros((2, 2)))
        j = int(valid[-1])
        return face_values(self.names, m.weights[j], m.head[j], m.gaze[j])


def track_clip(path: str | os.PathLike, body, progress: Callable[[int, int], None] | None = None,
               max_frames: int = MAX_DRIVE_FRAMES, source: str = "") -> DriveClip:
    """Track the face through the clip at ``path`` (see the module docstring);
    ``progress(done, total)`` after each frame. Raises UserInputError when too few frames show a
    face (:func:`avatarforge.fitting.face_track.require_face_frames`)."""
    from avatarforge.animate.face_motion import face_motion_from_frames, relative_to_neutral
    from avatarforge.fitting.face_track import require_face_frames
    from avatarforge.export.face_shapes import ARKIT_BLENDSHAPES
    from avatarforge.util.video import probe_video, read_frames

    info = probe_video(path)
    total = min(info.n_frames or max_frames, max_frames)
    start = time.perf_counter()
    motion = face_motion_from_frames(read_frames(path, max_frames=max_frames), info.fps, body,
                                     progress=None if progress is None else lambda i: progress(i + 1, total))
    require_face_frames(motion.valid, source or path)
    return DriveClip(relative_to_neutral(motion), list(ARKIT_BLENDSHAPES), source, time.perf_counter() - start)


def decode_jpeg(content: bytes) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a JPEG frame; UserInputError when it is not one."""
    import io

    from PIL import Image, UnidentifiedImageError

    if len(content) > MAX_FRAME_BYTES:
        raise UserInputError(f"a webcam frame is {len(content) / 1e6:.1f} MB; the limit is {MAX_FRAME_BYTES / 1e6:.0f} MB")
    if content[:3] != b"\xff\xd8\xff":
        raise UserInputError("a webcam frame must be a JPEG image")
    try:
        with Image.open(io.BytesIO(content)) as img:
            if img.width * img.height > 1920 * 1080:
                raise UserInputError("a webcam frame is larger than 1920x1080")
            return np.asarray(img.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError):
        raise UserInputError("a webcam frame could not be decoded as a JPEG image") from None


@dataclass
class LiveFace:
    """Fits webcam frames one by one, warm-started from the previous frame, as the video tracker
    does (:func:`avatarforge.fitting.face_track.track_face_frames`): the landmarks in tracking
    mode from the previous frame's points (detecting again when the track is lost), then the
    tracker's few Gauss-Newton iterations."""

    body: object
    steps: int | None = None
    """Gauss-Newton iterations per frame after the first (None: the tracker's default)."""
    tracker: object = None
    neutral_head: np.ndarray | None = None
    previous: np.ndarray | None = None
    """The last frame's landmarks (the tracking ROI), None after a frame without a face."""
    frames: int = 0
    """Frames received."""
    found: int = 0
    """Frames with a face."""
    fit_seconds: list[float] = field(default_factory=list)
    """Per frame with a face: detection + fit time (wall)."""
    fit_cpu_seconds: list[float] = field(default_factory=list)
    """The same, CPU time of the fitting thread."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def frame(self, rgb: np.ndarray) -> dict[str, float] | None:
        """The body parameters for one RGB frame, or None when it shows no face (the caller
        holds the last pose)."""
        from avatarforge.export.face_shapes import ARKIT_BLENDSHAPES
        from avatarforge.fitting.face_track import FaceTrackConfig, FaceTracker
        from avatarforge.perception.face import follow_face_landmarks

        with self._lock:  # one fit at a time per tab (frames are sent one after the other)
            self.frames += 1
            start, cpu = time.perf_counter(), time.thread_time()
            points = self.previous = follow_face_landmarks(rgb, self.previous)
            if points is None:
                return None
            if self.tracker is None:
                cfg = FaceTrackConfig() if self.steps is None else FaceTrackConfig(steps=self.steps)
                self.tracker = FaceTracker(self.body, cfg)
            f = self.tracker.update(points, (rgb.shape[1], rgb.shape[0]))
            if self.neutral_head is None:
                self.neutral_head = f.head.copy()
            self.found += 1
            self.fit_seconds.append(time.perf_counter() - start)
            self.fit_cpu_seconds.append(time.thread_time() - cpu)
            del self.fit_seconds[:-200], self.fit_cpu_seconds[:-200]
            index = {n: i for i, n in enumerate(self.tracker.body.expression_names)}
            weights = np.array([f.expression[index[n]] if n in index else 0.0 for n in ARKIT_BLENDSHAPES])
            return face_values(list(ARKIT_BLENDSHAPES), weights, f.head - self.neutral_head, f.eyes[:, :2])
