"""`avatarforge create PHOTO -o OUTDIR`: the main job."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from avatarforge.cli import export_opts as eo

__all__ = ["register", "body_overrides", "check_photo"]


def body_overrides(gender: Optional[str], age: Optional[float], muscle: Optional[float],
                   sets: list[str]) -> dict[str, float]:
    """User-given body values from the friendly flags (+ raw --set NAME=VALUE)."""
    from avatarforge.bodies import ParamSet
    from avatarforge.errors import UserInputError
    from avatarforge.fitting.body_from_head import age_param_from_years

    given: dict[str, float] = dict(ParamSet.parse_assignments(sets))
    if gender is not None:
        words = {"male": 0.0, "man": 0.0, "m": 0.0, "female": 1.0, "woman": 1.0, "f": 1.0}
        key = gender.strip().lower()
        try:
            given["gender"] = words[key] if key in words else float(key)
        except ValueError:
            raise UserInputError(f"--gender takes male, female or a number in [0, 1] (0 = male), got {gender!r}") from None
    if age is not None:
        if not 1 <= age <= 90:
            raise UserInputError(f"--age is in years, between 1 and 90, got {age:g}")
        given["age"] = age_param_from_years(age)
    if muscle is not None:
        given["muscle"] = muscle
    return given


def create(
    photo: Path = typer.Argument(..., help="A photo with a face, or a full-body photo (JPEG, PNG, WebP, BMP, TIFF)."),
    out: Path = typer.Option(..., "-o", "--out", help="Output directory (refused if it holds an avatar unless --force)."),
    pose: str = typer.Option("a", "--pose", help="Export rest pose: a, t or relaxed."),
    keep_pose: bool = typer.Option(False, "--keep-pose", help="Keep the photo's pose (the body's on full-body photos; head and eyes always)."),
    gender: Optional[str] = typer.Option(None, "--gender", help="male, female, or 0..1 (0 = male)."),
    age: Optional[float] = typer.Option(None, "--age", help="Age in years (1-90)."),
    height: Optional[float] = typer.Option(None, "--height", min=0.4, max=2.6, help="Stature in metres, e.g. 1.78."),
    weight: Optional[float] = typer.Option(None, "--weight", min=3, max=300, help="Mass in kilograms."),
    muscle: Optional[float] = typer.Option(None, "--muscle", min=0, max=1, help="Muscle, 0..1."),
    set_: list[str] = typer.Option([], "--set", help="NAME=VALUE for any parameter (see `avatarforge params`)."),
    texture_size: int = typer.Option(1024, "--texture-size", min=256, max=4096, help="Texture resolution."),
    face_index: Optional[int] = typer.Option(None, "--face-index", min=0, help="Which face when there are several (0 = largest)."),
    preview_size: int = typer.Option(512, "--preview-size", min=64, max=4096, help="Height of each preview view."),
    eye_net: bool = typer.Option(True, "--eye-net/--no-eye-net", help="Place the irises with the eye network (else the detector's)."),
    hair: str = typer.Option("auto", "--hair", help="Hair: auto (from the photo), or bald, buzz, short, medium, long, ponytail, bun, "
                                    "optionally +curly, +straight, +fringe, +part-left/-centre/-right (e.g. long+curly); auto+MOD keeps the "
                                    "photo's style with modifiers (e.g. auto+straight, auto+fringe)."),
    hair_color: Optional[str] = typer.Option(None, "--hair-color", help="Hair colour as #RRGGBB (default: the photo's)."),
    outfit: str = typer.Option("auto", "--outfit", help="Clothing: auto (from the photo; neutral where unseen), none "
                               "(bare body), or garments joined by '+', each optionally :#RRGGBB, e.g. "
                               "tshirt:#c03030+jeans+shoes. Garments: tshirt, longsleeve, shirt, jacket, trousers, "
                               "shorts, skirt, dress, shoes."),
    glasses: str = typer.Option("keep", "--glasses", help="keep: a glasses mesh in the photo's frame colour when the photo shows glasses; remove: none."),
    lit_texture: bool = typer.Option(False, "--lit-texture", help="Export the photo-lit texture (the photo's light baked in) instead of the de-lit albedo."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
    backend: str = typer.Option("anny", "--backend", help="anny (embedded) or smplx (research: DECA/FLAME -> SMPL-X, licensed assets)."),
    assets: Optional[Path] = typer.Option(None, "--assets", help="Research assets folder for --backend smplx (default: $AVATARFORGE_ASSETS)."),
    format_: str = eo.FORMAT,
    skeleton_names: str = eo.SKELETON_NAMES,
    texture_atlas: bool = eo.TEXTURE_ATLAS,
    visemes: bool = eo.VISEMES,
    morph_normals: bool = eo.MORPH_NORMALS,
    lod: bool = eo.LOD,
    compress: bool = eo.COMPRESS,
    toon: bool = eo.TOON,
) -> None:
    """Photo -> personalised, textured, rigged avatar (GLB and/or VRM, OBJ, params, previews, report)."""
    if backend != "anny":  # research backends live in their own module
        export = eo.export_settings(format_, skeleton_names, texture_atlas, visemes, morph_normals, lod, compress, toon)
        from avatarforge.cli.research_cmd import create_research

        ignored = [n for n, v in (("--gender", gender), ("--age", age), ("--height", height), ("--weight", weight),
                                  ("--muscle", muscle), ("--keep-pose", keep_pose)) if v]
        if export != type(export)():
            from avatarforge.errors import UserInputError

            raise UserInputError("the export flags (--format, --skeleton-names, --texture-atlas, --no-visemes, --no-morph-normals, --lod, "
                                 "--compress, --toon) need --backend anny")
        return create_research(photo, out, backend, assets, pose, face_index, texture_size, preview_size, force, ignored,
                               set_)
    from concurrent.futures import ThreadPoolExecutor

    # Bad input fails fast: bad flags, a file that is not a usable photo, or a photo without a
    # usable face are refused before torch and the body model load (seconds), not after.
    _hair_flags(hair, hair_color)
    if outfit.strip().lower() != "auto":  # (the garments' module imports torch: not for the default)
        from avatarforge.pipeline.create import outfit_request

        outfit_request(outfit)
    _glasses_flag(glasses)
    check_photo(photo, face_index)
    export = eo.export_settings(format_, skeleton_names, texture_atlas, visemes, morph_normals, lod, compress, toon)
    # The body model (and torch with it, ~2.5 s) loads in a background thread, while this
    # thread reads the photo, detects the face and runs the eye network.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-body")
    body = pool.submit(_load_body)
    try:
        _create(photo, out, pose, keep_pose, gender, age, height, weight, muscle, set_, texture_size, face_index,
                preview_size, eye_net, lit_texture, force, body, export, hair, hair_color, outfit, glasses)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def check_photo(photo: Path, face_index: Optional[int] = None) -> None:
    """Raise :class:`~avatarforge.errors.UserInputError` unless ``photo`` decodes as an image
    with a face the landmark model accepts (and ``face_index`` exists), or, without a usable
    face, shows a full body (the avatar then comes from the body). Needs only Pillow and
    MediaPipe (~1 s with their imports), never torch."""
    from avatarforge.errors import UserInputError
    from avatarforge.perception import load_image, load_mediapipe

    image = load_image(photo)  # missing, not an image, truncated, too large: milliseconds
    load_mediapipe()
    from avatarforge.perception.face import face_landmarks

    try:
        face_landmarks(image.rgb, face_index=face_index)  # no face / unusable face / bad index
    except UserInputError:
        from avatarforge.perception.pose import detect_pose
        from avatarforge.pipeline.body_only import shows_full_body

        if face_index is not None or not shows_full_body(detect_pose(image.rgb)):
            raise


def _hair_flags(hair: str, hair_color: Optional[str]) -> Optional[tuple[int, int, int]]:
    """Validate --hair / --hair-color; the colour as (r, g, b) or None. The default ``auto``
    needs no look-up (the styles' module imports torch, which the fast error path avoids)."""
    if hair != "auto":
        from avatarforge.bodies.hair import HairStyle
        from avatarforge.errors import UserInputError

        name, *mods = hair.lower().split("+")
        try:  # auto+MOD: the photo's style with modifiers
            HairStyle.parse("+".join(["short", *mods]) if name.strip() == "auto" and mods else hair)
        except ValueError as e:
            raise UserInputError(f"--hair: {e} (or auto, auto+MOD)") from None
    return parse_hex_colour(hair_color, "--hair-color") if hair_color is not None else None


def _glasses_flag(glasses: str) -> str:
    """Validate --glasses (keep or remove) without importing the fitting stage."""
    from avatarforge.errors import UserInputError

    if glasses not in ("keep", "remove"):
        raise UserInputError(f"unknown --glasses {glasses!r}: choose keep or remove")
    return glasses


def _load_body():
    from avatarforge.bodies import load_body

    return load_body()


def _create(photo, out, pose, keep_pose, gender, age, height, weight, muscle, set_, texture_size, face_index,
            preview_size, eye_net, lit_texture, force, body, export=None, hair="auto", hair_color=None,
            outfit="auto", glasses="keep") -> None:
    from avatarforge.outputs import Report
    from avatarforge.pipeline.create import CREATE_STAGES, CreateOptions, create_avatar, write_create_outputs
    from avatarforge.util.atomic import check_output_dir
    from avatarforge.util.progress import Stages

    from avatarforge.bodies import POSE_PRESETS
    from avatarforge.errors import UserInputError

    if pose.lower() not in POSE_PRESETS:
        raise UserInputError(f"unknown pose {pose!r}: choose one of {', '.join(POSE_PRESETS)}")
    rgb = _hair_flags(hair, hair_color)
    check_output_dir(out, force)
    given = body_overrides(gender, age, muscle, set_)
    from avatarforge.bodies.anny_loader import anny_cache_dir, is_anny_built

    if not is_anny_built():
        typer.echo(f"first run: building the body model into {anny_cache_dir()} (~1-2 min, ~1.2 GB, once)", err=True)
    report = Report(command="create")
    opts = CreateOptions(pose=pose, keep_pose=keep_pose, given=given, height_m=height, weight_kg=weight,
                         face_index=face_index, texture_size=texture_size, preview_size=preview_size,
                         eye_net=eye_net, lit_texture=lit_texture, hair=None if hair == "auto" else hair, hair_color=rgb,
                         outfit=outfit, glasses=_glasses_flag(glasses))
    with Stages.for_terminal(total=CREATE_STAGES) as stages:
        result = create_avatar(photo, opts, body=body, stages=stages)
        write_create_outputs(result, out, report, stages, force=force, preview_size=preview_size, export=export)
    for w in result.warnings:
        typer.echo(f"warning: {w}", err=True)
    typer.echo(f"wrote {out}")


def parse_hex_colour(text: str, flag: str) -> tuple[int, int, int]:
    """``#RRGGBB`` (or ``RRGGBB``) -> (r, g, b) 0-255; a clear error otherwise."""
    from avatarforge.errors import UserInputError

    t = text.strip().lstrip("#")
    if len(t) != 6 or any(c not in "0123456789abcdefABCDEF" for c in t):
        raise UserInputError(f"{flag} takes a colour as #RRGGBB (e.g. #3b2a1e), got {text!r}")
    return int(t[0:2], 16), int(t[2:4], 16), int(t[4:6], 16)


def register(app: typer.Typer) -> None:
    app.command("create")(create)
