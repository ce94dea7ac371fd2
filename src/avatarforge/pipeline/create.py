"""The main job: one photo -> a complete personalised avatar (face fit, body inference,
texture, rigged export), and its output set."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avatarforge.util.progress import Stages
from avatarforge.util.threads import single_threaded

__all__ = ["CreateOptions", "CreateResult", "create_avatar", "write_create_outputs", "CREATE_STAGES"]

CREATE_STAGES = 19  # for the progress bar


@dataclass
class CreateOptions:
    """What `create` may be told; everything has a default that works offline on a CPU."""

    pose: str = "a"
    """Export rest pose: a, t or relaxed."""
    keep_pose: bool = False
    """Keep the photo's pose (body pose when the body is visible, head and eyes always)
    instead of the rest pose."""
    given: dict[str, float | str] = field(default_factory=dict)
    """Parameters fixed by the user (e.g. gender, muscle); phenotypes not given are inferred.
    Values may be strings (``--set NAME=VALUE``): they are read and range-checked with the body's
    parameter specs."""
    height_m: float | None = None
    """Stature to reach, metres."""
    weight_kg: float | None = None
    """Mass to reach, kilograms."""
    face_index: int | None = None
    """Which face when there are several (0 = the largest)."""
    texture_size: int = 1024
    """Texture resolution (512-4096)."""
    preview_size: int = 512
    eye_net: bool = True
    """Aim the eyes at the eye network's iris centres (off: the detector's)."""
    hair: str | None = None
    """Hair style: None (from the photo) or a ``--hair`` text (bodies.hair.HairStyle.parse:
    bald, buzz, short, medium, long, ponytail, bun, + curly/fringe/part-left ...)."""
    hair_color: tuple[int, int, int] | None = None
    """Hair colour (sRGB 0-255) instead of the photo's."""
    outfit: str = "auto"
    """Clothing: auto (from the photo, neutral where unseen), none (the bare body), or garments
    joined by '+', each optionally ``:#RRGGBB`` (``fitting.garment_fit.parse_outfit``)."""
    glasses: str = "keep"
    """keep: a glasses mesh (frame colour from the photo) when the photo shows glasses; remove:
    none (the skin texture never shows them either way)."""
    lit_texture: bool = False
    """Put the photo-lit texture (the photo's light and shadows baked in) into the GLB/OBJ
    instead of the de-lit albedo: looks like the photo in unlit viewers, wrong under new light."""


@dataclass
class CreateResult:
    face: object
    """pipeline.face.FaceReconstruction."""
    inference: object
    """fitting.body_from_head.BodyInference."""
    texture: object | None
    """texture.TextureResult (None if texturing was skipped)."""
    avatar: object
    """avatar.Avatar ready to export."""
    render_fitted: np.ndarray | None = None
    fidelity: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    body_fit: object | None = None
    """fitting.body_fit.BodyFit when the photo shows the body (None: head only)."""
    user_given: list[str] = field(default_factory=list)
    """Body values the user fixed (flags); the rest were inferred or measured."""
    parsing: object | None = None
    """perception.parsing.PhotoParsing of the photo (labels, person mask, detected accessories)."""
    hair: object | None = None
    """fitting.hair_fit.HairFit: the hair style, colour and its mesh on the photo's pose."""
    outfit: list = field(default_factory=list)
    """fitting.garment_fit.GarmentChoice per garment worn (type, colour, source)."""
    glasses: object | None = None
    """fitting.glasses_fit.GlassesFit: detected, kept or removed, the mesh and its colour."""
    photo: Path | None = None
    """The photo (also ``face.photo``; set when ``face`` is None: no usable face, see
    :mod:`.body_only`)."""
    body_look: dict | None = None
    """Without a face (:mod:`.body_only`): report.json's skin tone and hair, and where each came from."""


