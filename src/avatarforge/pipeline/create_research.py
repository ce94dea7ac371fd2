"""`create --backend smplx`: the thesis's own pipeline on the user's licensed assets.

photo -> face landmarks -> DECA crop -> DECA codes (or, without DECA weights, FLAME fitted to
the 68 landmarks) -> FLAME head (pose undone) -> SMPL-X betas from the head -> graft (aligned
offsets, smoothed seam, expression morph, jaw to the body's jaw) -> head texture in FLAME's
UV layout (photo where seen, DECA albedo elsewhere) moved to SMPL-X's UV layout -> the same
output set as the default `create` (avatar.glb, avatar.obj, params.json, preview.png, ...).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from avatarforge.util.progress import Stages
from avatarforge.util.colour import float_to_uint8

__all__ = ["ResearchOptions", "ResearchResult", "create_research_avatar", "write_research_outputs",
           "RESEARCH_STAGES", "EXPORT_POSES", "head_texture"]

RESEARCH_STAGES = 16

#: Export poses for SMPL-X (T-pose rest): shoulder rotations about +Z, degrees.
EXPORT_POSES = {"t": 0.0, "a": 40.0, "relaxed": 70.0}


@dataclass
class ResearchOptions:
    """What `create --backend smplx` may be told."""

    assets: str | os.PathLike | None = None
    """Research assets folder (None: $AVATARFORGE_ASSETS)."""
    pose: str = "a"
    """Export pose: a, t or relaxed."""
    face_index: int | None = None
    """Which face when there are several (0 = the largest)."""
    texture_size: int = 1024
    """SMPL-X texture resolution."""
    head_texture_size: int = 512
    """FLAME-UV head texture resolution."""
    n_betas: int = 10
    """SMPL-X shape coefficients inferred from the head (the thesis: 10)."""
    use_deca: bool = True
    """Use DECA when its weights are present (False: always the landmark fit)."""
    given: dict[str, str | float] = field(default_factory=dict)
    """Values fixed by the user (``--set shape.0=1.2``, ``pose.*``, ``expr.photo``); they
    override the inferred ones (the head does not determine the body)."""


@dataclass
class ResearchResult:
    avatar: object
    """avatar.Avatar (a personalised SmplxBody) ready to export."""
    method: str
    """``deca`` or ``landmarks``."""
    code: object
    """research.deca.DecaCode of the head."""
    deca: object | None
    """research.deca.DecaOutput (DECA only)."""
    graft: object
    """research.graft.GraftResult."""
    beta_fit: object
    """research.graft.BetaFit."""
    head_texture: np.ndarray | None
    """(S, S, 3) uint8 head texture in FLAME's UV layout."""
    landmarks68: np.ndarray
    """(68, 2) photo pixels."""
    crop: object
    """research.deca.DecaCrop."""
    warnings: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    fitted68: np.ndarray | None = None
    """(68, 2) photo pixels of the reconstructed head's landmarks (needs the landmark embedding)."""
    photo_rgb: np.ndarray | None = None
    """The photo, for the overlay."""


