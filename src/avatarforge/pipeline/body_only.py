"""`create` without a usable face: a full-body photo whose face is hidden, turned away,
pixelated or too small still gives an avatar.

The shape and pose come from the body (:func:`avatarforge.fitting.body_fit.fit_body` on the
pose detector's landmarks, the silhouette's coverage term only where skin shows: see
:func:`avatarforge.perception.body_parsing.parse_body_photo`), the head from the body
model's defaults for that shape (no face fit, no photo texture), and a warning says so. The
skin is a plain texture in the tone of the photo's visible neck/arm/hand skin
(:func:`body_skin_texture`); the hair is short, in the colour of the parsed hair pixels
(:func:`body_hair`; ``--hair``/``--hair-color`` override). The photo is parsed from the pose alone (parsing.png).

Also :func:`render_over_photo`: the avatar, posed as in the photo, seen through the body
fit's camera (``render_fitted.png`` of full-body photos with ``--keep-pose``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from avatarforge.util.progress import Stages

__all__ = ["create_from_body", "render_over_photo", "write_body_only_outputs", "NO_FACE_WARNING", "body_skin_texture",
           "body_hair", "BODY_SKIN_LABELS", "DEFAULT_HAIR",
           "BODY_SHAPE_SEEN", "fullbody_info", "MIN_VISIBILITY", "shows_full_body"]

NO_FACE_WARNING = ("no usable face in the photo ({reason}): the avatar's shape and pose come from the body, "
                   "its head and face are the body model's defaults, and its skin is a plain texture in "
                   "the tone of the visible body skin")

#: Phenotypes taken from the body fit when there is no face to infer age and gender from
#: (with a face, :data:`avatarforge.pipeline.create.BODY_SEEN` takes fewer). Stature is not
#: taken (a single photo does not fix scale): pass --height.
BODY_SHAPE_SEEN = ("gender", "age", "weight", "muscle", "proportions")

MIN_VISIBILITY = 0.25
"""Visibility the shoulders, hips and knees need for the body-only path. Lower than the
face path's 0.5 (:data:`avatarforge.perception.pose.MIN_VISIBILITY`): in a back or side view
one knee hides behind the other (measured 0.31 on the Pose2Sim back view), and without a
face the body is all there is."""


def shows_full_body(pose) -> bool:
    """True when ``pose`` (a BodyPose or None) has a person mask and its shoulders, hips and
    knees are in the image with visibility above :data:`MIN_VISIBILITY`."""
    from avatarforge.perception.pose import body_visible

    return pose is not None and pose.mask is not None and body_visible(pose, MIN_VISIBILITY)


def create_from_body(photo: str | os.PathLike, opts, body, stages: Stages, face_error: Exception):
    """A :class:`~avatarforge.pipeline.create.CreateResult` (``face`` None) from the body alone.

    Raises ``face_error`` (the face detector's refusal) when the photo shows no full body
    either (no person, or the shoulders, hips and knees not all visible), and
    :class:`~avatarforge.errors.UserInputError` for bad options.
    """
    from avatarforge.avatar import Avatar
    from avatarforge.bodies import pose_preset
    from avatarforge.fitting.body_fit import BodyFitConfig, fit_body
    from avatarforge.fitting.body_from_head import infer_body
    from avatarforge.perception.body_parsing import TIGHT_LABELS, parse_body_photo
    from avatarforge.perception.image_io import load_image
    from avatarforge.perception.pose import detect_pose
    from avatarforge.pipeline.create import CreateResult
    from avatarforge.pipeline.face import resolve_body

    with stages.stage("read photo"):
        image = load_image(photo)
    with stages.stage("detect body"):
        pose = detect_pose(image.rgb)
    if not shows_full_body(pose):
        raise face_error
    size = (int(image.rgb.shape[1]), int(image.rgb.shape[0]))
    with stages.stage("load body model"):
        body = resolve_body(body)
    given = body.params.validate(opts.given)
    with stages.stage("parse photo"):
        parsing = parse_body_photo(image.rgb, pose)
    with stages.stage("fit body"):
        fit = fit_body(pose, size, body, BodyFitConfig(min_visibility=MIN_VISIBILITY), tight=parsing.mask(*TIGHT_LABELS))
    with stages.stage("infer body"):
        shape_user = {k: v for k, v in given.items() if not k.startswith("pose.")}
        fit_shape = {k: v for k, v in fit.values.items() if not k.startswith("pose.")}
        seen = {k: fit.values[k] for k in BODY_SHAPE_SEEN if k in fit.values and k not in shape_user
                and not (k == "weight" and opts.weight_kg)}
        # The head target is the body fit's own (default) head: only the stature/mass targets move it.
        inf = infer_body(body, fit_shape, {**seen, **shape_user}, opts.height_m, opts.weight_kg)
        inf.inferred = [k for k in inf.inferred if k not in seen]  # measured, not inferred or given
        inf.given = [k for k in inf.given if k not in seen]
    with stages.stage("rig"):
        shape = {k: v for k, v in inf.values.items() if not k.startswith("pose.")}
        photo_pose = {k: v for k, v in fit.values.items() if k.startswith("pose.")}
        values = {**shape, **(photo_pose if opts.keep_pose else pose_preset(body, opts.pose, shape))}
        values.update({k: v for k, v in given.items() if k.startswith("pose.")})
        full = body.params.complete(values)
        from avatarforge.avatar import dress
        from avatarforge.fitting.garment_fit import fit_outfit, resolve_outfit
        from avatarforge.pipeline.create import outfit_request

        outfit = resolve_outfit(outfit_request(opts.outfit), fit_outfit(image.rgb, parsing, pose))
        worn = tuple((c.name, c.colour_srgb) for c in outfit)
        output = body.forward_params(full)
    with stages.stage("skin and hair"):
        skin, texture = body_skin_texture(image.rgb, parsing, body, output, opts.texture_size)
        style, hair_srgb, hair_source = body_hair(image.rgb, parsing, pose, opts.hair, opts.hair_color)
        from avatarforge.bodies.hair import build_hair

        hair = None if style is None else build_hair(output, style)
    with stages.stage("rig: avatar"):
        avatar = Avatar(body, full, opts.pose.lower(), output, texture, hair=hair, hair_srgb=hair_srgb,
                        outfit=worn, garments=dress(output, worn))
        posed = avatar if opts.keep_pose else _posed_like(avatar, photo_pose)
        rendered = render_over_photo(posed, fit)
    reason = str(face_error).split(":")[0].strip() or "no face found"
    warnings = [NO_FACE_WARNING.format(reason=reason)] + [w for w in pose.warnings if "not all visible" not in w] + list(inf.warnings) + list(parsing.warnings)
    user_given = sorted(set(shape_user) | ({"height"} if opts.height_m else set())
                        | ({"weight"} if opts.weight_kg else set()))
    look = {"skin": {"srgb": [int(c) for c in skin.srgb], "pixels": skin.n_texels,
                     "source": "photo body skin" if skin.n_texels else "default"},
            "hair": {"style": "bald" if style is None else style.spec, "colour_srgb": list(hair_srgb), "source": hair_source}}
    return CreateResult(None, inf, None, avatar, rendered, {}, warnings, fit, user_given, parsing, None, outfit,
                        photo=Path(photo), body_look=look)


#: Labels whose pixels give a face-less avatar its skin tone (:func:`body_skin_texture`).
BODY_SKIN_LABELS = ("body_skin", "hands", "face_skin")
#: Hair of a face-less avatar where the photo shows none (:func:`body_hair`).
DEFAULT_HAIR = ("short", (60, 45, 35))


def body_skin_texture(rgb: np.ndarray, parsing, body, output, size: int = 1024):
    """``(SkinTone, (S, S, 3) uint8 albedo)``: the plain texture (:func:`avatarforge.texture.plain.plain_texture`,
    ``size`` texels square) in the robust tone of the photo's parsed neck, arm, hand (and
    face) skin pixels; the default tone when fewer than 20 show."""
    from avatarforge.texture.plain import photo_skin_tone, plain_texture

    skin = photo_skin_tone(rgb, parsing.mask(*BODY_SKIN_LABELS))
    return skin, plain_texture(body, output, skin, size=size)


def body_hair(rgb: np.ndarray, parsing, pose, style: str | None = None, colour=None):
    """``(HairStyle or None for bald, sRGB, colour source)`` of a face-less photo: ``style`` (a ``--hair`` text)
    or :data:`DEFAULT_HAIR`'s style (the head of a body-only parsing is too small to tell hair
    lengths apart); ``colour`` or the parsed hair pixels' colour
    (:func:`avatarforge.fitting.hair_fit.hair_colour`, its head region from the pose's face
    points), or :data:`DEFAULT_HAIR`'s colour when fewer than 20 show."""
    from avatarforge.bodies.hair import HairStyle
    from avatarforge.errors import UserInputError
    from avatarforge.fitting.hair_fit import hair_colour

    try:
        hs = HairStyle.parse(style or DEFAULT_HAIR[0])
    except ValueError as e:
        raise UserInputError(str(e)) from None
    hair_px = parsing.mask("hair")
    if colour is not None:
        srgb, source = tuple(int(c) for c in colour), "given"
    elif hair_px.sum() >= 20:
        srgb, source = hair_colour(rgb, hair_px, np.asarray(pose.points)[:11]), "photo"  # nose, eyes, ears, mouth
    else:
        srgb, source = DEFAULT_HAIR[1], "default"
    return (None if hs.style == "bald" else hs), srgb, source