@single_threaded
def create_avatar(photo: str | os.PathLike, options: CreateOptions | None = None, body=None,
                  stages: Stages | None = None) -> CreateResult:
    """Photo -> fitted face -> inferred body -> texture -> avatar (nothing written).

    ``body``: the body model, a Future loading it (see :func:`.face.resolve_body`), or None.
    A full-body photo without a usable face gives an avatar from the body alone (``face``
    None, a warning; :func:`.body_only.create_from_body`).
    """
    from avatarforge.avatar import Avatar
    from avatarforge.bodies import pose_preset
    from avatarforge.fitting.body_from_head import infer_body
    from avatarforge.pipeline.face import reconstruct_face

    opts = options or CreateOptions()
    stages = stages or Stages()
    from avatarforge.fitting.glasses_fit import GLASSES_CHOICES

    if opts.glasses not in GLASSES_CHOICES:  # before any work
        from avatarforge.errors import UserInputError

        raise UserInputError(f"unknown glasses option {opts.glasses!r}: choose {' or '.join(GLASSES_CHOICES)}")
    from avatarforge.errors import UserInputError

    try:
        rec = reconstruct_face(photo, face_index=opts.face_index, body=body, stages=stages, eye_net=opts.eye_net)
    except UserInputError as err:
        if opts.face_index is not None:
            raise
        from avatarforge.pipeline.body_only import create_from_body

        return create_from_body(photo, opts, body, stages, err)  # re-raises err without a full body
    body = rec.body
    given = body.params.validate(opts.given)  # floats (--set gives strings), names and ranges checked
    with stages.stage("detect body"):
        from avatarforge.perception.pose import detect_pose

        pose = detect_pose(rec.rgb)
    with stages.stage("parse photo"):
        from avatarforge.perception.parsing import parse_photo

        parsing = parse_photo(rec.rgb, rec.landmarks.points, pose)
    body_fit = _fit_full_body(rec, pose, parsing, stages)
    with stages.stage("infer body"):
        shape_only = {k: v for k, v in given.items() if not k.startswith("pose.")}
        shape_only_user = dict(shape_only)
        if body_fit is not None:
            # The visible body measures what the head cannot: stature, build, proportions.
            seen = {k: body_fit.values[k] for k in BODY_SEEN if k in body_fit.values and k not in shape_only
                    and not (k == "height" and opts.height_m) and not (k == "weight" and opts.weight_kg)}
            shape_only = {**seen, **shape_only}
        inf = infer_body(body, rec.fit.values, shape_only, opts.height_m, opts.weight_kg)
    texture = rendered = None
    fidelity: dict = {}
    with stages.stage("texture"):
        from avatarforge.texture import fitted_fidelity, make_texture

        texture = make_texture(rec, size=opts.texture_size, parsing=parsing)
        rendered, fidelity = fitted_fidelity(rec, texture)
    with stages.stage("hair"):
        from avatarforge.fitting.hair_fit import composite_hair, fit_hair, visible_hair
        from avatarforge.texture.hair import hair_texture

        fitted_out = body.forward_params(rec.fit.values)
        hair = fit_hair(rec, parsing, rendered[..., 3], fitted_out, style=opts.hair)
        if opts.hair_color is not None:
            hair.colour_srgb = tuple(int(c) for c in opts.hair_color)
        vis = visible_hair(rec, hair, fitted_out, rendered.shape[:2])
        if vis is not None:  # the hair's texture from the photo (de-lit with the skin's light)
            hair.texture = hair_texture(rec.rgb, rec.fit.camera, hair.mesh, parsing.mask("hair"), vis[0], vis[1].depth,
                                        texture.lighting.coeffs, opts.hair_color)
        rendered = composite_hair(rendered, rec, hair, fitted_out, None if hair.texture is None else hair.texture.lit, vis)
    with stages.stage("clothing"):
        from avatarforge.avatar import dress
        from avatarforge.fitting.garment_fit import composite_garments, fit_outfit, resolve_outfit

        outfit = resolve_outfit(outfit_request(opts.outfit), fit_outfit(rec.rgb, parsing, pose, rec.landmarks.points))
        worn = tuple((c.name, c.colour_srgb) for c in outfit)
        rendered = composite_garments(rendered, rec.fit.camera, fitted_out, dress(fitted_out, worn),
                                      [c for _, c in worn], hair.mesh)
    with stages.stage("rig"):
        values = dict(inf.values)
        pose_keys = [k for k in values if k.startswith("pose.")]
        if opts.keep_pose:
            if body_fit is not None:  # the photo's body pose (head included), the face fit's eyes
                values.update({k: v for k, v in body_fit.values.items()
                               if k.startswith("pose.") and not k.startswith("pose.eye.")})
        else:
            for k in pose_keys:
                values[k] = 0.0
            values.update(pose_preset(body, opts.pose, values))
        values.update({k: v for k, v in given.items() if k.startswith("pose.")})
        full = body.params.complete(values)
        image = None if texture is None else (texture.lit if opts.lit_texture else texture.albedo)
        from avatarforge.bodies.hair import build_hair

        output = body.forward_params(full)
        hair_mesh = None if hair.mesh is None else build_hair(output, hair.style)
        if hair_mesh is not None and len(hair_mesh.uvs) == len(hair.mesh.uvs):  # the photo pose's UVs (same grid)
            hair_mesh.uvs = hair.mesh.uvs
        from avatarforge.fitting.glasses_fit import fit_glasses

        glasses = fit_glasses(rec.rgb, parsing, output, opts.glasses)
        avatar = Avatar(body, full, opts.pose.lower(), output, image,
                        texture_lit=opts.lit_texture and image is not None, hair=hair_mesh, hair_srgb=hair.colour_srgb,
                        hair_texture=None if hair.texture is None else (hair.texture.lit if opts.lit_texture else hair.texture.albedo),
                        outfit=worn, garments=dress(output, worn), glasses=glasses.mesh,
                        glasses_srgb=glasses.colour_srgb)
        if opts.keep_pose and body_fit is not None:  # render_fitted shows the photo's body pose
            from avatarforge.pipeline.body_only import render_over_photo

            rendered = render_over_photo(avatar, body_fit)
    warnings = list(rec.warnings) + list(inf.warnings) + list(parsing.warnings) + list(hair.warnings)
    user_given = sorted(set(shape_only_user) | ({"height"} if opts.height_m else set())
                        | ({"weight"} if opts.weight_kg else set()))
    return CreateResult(rec, inf, texture, avatar, rendered, fidelity, warnings, body_fit, user_given, parsing, hair,
                        outfit, glasses=glasses, photo=rec.photo)


