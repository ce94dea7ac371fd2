"""Write an avatar's output set into a directory, atomically, with a report; the product
pictures (preview.png, preview_head.png, fit_overlay.png) from an avatar or a face fit: the
glue between product objects and :mod:`avatarforge.render`, whose functions take arrays; and
the face list of `avatarforge faces` (faces.json + faces.png)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from avatarforge.util.atomic import atomic_dir
from avatarforge.util.progress import Stages

if TYPE_CHECKING:  # torch is imported by the avatar module: keep `Report` light to import
    from avatarforge.avatar import Avatar
    from avatarforge.export.settings import ExportSettings
    from avatarforge.perception.face import FoundFace

__all__ = ["write_outputs", "write_avatar_vrm", "Report", "file_sha256", "write_preview", "write_head_preview",
           "write_fit_overlay", "faces_json", "write_faces"]


def file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("avatarforge", "anny", "torch", "numpy", "mediapipe", "trimesh", "pygltflib"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _save_png(image, path: str | os.PathLike) -> None:
    """A product picture as PNG at the textures' zlib level (``export.png``: ~3x faster to
    encode than PIL's default level 6, files ~10 % larger)."""
    from PIL import Image

    from avatarforge.export.png import TEXTURE_PNG_LEVEL

    Image.fromarray(image).save(path, format="PNG", compress_level=TEXTURE_PNG_LEVEL)


def _preview_arrays(avatar: Avatar):
    """(vertices, faces, texture, uvs, uv_faces) of the avatar's body plus its hair, garments and glasses."""
    return avatar.render_arrays()


def write_preview(avatar: Avatar, path: str | os.PathLike, size: int = 512):
    """preview.png: the avatar's views side by side (with its hair); returns the image."""
    from avatarforge.render.preview import preview_strip

    v, f, tex, uvs, uvf = _preview_arrays(avatar)
    strip = preview_strip(v, f, size=size, texture=tex, uvs=uvs, uv_faces=uvf)
    _save_png(strip, path)
    return strip


def write_head_preview(avatar: Avatar, path: str | os.PathLike, size: int = 384):
    """preview_head.png: the textured head (and hair) close up (``render.preview.HEAD_VIEWS``);
    returns the image."""
    import numpy as np

    from avatarforge.bodies.head_mesh import head_faces
    from avatarforge.render.preview import HEAD_VIEWS, preview_strip

    out = avatar.output
    faces = out.faces.numpy()
    head = out.vertices[0].detach().numpy()[np.unique(faces[head_faces(avatar.body, faces)])]
    if avatar.hair is not None:  # frame the hair too, down to the chin's level at most
        hv = avatar.hair.vertices
        head = np.concatenate([head, hv[hv[:, 1] > head[:, 1].min()]])
    v, f, tex, uvs, uvf = _preview_arrays(avatar)
    strip = preview_strip(v, f, size=size, views=HEAD_VIEWS, texture=tex, uvs=uvs, uv_faces=uvf, frame=head)
    _save_png(strip, path)
    return strip


def write_fit_overlay(rec, path: str | os.PathLike, max_side: int = 1600):
    """fit_overlay.png of a face fit (``pipeline.face.FaceReconstruction``): the photo, the fitted
    head mesh, detected (green) and fitted iBUG-68 (red) landmarks; returns the image."""
    from avatarforge.bodies.head_mesh import head_faces
    from avatarforge.render.overlay import draw_fit_overlay

    out = rec.body.forward_params(rec.fit.values)
    faces = out.faces.numpy()
    # the fitted model's own points (the exported ones lean on the detector's for the features)
    model_ibug = rec.fit.ibug68_model_2d if rec.fit.ibug68_model_2d is not None else rec.fit.ibug68_2d
    img = draw_fit_overlay(rec.rgb, out.vertices[0].numpy(), faces[head_faces(rec.body, faces)], rec.fit.camera,
                           rec.landmarks.points, model_ibug, max_side=max_side)
    _save_png(img, path)
    return img


FACE_ORDER = "largest face first (3D size of its landmark mesh; ties: leftmost, then topmost); index = --face-index"


def faces_json(faces: list[FoundFace], image_size: tuple[int, int]) -> dict:
    """``{"image_size": [w, h], "order", "faces": [{"index", "box": [x0, y0, x1, y1], "score",
    "yaw_deg"}]}`` for :func:`perception.find_faces`'s faces; boxes in original-image pixels
    (x right, y down), in the ``--face-index`` order."""
    return {
        "image_size": [int(image_size[0]), int(image_size[1])],
        "order": FACE_ORDER,
        "faces": [
            {
                "index": f.index,
                "box": [round(float(v), 1) for v in (f.box.x0, f.box.y0, f.box.x1, f.box.y1)],
                "score": round(float(f.box.score), 3),
                "yaw_deg": round(float(f.yaw_deg), 1),
            }
            for f in faces
        ],
    }


def write_faces(folder: Path, rgb, faces: list[FoundFace], seconds: float | None = None, force: bool = False) -> dict:
    """``folder``/faces.json (:func:`faces_json`, plus ``seconds`` of the search when given)
    and faces.png (the photo with numbered boxes), written atomically; returns the JSON data."""
    import numpy as np

    from avatarforge.render.overlay import draw_numbered_boxes

    data = faces_json(faces, (rgb.shape[1], rgb.shape[0]))
    if seconds is not None:
        data["seconds"] = round(float(seconds), 3)
    boxes = np.array([[f.box.x0, f.box.y0, f.box.x1, f.box.y1] for f in faces], dtype=np.float64).reshape(-1, 4)
    picture = draw_numbered_boxes(rgb, boxes, [f.index for f in faces])
    with atomic_dir(folder, force=force) as tmp:
        (tmp / "faces.json").write_text(json.dumps(data, indent=1))
        _save_png(picture, tmp / "faces.png")
    return data


