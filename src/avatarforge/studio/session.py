"""One browser tab of the studio: its own avatar state, 3D scene and controls.

Every callback validates what the browser sent (`StudioState.set` refuses unknown names,
out-of-range and non-finite values) and reports problems as a notification: a bad message
never raises out of a handler. Slider moves are coalesced: while one mesh update runs, new
values only mark the state dirty, and the update loop sends the latest values next, so a
fast drag never queues stale frames.
"""

from __future__ import annotations

import collections
import io
import logging
import threading
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from avatarforge.errors import UserInputError
from avatarforge.studio.controls import build_controls
from avatarforge.studio.expressions import EXPRESSION_PRESETS, load_expressions, safe_name, save_expression
from avatarforge.studio.look import DressedParts, Look
from avatarforge.studio.state import StudioState
from avatarforge.studio.view_glb import TexturedView

if TYPE_CHECKING:  # pragma: no cover
    from avatarforge.studio.server import StudioServer

__all__ = ["StudioSession"]

log = logging.getLogger(__name__)

SKIN_COLOUR = (214, 180, 160)
#: In the textured view, the textured mesh returns once the sliders rest this long (and the
#: hair and clothes, which follow the body approximately while a slider moves, are rebuilt).
TEXTURE_SETTLE_SECONDS = 0.4
BONE_COLOUR = (230, 60, 40)


