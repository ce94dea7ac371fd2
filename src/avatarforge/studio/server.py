"""The studio web server: a viser server (three.js client shipped in its wheel, nothing fetched
from the internet) with one `StudioSession` per connected tab.

    from avatarforge.studio import StudioConfig, StudioServer
    server = StudioServer(StudioConfig(outdir="out/studio", avatar_dir="out/demo"))
    print(server.start())  # http://127.0.0.1:8080
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avatarforge.errors import UserInputError, require
from avatarforge.studio.drive import MAX_VIDEO_BYTES
from avatarforge.studio.uploads import MAX_PHOTO_BYTES

__all__ = ["StudioConfig", "StudioServer", "StartAvatar"]

log = logging.getLogger(__name__)


@dataclass
class StudioConfig:
    """How the studio is served; the defaults are safe on a shared machine."""

    outdir: Path = Path("studio-out")
    """Every file the studio writes (exports, created avatars, uploads, expressions) goes here."""
    avatar_dir: Path | None = None
    """Avatar folder (params.json [+ avatar_texture.png]) to open first; None = default body."""
    host: str = "127.0.0.1"
    """Interface to bind; only this machine can connect unless another is given."""
    port: int = 8080
    """Port to serve on (the next free one is taken when it is busy)."""
    texture_size: int = 1024
    """Texture resolution of avatars created from the page."""
    max_photo_bytes: int = MAX_PHOTO_BYTES
    """Largest photo accepted from the page."""
    max_video_bytes: int = MAX_VIDEO_BYTES
    """Largest clip accepted from the page (Drive from video)."""


@dataclass
class StartAvatar:
    """What a new tab opens with."""

    values: dict[str, float] = field(default_factory=dict)
    """Parameter values (missing ones at their default)."""
    texture: np.ndarray | None = None
    """(H, W, 3) uint8 albedo, None for the shaded default body."""
    source: str = "default body"
    """Shown in the status line."""
    pose_name: str = "a"
    """Pose preset of the loaded avatar."""
    look: object = None
    """studio.look.Look (hair and outfit) of the loaded avatar; None: bald, unclothed."""


class StudioServer:
    """A running studio: body model, output directory, sessions by client id."""

    def __init__(self, config: StudioConfig | None = None, body=None) -> None:
        self.config = config or StudioConfig()
        self.config.outdir = Path(self.config.outdir).absolute()
        if body is None:
            from avatarforge.bodies import load_body

            body = load_body()
        self.body = body
        self.initial = StartAvatar()
        if self.config.avatar_dir is not None:
            values, texture, pose, look = self.read_avatar(Path(self.config.avatar_dir))
            self.initial = StartAvatar(values, texture, f"folder {Path(self.config.avatar_dir).name}", pose, look)
        self.sessions: dict[int, object] = {}
        self.server = None
        self.webcam = None
        """studio.webcam.WebcamServer, started when a tab first turns its webcam on."""
        self._counter = itertools.count(1)
        self._dir_lock = threading.Lock()

    # ------------------------------------------------------------ files
    def read_avatar(self, path: Path) -> tuple[dict[str, float], np.ndarray | None, str, object]:
        """(values, texture or None, pose preset, look) of an avatar folder or params.json,
        checked against this server's body model; the look (`studio.look.Look`) comes from
        params.json's ``extra.look`` or the folder's report.json."""
        from avatarforge.bodies import ParamsFile
        from avatarforge.studio.look import Look, look_from_folder

        pf = ParamsFile.read(path)
        if pf.backend != self.body.name:
            raise UserInputError(f"{path} is an avatar of body model {pf.backend!r}, not {self.body.name!r}")
        values = self.body.params.complete(pf.values)
        texture = None
        folder = path if path.is_dir() else path.parent
        tex_path = folder / "avatar_texture.png"
        if path.is_dir() and tex_path.is_file():
            from avatarforge.perception.image_io import load_image

            texture = load_image(tex_path).rgb
        look = look_from_folder(folder, pf.extra) if path.is_dir() else Look.from_dict(pf.extra.get("look") or {})
        return values, texture, pf.pose_preset, look

    def avatar_folders(self) -> dict[str, Path]:
        """Avatar folders the page may open, by label: the start folder and every folder with
        a params.json up to two levels under the output directory. The page only ever sends a
        label back; paths never come from the client."""
        out: dict[str, Path] = {}
        if self.config.avatar_dir is not None:
            p = Path(self.config.avatar_dir).absolute()
            out[p.name] = p
        root = self.config.outdir
        if root.is_dir():
            for params in sorted(list(root.glob("*/params.json")) + list(root.glob("*/*/params.json"))):
                folder = params.parent
                if folder.name.startswith("."):
                    continue
                out[str(folder.relative_to(root))] = folder
        return out

    def _new_dir(self, parent: str, stem: str) -> Path:
        with self._dir_lock:
            while True:
                path = self.config.outdir / parent / f"{time.strftime('%Y%m%d-%H%M%S')}-{stem}-{next(self._counter)}"
                if not path.exists():
                    return path

    def new_export_dir(self, client_id: int) -> Path:
        return self._new_dir("exports", f"tab{client_id}")

    def new_created_dir(self, label: str) -> Path:
        from avatarforge.studio.expressions import safe_name

        try:
            stem = safe_name(label)[:32]
        except UserInputError:
            stem = "photo"
        return self._new_dir("created", stem)

    # ------------------------------------------------------------ serving
    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("the studio is not started")
        host = self.server.get_host()
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{shown}:{self.server.get_port()}"

    def start(self) -> str:
        """Start serving in background threads; returns the URL."""
        viser = require("viser", "studio")
        import torch

        from avatarforge.util.atomic import check_writable_dir

        check_writable_dir(self.config.outdir)
        self.config.outdir.mkdir(parents=True, exist_ok=True)
        # Real-time updates are many small forward passes: one thread is faster than two
        # fighting for a shared 2-core CPU (see util/threads.py).
        torch.set_num_threads(1)
        server = viser.ViserServer(host=self.config.host, port=self.config.port, label="avatarforge studio",
                                   verbose=False)
        server.scene.set_up_direction("+y")
        # Cheap lighting: without a GPU the browser renders WebGL in software, where the image-based
        # environment light and shadow maps cost more than the mesh (measured: slider-to-screen
        # ~195 ms without them vs ~320-420 ms with them at 640x400, loaded 2-core machine).
        server.scene.configure_environment_map(None)
        server.scene.configure_default_lights(True, cast_shadow=False)
        server.scene.add_light_ambient("/lights/ambient", intensity=1.6)
        server.initial_camera.position = (0.35, 1.05, 2.5)
        server.initial_camera.look_at = (0.35, 0.9, 0.0)  # the body left of the control panel
        server.scene.add_grid("/ground", width=4.0, height=4.0, plane="xz", cell_size=0.25,
                              section_size=1.0)
        server.on_client_connect(self._connect)
        server.on_client_disconnect(self._disconnect)
        self.server = server
        return self.url

    def _connect(self, client) -> None:
        from avatarforge.studio.session import StudioSession

        self._limit_uploads(client)
        try:
            session = StudioSession(self, client)
        except Exception:  # noqa: BLE001 - one tab failing must not stop the server
            log.exception("studio: could not open a session")
            return
        self.sessions[client.client_id] = session

    def _disconnect(self, client) -> None:
        session = self.sessions.pop(client.client_id, None)
        if session is not None:
            session.close()

    def _limit_uploads(self, client) -> None:
        """Drop an upload as soon as the browser announces more bytes than any studio upload
        may have, before its parts are buffered (the handlers check again after upload).

        Relies on viser's upload bookkeeping (viser 1.1); if that changes this degrades to
        the after-upload check.
        """
        from viser import _messages

        gui = client.gui

        def check(client_id, message) -> None:
            limit = self.config.max_photo_bytes
            session = self.sessions.get(client.client_id)
            video = getattr(getattr(session, "drive", None), "c", None)
            if video is not None and getattr(getattr(video.upload, "_impl", None), "uuid", None) == getattr(
                    message, "source_component_uuid", None):
                limit = self.config.max_video_bytes
            if int(getattr(message, "size_bytes", 0)) <= limit:
                return
            states = getattr(gui, "_current_file_upload_states", None)
            if isinstance(states, dict):
                states.pop(message.transfer_uuid, None)
            try:
                client.add_notification("upload refused",
                                        f"the file is {message.size_bytes / 1e6:.1f} MB; the limit is "
                                        f"{limit / 1e6:.0f} MB", color="red", auto_close_seconds=8.0)
            except Exception:  # noqa: BLE001
                pass

        try:
            client._websock_connection.register_handler(_messages.FileTransferStartUpload, check)
        except AttributeError:  # pragma: no cover - another viser version
            log.warning("studio: cannot hook viser uploads; sizes are checked after upload only")

    def start_webcam(self):
        """The webcam endpoint (started once; always bound to 127.0.0.1: browsers give pages
        the camera only on a secure context, which plain http is only on the local machine)."""
        from avatarforge.studio.webcam import WebcamServer

        with self._dir_lock:
            if self.webcam is None:
                self.webcam = WebcamServer("127.0.0.1", 0)
            return self.webcam

    def stop(self) -> None:
        if self.webcam is not None:
            self.webcam.stop()
            self.webcam = None
        if self.server is not None:
            self.server.stop()
            self.server = None

    def serve_forever(self) -> None:
        """Block until interrupted (the CLI's loop)."""
        try:
            while True:
                time.sleep(3600)
        finally:
            self.stop()