@dataclass
class Report:
    """report.json: what ran, how long each stage took, what went wrong-ish."""

    command: str
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    cpu_started: float = field(default_factory=time.process_time)

    def to_json(self) -> str:
        return json.dumps(
            {
                "command": self.command,
                "stage_seconds": {k: round(v, 4) for k, v in self.timings.items()},
                "total_seconds": round(time.time() - self.started, 4),
                # CPU time of this process (all threads): on a busy machine, close to what the
                # wall time would be on a quiet one (the fits run on one thread).
                "total_cpu_seconds": round(time.process_time() - self.cpu_started, 4),
                "warnings": self.warnings,
                "versions": versions(),
                **self.info,
            },
            indent=1,
        )


def write_outputs(
    avatar: Avatar,
    outdir: str | os.PathLike,
    report: Report,
    stages: Stages | None = None,
    force: bool = False,
    preview_size: int = 512,
    params_extra: dict | None = None,
    extra_files=None,
    export: ExportSettings | None = None,
) -> Path:
    """Write avatar.glb (and/or avatar.vrm), avatar.obj/.mtl (+ texture), params.json,
    preview.png, report.json.

    ``params_extra`` goes into params.json's ``extra``; ``extra_files(tmp_dir)`` may add files
    (e.g. the face stage's) to the same atomic output; ``export`` chooses the formats and
    their options (default: the GLB, engine-ready).

    Everything goes into a temporary directory renamed onto ``outdir`` at the end, so a
    failure leaves nothing half-written.
    """
    from avatarforge.export import write_glb, write_obj
    from avatarforge.export.settings import ExportSettings

    stages = stages or Stages()
    outdir = Path(outdir)
    export = export or ExportSettings()
    with atomic_dir(outdir, force=force) as tmp:
        with stages.stage("rig"):
            mesh = avatar.rigged_mesh()
        info = None
        if "glb" in export.formats:
            with stages.stage("export glb"):
                info = write_glb(mesh, tmp / "avatar.glb", export.glb_options())
        if "vrm" in export.formats:
            with stages.stage("export vrm"):
                vrm = write_avatar_vrm(avatar, tmp / "avatar.vrm", export, mesh)
            report.info["vrm"] = {"vertices": vrm.n_vertices, "joints": vrm.n_joints,
                                  "morph_targets": vrm.n_morph_targets, "materials": list(vrm.materials),
                                  "bytes": vrm.n_bytes}
        if export.lod:
            with stages.stage("export lod"):
                report.info["lod"] = write_lods(avatar, mesh, tmp, export)
        if export.compress:
            with stages.stage("compress"):
                report.info["compressed"] = write_compressed(avatar, mesh, tmp, export)
        with stages.stage("export obj"):
            write_obj(mesh, tmp, stem="avatar")
        with stages.stage("params"):
            avatar.params_file(params_extra).write(tmp / "params.json")
        with stages.stage("preview"):
            write_preview(avatar, tmp / "preview.png", size=preview_size)
        if extra_files is not None:
            extra_files(tmp)
        report.timings.update(stages.timings)
        report.info.setdefault("outputs", sorted(p.name for p in tmp.iterdir()) + ["report.json"])
        if "glb" in export.formats:
            report.info["glb"] = {
                "vertices": info.n_vertices,
                "joints": info.n_joints,
                "morph_targets": info.n_morph_targets,
                "materials": list(info.materials),
                "skeleton_names": export.skeleton_names,
                "bytes": info.n_bytes,
            }
        (tmp / "report.json").write_text(report.to_json())
    return outdir


def write_avatar_vrm(avatar: Avatar, path: Path, export: ExportSettings, mesh=None):
    """avatar.vrm: the avatar in T-pose (VRM's rest pose, whatever pose the GLB has) with a
    neutral face (the app drives the expressions); ``mesh`` is reused when already in T-pose."""
    import numpy as np

    from avatarforge.export.vrm import VrmMeta, write_vrm

    t_avatar = avatar.reposed("t")
    if mesh is None or t_avatar is not avatar:
        mesh = t_avatar.rigged_mesh()
    if mesh.morph_weights is not None:
        mesh = replace(mesh, morph_weights=np.zeros_like(mesh.morph_weights))
    meta = VrmMeta(name=mesh.name, authors=(export.author,), body_model=avatar.body.name)
    return write_vrm(mesh, path, meta, export.glb_options(), toon=export.toon)


def write_lods(avatar: Avatar, mesh, folder: Path, export: ExportSettings) -> dict:
    """avatar_lod1..3.glb (lighter meshes, same rig/UVs/morphs); returns their sizes."""
    from avatarforge.avatar import lod_meshes
    from avatarforge.export import write_glb

    out = {}
    for level, light in lod_meshes(avatar, mesh).items():
        info = write_glb(light, folder / f"avatar_lod{level}.glb", export.glb_options())
        out[f"avatar_lod{level}.glb"] = {"vertices": info.n_vertices, "faces": info.n_faces, "bytes": info.n_bytes}
    return out


def write_compressed(avatar: Avatar, mesh, folder: Path, export: ExportSettings) -> dict:
    """avatar_meshopt.glb: the GLB (written first when only the VRM was asked for) through
    gltfpack; returns its size."""
    from avatarforge.export import write_glb
    from avatarforge.export.compress import meshopt_compress

    src = folder / "avatar.glb"
    made = not src.is_file()
    if made:
        write_glb(mesh, src, export.glb_options())
    dst = meshopt_compress(src, folder / "avatar_meshopt.glb")
    if made:
        src.unlink()
    return {"avatar_meshopt.glb": {"bytes": dst.stat().st_size}}