def _posed_like(avatar, photo_pose: dict[str, float]):
    """The avatar (same shape, same hair) in the photo's pose."""
    from avatarforge.avatar import Avatar

    values = {**{k: v for k, v in avatar.values.items() if not k.startswith("pose.")}, **photo_pose}
    full = avatar.body.params.complete(values)
    out = avatar.body.forward_params(full)
    hair = None
    if avatar.hair is not None:
        from avatarforge.bodies.hair import build_hair

        hair = build_hair(out, avatar.hair.style)
    from avatarforge.avatar import dress

    return Avatar(avatar.body, full, avatar.pose_preset, out, avatar.texture, avatar.texture_lit, hair, avatar.hair_srgb,
                  outfit=avatar.outfit, garments=dress(out, avatar.outfit))


def render_over_photo(avatar, fit) -> np.ndarray:
    """(H, W, 4) uint8 of the photo's size: ``avatar`` (posed as in the photo: its output's
    pose is used as it is) seen through the body fit's camera, Lambert-shaded, transparent
    around it.

    The avatar's shape may differ from the fit's (the face chose age, gender and stature):
    its mesh is first moved onto the fitted body by the similarity that best aligns their
    posed joints, so the render lies over the person in the photo whatever the stature.
    """
    from avatarforge.render import render_mesh
    from avatarforge.util.geometry import umeyama

    body = avatar.body
    fitted = body.forward_params(fit.values)
    out = avatar.output
    src = out.joints[0].detach().numpy().astype(np.float64)
    dst = fitted.joints[0].detach().numpy().astype(np.float64)
    R, t, s = umeyama(src, dst)
    v, f, tex, uvs, uvf = avatar.render_arrays()
    v = s * np.asarray(v, np.float64) @ R.T + t
    cam = fit.camera
    if tex is None:
        res = render_mesh(v, f, cam, base_color=(0.80, 0.62, 0.52), background=(0, 0, 0, 0))
    else:
        res = render_mesh(v, f, cam, texture=tex, uvs=uvs, uv_faces=uvf, background=(0, 0, 0, 0))
    return np.ascontiguousarray(res.rgba)