class StudioSession:
    """The state, scene and controls of one connected client (tab)."""

    def __init__(self, app: "StudioServer", client) -> None:
        self.app = app
        self.client = client
        start = app.initial
        self.state = StudioState(app.body, dict(start.values), texture=start.texture, source=start.source,
                                 pose_name=start.pose_name, look=start.look or Look())
        self.update_seconds: collections.deque[float] = collections.deque(maxlen=1000)
        """Server-side time of each mesh update (forward pass + building and queueing the
        scene messages), seconds."""
        self.forward_seconds: collections.deque[float] = collections.deque(maxlen=1000)
        """The forward-pass part of each update, seconds."""
        self.update_cpu_seconds: collections.deque[float] = collections.deque(maxlen=1000)
        """CPU time (this thread) of each update: robust to other jobs on the machine, seconds."""
        self.push_log: collections.deque[tuple[int, bool, float, float, float, float]] = collections.deque(maxlen=1000)
        """Per update, in one entry (read safely while another update runs): (update number,
        interactive, time.time() when queued, wall seconds, CPU seconds, forward-pass seconds)."""
        self.updates = 0
        """Mesh updates sent so far."""
        self.last_vertices: np.ndarray | None = None
        """The vertices last sent to the browser."""
        self.exports: list[Path] = []
        self.last_edit_wall = 0.0
        """Wall-clock time (time.time) the last slider edit arrived (for latency breakdowns)."""
        self.last_push_wall = 0.0
        """Wall-clock time the last mesh update was queued to the browser."""
        self.textured_vertices: np.ndarray | None = None
        """The vertices of the textured view last sent (it lags while a slider moves)."""
        self._lock = threading.Lock()
        self._dirty = False
        self._updating = False
        self._interactive = False
        self._status_time = 0.0
        self._texture_timer: threading.Timer | None = None
        self._texture_hold_until = 0.0  # time.monotonic() before which the textured GLB waits (live drive)
        self._local = threading.local()
        self._textured_view: TexturedView | None = None
        self._textured_for: int | None = None
        self._expressions = dict(EXPRESSION_PRESETS)
        self._expressions.update(load_expressions(app.config.outdir, self._action_names))
        self._folders: dict[str, Path] = {}
        self.parts: DressedParts | None = None
        """The hair and garment meshes in the view (built on ``parts.built_on``)."""
        self.part_handles: dict[str, object] = {}
        """Part key (hair, top, bottom, feet) -> its scene mesh."""

        scene = client.scene
        frame = self.state.mesh()
        body = app.body
        self._faces = body.faces.numpy().astype(np.uint32)
        self._parents = np.asarray(body.joint_parents)
        self.mesh = scene.add_mesh_simple("/avatar/shaded", frame.vertices, self._faces, color=SKIN_COLOUR,
                                          visible=self.state.texture is None, cast_shadow=False,
                                          receive_shadow=False)
        self.textured = None
        self.skeleton = scene.add_line_segments("/avatar/skeleton", self._bones(frame.joints), BONE_COLOUR,
                                                thickness=4.0, thickness_units="screen", visible=False)
        self.controls = build_controls(client.gui, body.params, self.state.values, list(self._expressions),
                                       self._refresh_folders(), textured=self.state.texture is not None,
                                       look=self.state.look)
        self._wire()
        from avatarforge.studio.drive_panel import DrivePanel, add_drive_controls

        self.drive = DrivePanel(self, add_drive_controls(client.gui))
        self._mode = "textured" if self.state.texture is not None else "shaded"
        self._push(frame)
        self._set_status()

    def close(self) -> None:
        """The tab is gone: stop the pending textured-view refresh (and any video drive)."""
        drive = getattr(self, "drive", None)
        if drive is not None:
            drive.close()
        with self._lock:
            if self._texture_timer is not None:
                self._texture_timer.cancel()
                self._texture_timer = None

    # ------------------------------------------------------------ helpers
    @property
    def _action_names(self) -> list[str]:
        return self.app.body.params.names("expression")

    def _syncing(self) -> bool:
        return getattr(self._local, "syncing", False)

    def _bones(self, joints: np.ndarray) -> np.ndarray:
        child = np.flatnonzero(self._parents >= 0)
        return np.stack([joints[self._parents[child]], joints[child]], 1).astype(np.float32)

    def notify(self, title: str, body: str, error: bool = False) -> None:
        try:
            self.client.add_notification(title, body, color="red" if error else None, auto_close_seconds=6.0)
        except Exception:  # noqa: BLE001 - the tab may be gone; nothing to tell then
            log.debug("notification to a closed client dropped", exc_info=True)

    def _guarded(self, what: str, func, *args) -> None:
        """Run a GUI action; user errors become a notification, anything else is logged."""
        try:
            func(*args)
        except UserInputError as exc:
            self.notify(what, str(exc), error=True)
        except Exception as exc:  # noqa: BLE001 - a callback must never take the server down
            log.exception("studio: %s failed", what)
            self.notify(what, f"internal error: {type(exc).__name__}: {exc}", error=True)

    def _set_status(self, force: bool = True) -> None:
        # Re-rendering the panel costs the browser time: while a slider moves, at most 2 Hz.
        now = time.monotonic()
        if not force and now - self._status_time < 0.5:
            return
        self._status_time = now
        ms = f" · last update {1000 * self.update_seconds[-1]:.0f} ms" if self.update_seconds else ""
        self.controls.status.content = f"**{self.state.source}**{ms}"

    def _refresh_folders(self) -> list[str]:
        self._folders = self.app.avatar_folders()
        return list(self._folders)

    # ------------------------------------------------------------ wiring
    def _wire(self) -> None:
        c = self.controls
        for name, handle in c.sliders.items():
            handle.on_update(lambda ev, n=name, h=handle: self._guarded("edit", self.on_slider, n, h.value))
        for axis, handle in c.joint_sliders.items():
            handle.on_update(lambda ev, a=axis, h=handle: self._guarded(
                "edit", self.on_slider, f"pose.{c.joint.value}.{a}", h.value))
        c.joint.on_update(lambda ev: self.sync_controls())
        c.undo.on_click(lambda ev: self._guarded("undo", self._history, self.state.undo))
        c.redo.on_click(lambda ev: self._guarded("redo", self._history, self.state.redo))
        c.reset.on_click(lambda ev: self._guarded("reset", self._after_bulk, self.state.reset))
        c.pose_presets.on_click(lambda ev: self._guarded(
            "pose", self._after_bulk, lambda: self.state.apply_pose_preset(str(c.pose_presets.value).lower())))
        c.expression_preset.on_update(lambda ev: self._guarded("expression", self._on_expression_preset))
        c.save_expression.on_click(lambda ev: self._guarded("save expression", self._on_save_expression))
        c.local_search.on_update(lambda ev: self._guarded("search", self._on_search))
        c.shading.on_update(lambda ev: self._guarded("shading", self._on_shading))
        c.skeleton.on_update(lambda ev: self._guarded("skeleton", self._on_skeleton))
        c.export.on_click(lambda ev: self._guarded("export", self._on_export))
        c.load_folder.on_click(lambda ev: self._guarded("load", self._on_load_folder))
        c.photo.on_upload(lambda ev: self._guarded("photo", self._on_photo))
        c.params_upload.on_upload(lambda ev: self._guarded("params.json", self._on_params_upload))
        c.hair_style.on_update(lambda ev: self._guarded("hair", self._on_look, "style"))
        c.hair_length.on_update(lambda ev: self._guarded("hair", self._on_look, "length"))
        c.hair_volume.on_update(lambda ev: self._guarded("hair", self._on_look, "volume"))
        c.hair_colour.on_update(lambda ev: self._guarded("hair", self._on_look, "colour"))
        for slot in c.garments:
            c.garments[slot].on_update(lambda ev, s=slot: self._guarded("outfit", self._on_look, "garment", s))
            c.garment_colours[slot].on_update(lambda ev, s=slot: self._guarded("outfit", self._on_look, "colour", s))

    # ------------------------------------------------------------ edits
    def on_slider(self, name: str, value) -> None:
        if self._syncing():
            return
        self.last_edit_wall = time.time()
        try:
            changed = self.state.set({name: value}, key=name)
        except UserInputError as exc:
            self.notify("value refused", str(exc), error=True)
            self.sync_controls()
            return
        if changed:
            self.request_update(interactive=True)

    def drive_values(self, values: dict[str, float], key: str) -> None:
        """Apply a video or webcam frame's face values (one undo step per drive; the sliders
        are not moved frame by frame, `sync_controls` catches them up)."""
        self.last_edit_wall = time.time()
        if self.state.set(values, key=key):
            self.request_update(interactive=True)

    def edit(self, changes: dict[str, float]) -> dict[str, float]:
        """Change parameters from Python (as the sliders do) and update the view and sliders."""
        changed = self.state.set(changes)
        self.sync_controls()
        self.request_update()
        return changed

    # ------------------------------------------------------------ hair and outfit
    def _on_look(self, what: str, slot: str | None = None) -> None:
        if self._syncing():
            return
        c = self.controls
        if slot is not None:
            look = (self.state.look.with_garment(slot, c.garments[slot].value) if what == "garment" else
                    self.state.look.with_garment(slot, colour=c.garment_colours[slot].value))
        elif what == "style":
            look = self.state.look.with_hair(style=c.hair_style.value)
        elif what == "length":
            look = self.state.look.with_hair(length=c.hair_length.value)
        elif what == "volume":
            look = self.state.look.with_hair(volume=c.hair_volume.value)
        else:
            look = self.state.look.with_hair(colour=c.hair_colour.value)
        self.set_look(look)

    def set_look(self, look: Look) -> None:
        """Make ``look`` (hair and outfit) current: the controls and the view follow."""
        self.state.look = look
        self.sync_look_controls()
        self.request_update()

    def sync_look_controls(self) -> None:
        """Set the Hair and Outfit controls to the state's look (without triggering edits)."""
        from avatarforge.studio.look import NO_GARMENT

        c, look = self.controls, self.state.look
        self._local.syncing = True
        try:
            for handle, value in ((c.hair_style, look.hair.style), (c.hair_length, look.hair.length),
                                  (c.hair_volume, look.hair.volume), (c.hair_colour, look.hair_srgb)):
                if handle.value != value:
                    handle.value = value
            for slot, dropdown in c.garments.items():
                name, srgb = look.outfit.get(slot, (NO_GARMENT, None))
                if dropdown.value != name:
                    dropdown.value = name
                if srgb is not None and tuple(c.garment_colours[slot].value) != tuple(srgb):
                    c.garment_colours[slot].value = srgb
        finally:
            self._local.syncing = False

    def _show_parts(self, frame, interactive: bool) -> None:
        """Hair and garments on ``frame``: moved with the body while a slider moves (the look
        unchanged), rebuilt otherwise; hidden while the skeleton shows."""
        look = self.state.look
        parts = self.parts
        hidden = bool(self.skeleton.visible)
        if interactive and parts is not None and parts.look == look:
            for part in parts.parts:
                handle = self.part_handles.get(part.key)
                if handle is not None:
                    handle.vertices = part.follow(frame.vertices)
                    handle.visible = not hidden
            return
        if parts is None or parts.look != look or parts.built_on is not frame.vertices:
            if frame.output is None:
                return
            if parts is not None and parts.look == look and np.array_equal(parts.built_on, frame.vertices):
                parts.built_on = frame.vertices  # same body: nothing to rebuild
            else:
                old = {p.key: p for p in parts.parts} if parts is not None else {}
                parts = self.parts = DressedParts.build(frame.output, look, parts)
                parts.built_on = frame.vertices
                scene = self.client.scene
                for key in [k for k in self.part_handles if k not in {p.key for p in parts.parts}]:
                    self.part_handles.pop(key).remove()
                for part in parts.parts:
                    handle = self.part_handles.get(part.key)
                    prev = old.get(part.key)
                    if handle is not None and prev is not None and prev.faces is part.faces:  # reused: recolour
                        if tuple(prev.srgb) != tuple(part.srgb):
                            handle.color = part.srgb
                        handle.vertices = part.vertices
                        handle.visible = not hidden
                        continue
                    self.part_handles[part.key] = scene.add_mesh_simple(
                        f"/avatar/{part.key}", part.vertices, part.faces.astype(np.uint32), color=part.srgb,
                        cast_shadow=False, receive_shadow=False, visible=not hidden)
                return
        for part in parts.parts:
            handle = self.part_handles.get(part.key)
            if handle is not None:
                handle.vertices = part.vertices
                handle.visible = not hidden

    def _history(self, step) -> None:
        if step():
            self.sync_controls()
            self.request_update()

    def _after_bulk(self, action) -> None:
        action()
        self.sync_controls()
        self.request_update()

    def sync_controls(self) -> None:
        """Set every slider to the state's value (without triggering edits)."""
        c, values = self.controls, self.state.values
        self._local.syncing = True
        try:
            for name, handle in c.sliders.items():
                if handle.value != values[name]:
                    handle.value = values[name]
            joint = c.joint.value
            for axis, handle in c.joint_sliders.items():
                v = values.get(f"pose.{joint}.{axis}", 0.0)
                if handle.value != v:
                    handle.value = v
        finally:
            self._local.syncing = False

    def _on_expression_preset(self) -> None:
        name = self.controls.expression_preset.value
        if name not in self._expressions:
            return
        self._after_bulk(lambda: self.state.apply_expression(self._expressions[name]))

    def _on_save_expression(self) -> None:
        name = safe_name(self.controls.expression_name.value)
        path = save_expression(self.app.config.outdir, name, self.state.group_values("expression"),
                               self._action_names)
        self._expressions[path.stem] = load_expressions(self.app.config.outdir, self._action_names).get(
            path.stem, {})
        self.controls.expression_preset.options = ["(choose)", *self._expressions]
        self.notify("expression saved", f"{path.name} in {path.parent}")

    def _on_search(self) -> None:
        query = self.controls.local_search.value.strip().lower()
        specs = self.app.body.params
        shown: dict[str, int] = collections.Counter()
        for name in specs.names("local"):
            visible = not query or query in name.lower()
            self.controls.sliders[name].visible = visible
            shown[specs[name].region or "other"] += visible
        for region, folder in self.controls.local_folders.items():
            folder.expand_by_default = bool(query) and shown[region] > 0
            folder.visible = shown[region] > 0

    # ------------------------------------------------------------ view
    def _on_shading(self) -> None:
        mode = self.controls.shading.value
        if mode == "textured" and self.state.texture is None:
            self.notify("no texture", "this avatar has no texture: create one from a photo or load a folder")
            self._local.syncing = True
            try:
                self.controls.shading.value = "shaded"
            finally:
                self._local.syncing = False
            mode = "shaded"
        self._mode = mode
        self.request_update()

    def _on_skeleton(self) -> None:
        self.skeleton.visible = bool(self.controls.skeleton.value)
        self.request_update()

    def request_update(self, interactive: bool = False) -> None:
        """Send the mesh for the current values; coalesces requests made during an update.

        ``interactive`` (slider moves): in the textured view the fast shaded mesh follows the
        slider and the textured GLB (slow for the browser to rebuild) comes back once the
        slider rests for ``TEXTURE_SETTLE_SECONDS``.
        """
        with self._lock:
            self._dirty = True
            self._interactive = self._interactive or interactive
            if self._updating:
                return
            self._updating = True
        try:
            while True:
                with self._lock:
                    if not self._dirty:
                        self._updating = False
                        return
                    self._dirty = False
                    interactive, self._interactive = self._interactive, False
                self._push(self.state.mesh(), interactive)
        except BaseException:
            with self._lock:
                self._updating = False
            raise

    def _wants_texture(self) -> bool:
        # The skeleton is drawn inside the body: while it is shown the body is the shaded mesh, see-through.
        return self._mode == "textured" and self.state.texture is not None and not self.skeleton.visible

    def _push(self, frame, interactive: bool = False) -> None:
        start, cpu_start = time.perf_counter(), time.thread_time()
        show_bones = bool(self.skeleton.visible)
        if self._wants_texture() and not interactive:
            self._show_textured(frame.vertices)
        else:
            self.mesh.vertices = frame.vertices
            self.mesh.opacity = 0.35 if show_bones else None
            self.mesh.visible = True
            if self.textured is not None:
                self.textured.visible = False
            if self._wants_texture() or self.part_handles:
                self._schedule_texture()
        self._show_parts(frame, interactive)
        if show_bones:
            self.skeleton.points = self._bones(frame.joints)
        self.last_vertices = frame.vertices
        self.updates += 1
        self.forward_seconds.append(frame.seconds)
        self.update_seconds.append(frame.seconds + time.perf_counter() - start)
        self.update_cpu_seconds.append(frame.cpu_seconds + time.thread_time() - cpu_start)
        self.last_push_wall = time.time()
        self.push_log.append((self.updates, interactive, self.last_push_wall, self.update_seconds[-1],
                              self.update_cpu_seconds[-1], frame.seconds))
        self._set_status(force=not interactive)

    def _show_textured(self, vertices: np.ndarray) -> None:
        if self._textured_for != id(self.state.texture):
            body = self.app.body
            self._textured_view = TexturedView.build(body.faces.numpy(), body.uvs.numpy(), body.uv_faces.numpy(),
                                                     self.state.texture, len(vertices))
            self._textured_for = id(self.state.texture)
        self.textured = self.client.scene.add_glb("/avatar/textured", self._textured_view.glb(vertices),
                                                cast_shadow=False, receive_shadow=False)
        self.mesh.visible = False
        self.textured_vertices = vertices

    def _schedule_texture(self) -> None:
        with self._lock:
            if self._texture_timer is not None:
                self._texture_timer.cancel()
            self._texture_timer = threading.Timer(TEXTURE_SETTLE_SECONDS, self._settle_texture)
            self._texture_timer.daemon = True
            self._texture_timer.start()

    def hold_texture(self, seconds: float) -> None:
        """Keep the fast shaded mesh for ``seconds`` more before the textured GLB comes back: a
        live drive (webcam frames ~0.1-1 s apart) would otherwise re-send the slow GLB between
        its frames, and the browser rebuilding it delays the next frame's capture."""
        self._texture_hold_until = time.monotonic() + seconds

    def _settle_texture(self) -> None:
        with self._lock:
            busy = self._updating or self._dirty or time.monotonic() < self._texture_hold_until
            self._texture_timer = None
        if busy:
            self._schedule_texture()
            return
        self._guarded("view", self.request_update)

    # ------------------------------------------------------------ files
    def load_values(self, values, texture, source: str, pose_name: str, look: Look | None = None) -> None:
        self.state.load(values, texture, source, pose_name, look)
        self._mode = "textured" if texture is not None else "shaded"
        self._local.syncing = True
        try:
            self.controls.shading.value = self._mode
        finally:
            self._local.syncing = False
        self.sync_controls()
        self.sync_look_controls()
        self.request_update()

    def load_folder(self, path: Path) -> None:
        """Make the avatar saved in ``path`` (params.json [+ avatar_texture.png]) current."""
        values, texture, pose, look = self.app.read_avatar(path)
        self.load_values(values, texture, f"folder {path.name}", pose, look)

    def _on_load_folder(self) -> None:
        label = self.controls.folder.value
        path = self._folders.get(label)
        if path is None:  # a label the server did not offer: refuse, never treat it as a path
            self.notify("load", "choose an avatar folder from the list", error=True)
        else:
            self.load_folder(path)
            self.notify("loaded", str(path))
        self.controls.folder.options = self._refresh_folders() or ["(none found)"]

    def _on_params_upload(self) -> None:
        from avatarforge.studio.uploads import store_params

        upload = self.controls.params_upload.value
        path = store_params(self.app.config.outdir, upload.content)
        values, _, pose, look = self.app.read_avatar(path)
        self.load_values(values, None, f"params {Path(upload.name).name[:60]}", pose, look)

    def export(self, formats: tuple[str, ...] = ("glb",)) -> Path:
        """Write avatar.glb (+ avatar.vrm when ``formats`` has "vrm"), avatar.obj/.mtl(/_texture.png),
        params.json, preview.png and report.json into a new folder under ``<output dir>/exports``;
        returns that folder."""
        from avatarforge.export.settings import ExportSettings
        from avatarforge.outputs import Report, write_outputs

        path = self.app.new_export_dir(self.client.client_id)
        write_outputs(self.state.avatar(), path, Report(command="studio export"), preview_size=256,
                      params_extra={"look": self.state.look.to_dict()}, export=ExportSettings(formats=formats))
        self.exports.append(path)
        return path

    def _on_export(self) -> None:
        c = self.controls
        c.export.disabled = True
        choice = c.export_format.value
        try:
            path = self.export(("glb",) if choice == "avatar.glb" else ("glb", "vrm"))
        finally:
            c.export.disabled = False
        c.export_text.content = f"exported to `{path}`"
        c.export_text.visible = True
        if choice in ("avatar.glb", "avatar.vrm"):
            self.client.send_file_download(choice, (path / choice).read_bytes(), save_immediately=True)
        else:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                for f in sorted(path.iterdir()):
                    z.write(f, f.name)
            self.client.send_file_download(f"{path.name}.zip", buf.getvalue(), save_immediately=True)
        self._refresh_folders()
        self.controls.folder.options = list(self._folders) or ["(none found)"]

    def _on_photo(self) -> None:
        from avatarforge.studio.uploads import store_photo

        upload = self.controls.photo.value
        path = store_photo(self.app.config.outdir, upload.content, self.app.config.max_photo_bytes)
        self.create_from_photo(path, Path(upload.name).stem)

    def create_from_photo(self, photo: Path, label: str = "photo", wait: bool = False) -> threading.Thread:
        """Run `create` on ``photo`` in a background thread, showing its stages; the result
        becomes the current avatar. Returns the thread (joined first when ``wait``)."""
        from avatarforge.studio.jobs import background_job, run_create

        c = self.controls

        def on_stage(name: str, done: int, total: int) -> None:
            c.progress.value = 100.0 * done / max(total, 1)
            c.progress_text.content = f"create: **{name}** ({done + 1}/{total})"

        def work() -> None:
            outdir = self.app.new_created_dir(label)
            result = run_create(photo, outdir, self.app.body, on_stage, self.app.config.texture_size)
            self.load_values(result.values, result.texture, f"created from {safe_name(label)}", result.pose,
                             result.look)
            c.progress.value = 100.0
            c.progress_text.content = f"created in {result.seconds:.0f} s → `{result.outdir}`"
            for w in result.warnings:
                self.notify("create: warning", w)
            c.folder.options = self._refresh_folders() or ["(none found)"]

        return background_job("create", work, c.photo, c.progress, c.progress_text, self.notify, wait)