def outfit_request(text: str):
    """``CreateOptions.outfit`` parsed (``fitting.garment_fit.parse_outfit``); a bad value is a
    one-line UserInputError."""
    from avatarforge.errors import UserInputError
    from avatarforge.fitting.garment_fit import parse_outfit

    try:
        return parse_outfit(text)
    except ValueError as err:
        raise UserInputError(f"--outfit {text!r}: {err}") from None


#: Phenotypes taken from a full-body fit. Age and gender come from the face; stature is not
#: taken, because one uncalibrated photo does not fix absolute size (measured: ~20 cm errors on
#: synthetic renders) — pass --height when it matters.
BODY_SEEN = ("weight", "muscle", "proportions")


def _fit_full_body(rec, pose, parsing, stages: Stages):
    """Pose + shape from the visible body (shoulders, hips and knees seen), else None. The
    silhouette's coverage term counts only where the parsing shows skin (the body under the
    clothes: :data:`avatarforge.perception.body_parsing.TIGHT_LABELS`)."""
    from avatarforge.fitting.body_fit import fit_body
    from avatarforge.perception.body_parsing import TIGHT_LABELS
    from avatarforge.perception.pose import body_visible

    if pose is None or not body_visible(pose):
        return None
    tight = parsing.mask(*TIGHT_LABELS) if pose.mask is not None else None
    with stages.stage("fit body"):
        return fit_body(pose, rec.image_size, rec.body, tight=tight)