def head_texture(flame, code, vertices: torch.Tensor, crop, albedo: torch.Tensor | None, size: int):
    """FLAME-UV texture: the crop sampled where the posed head faces the camera, ``albedo``
    (DECA's shaded albedo; else the mean seen colour) elsewhere, blended over the normal's z in
    [0.15, 0.45]. Not de-lit: self-occlusion is not tested (the nose may smear onto a cheek on a
    turned face)."""
    import cv2

    from avatarforge.render.interpolate import interpolate, to_image
    from avatarforge.render.shading import vertex_normals
    from avatarforge.render.uv import rasterize_uv
    from avatarforge.research.deca.model import orthographic_project

    a = flame.arrays
    raster = rasterize_uv(a.uvs, a.uv_faces, size)
    v = vertices[0]
    proj = orthographic_project(v[None], code.cam)[0]
    px = (proj[:, :2] + 1.0) * 112.0  # DECA's normalised crop -> crop pixels
    normals = vertex_normals(v, a.faces)
    uv_px = to_image(interpolate(px, a.faces, raster), raster).numpy().astype(np.float32)
    nz = to_image(interpolate(normals[:, 2:], a.faces, raster), raster)[..., 0].numpy()
    seen = cv2.remap(crop.image, uv_px[..., 0], uv_px[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    wgt = np.clip((nz - 0.15) / 0.3, 0, 1) * raster.mask
    if albedo is not None:
        base = torch.nn.functional.interpolate(albedo, size=(size, size), mode="bilinear")[0].permute(1, 2, 0).numpy()
    else:
        mean = (seen * wgt[..., None]).sum((0, 1)) / max(wgt.sum(), 1e-6)
        base = np.broadcast_to(mean, seen.shape)
    tex = wgt[..., None] * seen + (1 - wgt[..., None]) * base
    return float_to_uint8(tex), wgt


def _body_texture(flame, body, ids, head_tex: np.ndarray, seen_w: np.ndarray, size: int) -> np.ndarray:
    """The head texture moved to SMPL-X's UV layout through the vertex ids; the rest of the
    body in the median seen skin colour."""
    from avatarforge.render.primitives import TexturedMesh
    from avatarforge.texture.transfer import correspondence_from_ids, transfer_texture

    a, b = flame.arrays, body.arrays
    src = TexturedMesh(a.v_template, a.faces, a.uvs, a.uv_faces)
    dst = TexturedMesh(b.v_template, b.faces, b.uvs, b.uv_faces)
    res = transfer_texture(head_tex, src, dst, size, correspondence=correspondence_from_ids(ids, len(b.v_template)))
    skin = np.median(head_tex[seen_w > 0.9], axis=0) if (seen_w > 0.9).any() else np.array([200, 170, 150])
    out = np.where(res.valid[..., None] | res.filled[..., None], res.texture, skin.astype(np.uint8))
    return out.astype(np.uint8)


def create_research_avatar(photo: str | os.PathLike, options: ResearchOptions | None = None,
                           stages: Stages | None = None) -> ResearchResult:
    """Photo -> SMPL-X avatar with the reconstructed FLAME head grafted on (nothing written)."""
    from avatarforge.avatar import Avatar
    from avatarforge.bodies.rotation import matrix_to_euler_xyz
    from avatarforge.errors import UserInputError
    from avatarforge.fitting.ibug68 import ibug68_from_mediapipe
    from avatarforge.perception.face import face_landmarks
    from avatarforge.perception.image_io import load_image
    from avatarforge.research.assets import resolve_assets
    from avatarforge.research.deca.crop import deca_crop
    from avatarforge.research.flame_head import FlameHead
    from avatarforge.research.graft import check_vertex_ids, graft_offsets, head_offsets, infer_betas
    from avatarforge.util.geometry import axis_angle_to_matrix
    from avatarforge.research.safe_pickle import safe_load_npy
    from avatarforge.research.smplx_body import SmplxBody
    from avatarforge.util.threads import torch_threads

    opts = options or ResearchOptions()
    stages = stages or Stages()
    if opts.pose.lower() not in EXPORT_POSES:
        raise UserInputError(f"unknown pose {opts.pose!r}: choose one of {', '.join(EXPORT_POSES)}")
    assets = resolve_assets(opts.assets)
    # Fail on a missing file before any slow work.
    smplx_path, flame_path = assets.require("smplx"), assets.require("flame")
    ids_path = assets.require("smplx_flame_ids")
    use_deca = opts.use_deca and assets.has("deca")
    lmk_path = None if use_deca else assets.require("landmarks")
    warnings: list[str] = []
    with stages.stage("load research models"):
        flame = FlameHead(flame_path, assets.get("head_template"))
        body = SmplxBody(smplx_path, n_shape=opts.n_betas)
        ids = check_vertex_ids(safe_load_npy(ids_path), body.num_vertices, flame.num_vertices)
        body.params.validate({k: v for k, v in opts.given.items() if k != "expr.photo"})  # fail early
    with stages.stage("face landmarks"):
        img = load_image(photo)
        lm = face_landmarks(img.rgb, opts.face_index)
        warnings += lm.warnings
        pts68 = ibug68_from_mediapipe(lm.xy)
        crop = deca_crop(img.rgb, pts68)
    deca_out = None
    info: dict = {}
    if use_deca:
        from avatarforge.research.deca.model import Deca, FlameTexture, load_deca_nets

        with stages.stage("DECA"):
            nets = load_deca_nets(assets.require("deca"))
            tex = FlameTexture(assets.get("flame_texture")) if assets.has("flame_texture") else None
            deca = Deca(nets, flame, tex).eval()
            image = torch.from_numpy(crop.image).permute(2, 0, 1)[None].float()
            with torch_threads(1):  # faster than 2 on the shared 2-core CPU (see util/threads)
                code = deca.encode(image)
                deca_out = deca.decode(code)
            method = "deca"
    else:
        from avatarforge.research.flame_fit import fit_flame_landmarks
        from avatarforge.research.landmarks import load_landmark_embedding

        with stages.stage("fit FLAME to landmarks"):
            emb = load_landmark_embedding(lmk_path, flame.arrays.faces)
            target = (np.c_[pts68, np.ones(68)] @ crop.matrix.T)[:, :2] / 112.0 - 1.0
            fit = fit_flame_landmarks(flame, emb, target)
            code = fit.code
            method = "landmarks"
            info["landmark_rms_px"] = round(fit.rms * 112.0, 3)
            warnings.append("no DECA weights in the assets folder: head from a FLAME landmark fit "
                            "(coarser shape, no albedo or detail)")
    fitted68 = None
    if assets.has("landmarks"):
        from avatarforge.research.deca.model import orthographic_project
        from avatarforge.research.landmarks import load_landmark_embedding

        emb68 = load_landmark_embedding(assets.require("landmarks"), flame.arrays.faces)
        with torch.no_grad():
            rot = flame.rotations_from_axis_angle(code.pose[:, :3], jaw=code.pose[:, 3:])
            lm3 = emb68.points(flame.lbs(code.shape, code.exp, rot).vertices)
            crop_px = (orthographic_project(lm3, code.cam)[0, :, :2].double().numpy() + 1.0) * 112.0
        fitted68 = (np.c_[crop_px, np.ones(68)] @ np.linalg.inv(crop.matrix).T)[:, :2]
        info["landmark_rms_px_photo"] = round(float(np.sqrt(((fitted68 - pts68) ** 2).sum(1).mean())), 3)
    with stages.stage("body from head"):
        head = head_offsets(flame, code.shape, code.exp, code.pose)
        beta_fit = infer_betas(body, ids, head.identity, n_betas=opts.n_betas)
        betas = np.clip(beta_fit.betas, -5, 5)
    with stages.stage("graft head"):
        with torch.no_grad():
            rest = body.lbs(torch.tensor(betas[None], dtype=torch.float32)).shaped[0].double().numpy()
        graft = graft_offsets(rest, body.arrays.faces, ids, head)
        # float32 offsets, exactly as graft.npz stores them (research.rebuild re-creates this body)
        body.personalise(torch.from_numpy(graft.identity.astype(np.float32)),
                         {"expr.photo": torch.from_numpy(graft.expression.astype(np.float32))})
    head_tex = None
    texture = None
    with stages.stage("texture"):
        if flame.arrays.uvs is None or body.arrays.uvs is None:
            warnings.append("no UV layout (flame/head_template.obj or SMPL-X vt/ft): the avatar is untextured")
        else:
            with torch.no_grad():
                rot = flame.rotations_from_axis_angle(code.pose[:, :3], jaw=code.pose[:, 3:])
                posed = flame.lbs(code.shape, code.exp, rot).vertices
            # like DECA's uv_texture_gt: the photo where seen, the SH-shaded albedo elsewhere
            albedo = None if deca_out is None else (deca_out.shaded if deca_out.shaded is not None else deca_out.albedo)
            head_tex, seen_w = head_texture(flame, code, posed, crop, albedo, opts.head_texture_size)
            texture = _body_texture(flame, body, ids, head_tex, seen_w, opts.texture_size)
    with stages.stage("rig"):
        values = {f"shape.{i}": float(b) for i, b in enumerate(betas)}
        values["expr.photo"] = 1.0
        # FLAME's jaw rotation re-expressed in the body's axes (R J R^T, R = the alignment's rotation)
        r = torch.as_tensor(graft.alignment.rotation, dtype=torch.float32)
        jaw = matrix_to_euler_xyz(r @ axis_angle_to_matrix(torch.as_tensor(graft.jaw, dtype=torch.float32)) @ r.T)
        values.update({f"pose.jaw.{a}": float(np.clip(x, -180, 180)) for a, x in zip("xyz", jaw.tolist())})
        angle = EXPORT_POSES[opts.pose.lower()]
        values["pose.left_shoulder.z"], values["pose.right_shoulder.z"] = -angle, angle
        values.update(body.params.validate(opts.given))
        full = body.params.complete(values)
        avatar = Avatar(body, full, opts.pose.lower(), body.forward_params(full), texture)
    info.update({"method": method, "align_rms_mm": round(graft.align_rms_m * 1000, 3),
                 "head_fit_rms_mm": round(beta_fit.rms_m * 1000, 3), "betas": [round(float(b), 4) for b in betas],
                 "alignment_scale": round(graft.alignment.scale, 5), "given": sorted(opts.given)})
    return ResearchResult(avatar, method, code, deca_out, graft, beta_fit, head_tex, pts68, crop, warnings, info,
                          fitted68, img.rgb)


def _png(path: Path, arr: np.ndarray) -> None:
    from PIL import Image

    Image.fromarray(arr).save(path)


def _overlay(rgb: np.ndarray, detected: np.ndarray, fitted: np.ndarray | None) -> np.ndarray:
    """The photo with the detected 68 landmarks (green) and the reconstructed head's (red)."""
    from avatarforge.util.image import draw_points

    img = np.ascontiguousarray(rgb.copy())
    r = max(1, round(max(img.shape[:2]) / 400))
    for pts, colour in ((detected, (0, 220, 0)), (fitted, (230, 30, 30))):
        if pts is not None:
            draw_points(img, pts, colour, r)
    return img


def write_research_outputs(result: ResearchResult, outdir: str | os.PathLike, report, stages: Stages | None = None,
                           force: bool = False, preview_size: int = 512, photo: str | os.PathLike | None = None) -> Path:
    """The default output set + landmarks.json, fit_overlay.png, head_texture_flame_uv.png, deca_albedo.png, deca_shaded.png,
    displacement.png/.npy, detail_normals.png (DECA only), deca_crop.png, head_codes.json and
    graft.npz (see :func:`avatarforge.research.rebuild.rebuild_avatar`)."""
    from avatarforge.outputs import file_sha256, write_outputs
    from avatarforge.research.rebuild import GRAFT_FILE, write_graft

    stages = stages or Stages()
    code = result.code

    def extra_files(tmp: Path) -> None:
        with stages.stage("head files"):
            lm = {"detected68": np.round(result.landmarks68, 2).tolist()}
            if result.fitted68 is not None:
                lm["fitted68"] = np.round(result.fitted68, 2).tolist()
            (tmp / "landmarks.json").write_text(json.dumps(lm))
            if result.photo_rgb is not None:
                _png(tmp / "fit_overlay.png", _overlay(result.photo_rgb, result.landmarks68, result.fitted68))
            _png(tmp / "deca_crop.png", float_to_uint8(result.crop.image))
            if result.head_texture is not None:
                _png(tmp / "head_texture_flame_uv.png", result.head_texture)
            d = result.deca
            if d is not None:
                if d.albedo is not None:
                    _png(tmp / "deca_albedo.png", float_to_uint8(d.albedo[0].permute(1, 2, 0).numpy()))
                if d.shaded is not None:
                    _png(tmp / "deca_shaded.png", float_to_uint8(d.shaded[0].permute(1, 2, 0).numpy()))
                if d.displacement is not None:
                    disp = d.displacement[0, 0].numpy() / 0.01 * 0.5 + 0.5
                    _png(tmp / "displacement.png", float_to_uint8(disp))
                    np.save(tmp / "displacement.npy", d.displacement[0, 0].numpy().astype(np.float32))
                if d.detail_normals is not None:
                    n = d.detail_normals[0].permute(1, 2, 0).numpy() * 0.5 + 0.5
                    _png(tmp / "detail_normals.png", float_to_uint8(n))
            codes = {k: getattr(code, k)[0].reshape(-1).tolist() for k in ("shape", "tex", "exp", "pose", "cam", "light")}
            if code.detail is not None:
                codes["detail"] = code.detail[0].tolist()
            (tmp / "head_codes.json").write_text(json.dumps({"method": result.method, **codes}))
            write_graft(tmp / GRAFT_FILE, result.graft.identity, result.graft.expression)

    report.warnings.extend(result.warnings)
    if photo is not None:
        report.info["input"] = {"path": str(photo), "sha256": file_sha256(photo)}
    report.info["research"] = result.info
    extra = {"backend": "smplx", "method": result.method, "landmarks68": np.round(result.landmarks68, 2).tolist()}
    return write_outputs(result.avatar, outdir, report, stages, force=force, preview_size=preview_size,
                         params_extra=extra, extra_files=extra_files)