def fullbody_info(result, seen: tuple[str, ...]) -> dict:
    """report.json's ``full_body``: the body fit's errors, what was taken from it, the
    silhouette IoU of ``render_fitted.png`` against the person mask."""
    fit = result.body_fit
    if fit is None:
        return {"full_body": None}
    info = {"rmse_px": round(fit.rmse_px, 2), "silhouette_iou": round(fit.silhouette_iou, 3),
            "taken_from_body": [k for k in seen if k not in result.user_given]}
    if result.render_fitted is not None and result.parsing is not None:
        alpha = result.render_fitted[..., 3] > 127
        person = result.parsing.person > 0.5
        if alpha.shape == person.shape:
            info["render_fitted_silhouette_iou"] = round(float((alpha & person).sum() / max((alpha | person).sum(), 1)), 4)
    return {"full_body": info}


def write_body_only_outputs(result, outdir: str | os.PathLike, report, stages: Stages | None = None,
                            force: bool = False, preview_size: int = 512, export=None) -> Path:
    """The output set of :func:`create_from_body`: the avatar's files (see
    :func:`avatarforge.outputs.write_outputs`), render_fitted.png, parsing.png, report.json
    (``face``: null; ``full_body``) -- atomically. No landmarks.json, fit_overlay.png or
    texture_lit.png: there is no face fit or photo texture."""
    from PIL import Image

    from avatarforge.outputs import file_sha256, write_head_preview, write_outputs

    stages = stages or Stages()
    inf, fit = result.inference, result.body_fit

    def extra_files(tmp: Path) -> None:
        with stages.stage("fit images"):
            if result.render_fitted is not None:
                Image.fromarray(result.render_fitted).save(tmp / "render_fitted.png")
            if result.parsing is not None:
                (tmp / "parsing.png").write_bytes(result.parsing.to_png())
        with stages.stage("head preview"):
            write_head_preview(result.avatar, tmp / "preview_head.png", size=min(preview_size, 256))

    src = Path(result.photo)
    report.warnings.extend(result.warnings)
    report.info.update({
        "input": {"path": str(src), "sha256": file_sha256(src), "size": [fit.camera.width, fit.camera.height]},
        "face": None,
        "body": {"inferred": inf.inferred, "given": inf.given, "stature_m": round(inf.stature_m, 3),
                 "mass_kg": round(inf.mass_kg, 1), "source": "body"},
        "parsing": result.parsing.report() if result.parsing is not None else None,
        "outfit": [c.to_dict() for c in result.outfit],
        **(result.body_look or {}),
        **fullbody_info(result, BODY_SHAPE_SEEN),
    })
    extra = {"camera": fit.camera.to_dict(), "photo": str(src.resolve()), "image_size": [fit.camera.width, fit.camera.height],
             "fitted_pose": {k: v for k, v in fit.values.items() if k.startswith("pose.")},
             "inferred": inf.inferred, "given": inf.given, "source": "body"}
    return write_outputs(result.avatar, outdir, report, stages, force=force, preview_size=preview_size,
                         params_extra=extra, extra_files=extra_files, export=export)