def _parsing_info(result: CreateResult) -> dict:
    """report.json's ``parsing`` (legend of parsing.png, what was detected, colours) and the
    head-silhouette IoU of render_fitted.png against the person mask (issue 14's measure)."""
    from avatarforge.perception.parsing import head_silhouette_iou

    p = result.parsing
    if p is None:
        return {}
    out = {"parsing": p.report()}
    if result.hair is not None:
        out["hair"] = result.hair.to_dict()
    if result.glasses is not None:
        out["glasses"] = result.glasses.to_dict()
    if result.render_fitted is not None:
        iou = head_silhouette_iou(result.render_fitted[..., 3], p.person, result.face.landmarks.points)
        out["head_silhouette_iou"] = round(iou, 4)
    return out


@single_threaded
def write_create_outputs(result: CreateResult, outdir: str | os.PathLike, report, stages: Stages | None = None,
                         force: bool = False, preview_size: int = 512, export=None) -> Path:
    """avatar.glb (and/or avatar.vrm, see ``export``: `export.settings.ExportSettings`), avatar.obj/.mtl/_texture.png, texture_lit.png, params.json, landmarks.json,
    render_fitted.png, fit_overlay.png, preview.png, preview_head.png, report.json — written
    atomically."""
    from PIL import Image

    from avatarforge.export.png import encode_png
    from avatarforge.outputs import file_sha256, write_fit_overlay, write_head_preview, write_outputs
    from avatarforge.pipeline.body_only import fullbody_info
    from avatarforge.pipeline.face import eyes_info, landmarks_json

    stages = stages or Stages()
    if result.face is None:  # no usable face: the avatar came from the body alone
        from avatarforge.pipeline.body_only import write_body_only_outputs

        return write_body_only_outputs(result, outdir, report, stages, force, preview_size, export)
    rec, inf = result.face, result.inference

    def extra_files(tmp: Path) -> None:
        with stages.stage("fit images"):
            (tmp / "landmarks.json").write_text(json.dumps(landmarks_json(rec)))
            write_fit_overlay(rec, tmp / "fit_overlay.png")
            if result.render_fitted is not None:
                Image.fromarray(result.render_fitted).save(tmp / "render_fitted.png")
            if result.parsing is not None:
                (tmp / "parsing.png").write_bytes(result.parsing.to_png())
            if result.texture is not None:  # the photo-lit texture beside the albedo in the GLB/OBJ
                (tmp / "texture_lit.png").write_bytes(encode_png(result.texture.lit))
        with stages.stage("head preview"):
            write_head_preview(result.avatar, tmp / "preview_head.png", size=min(preview_size, 256))

    report.warnings.extend(result.warnings)
    report.info.update({
        "input": {"path": str(rec.photo), "sha256": file_sha256(rec.photo), "size": list(rec.image_size)},
        "fit": {"rmse_px": round(rec.fit.rmse_px, 3), "seconds": round(rec.fit.seconds, 3)},
        "body": {"inferred": inf.inferred, "given": inf.given, "stature_m": round(inf.stature_m, 3),
                 "mass_kg": round(inf.mass_kg, 1), "head_rms_mm": round(inf.head_rms_mm, 3)},
        "render_fitted_face": {k: round(float(v), 3) for k, v in result.fidelity.get("lit", {}).items()},
        "render_fitted_face_relit_albedo": {k: round(float(v), 3)
                                            for k, v in result.fidelity.get("relit_albedo", {}).items()},
        "faces_found": int(rec.landmarks.n_faces_found),
        **_parsing_info(result),
        "outfit": [c.to_dict() for c in result.outfit],
        **eyes_info(rec),
        **fullbody_info(result, BODY_SEEN),
    })
    extra = {"camera": rec.fit.camera.to_dict(), "photo": str(rec.photo.resolve()), "image_size": list(rec.image_size),
             "fitted_pose": {k: v for k, v in rec.fit.values.items() if k.startswith("pose.")},
             "inferred": inf.inferred, "given": inf.given}
    return write_outputs(result.avatar, outdir, report, stages, force=force, preview_size=preview_size,
                         params_extra=extra, extra_files=extra_files, export=export)
