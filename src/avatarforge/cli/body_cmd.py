"""`avatarforge body` (build a body from parameters) and `avatarforge params` (list them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from avatarforge.cli import export_opts as eo

__all__ = ["register"]


def body(
    out: Path = typer.Option(..., "-o", "--out", help="Output directory (created; refused if it holds an avatar unless --force)."),
    set_: list[str] = typer.Option([], "--set", help="NAME=VALUE, repeatable; see `avatarforge params`."),
    pose: str = typer.Option("a", "--pose", help="Export pose: a, t or relaxed."),
    params: Optional[Path] = typer.Option(None, "--params", help="Start from a params.json (or a folder holding one)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
    preview_size: int = typer.Option(512, "--preview-size", min=64, max=4096, help="Height in pixels of each preview view."),
    outfit: str = typer.Option("none", "--outfit", help="Clothing: none (bare body), auto (a neutral outfit), or garments "
                               "joined by '+', each optionally :#RRGGBB (see `create --help`)."),
    format_: str = eo.FORMAT,
    skeleton_names: str = eo.SKELETON_NAMES,
    texture_atlas: bool = eo.TEXTURE_ATLAS,
    visemes: bool = eo.VISEMES,
    morph_normals: bool = eo.MORPH_NORMALS,
    lod: bool = eo.LOD,
    compress: bool = eo.COMPRESS,
    toon: bool = eo.TOON,
) -> None:
    """Build a body from parameters and write GLB (and/or VRM), OBJ, params.json, preview.png, report.json."""
    from avatarforge.avatar import build_avatar
    from avatarforge.bodies import ParamSet, ParamsFile, load_body
    from avatarforge.errors import UserInputError
    from avatarforge.outputs import Report, write_outputs
    from avatarforge.util.atomic import check_output_dir
    from avatarforge.util.progress import Stages

    from avatarforge.pipeline.create import outfit_request

    export = eo.export_settings(format_, skeleton_names, texture_atlas, visemes, morph_normals, lod, compress, toon)
    wanted = outfit_request(outfit)
    check_output_dir(out, force)
    from avatarforge.bodies.anny_loader import anny_cache_dir, is_anny_built

    report = Report(command="body")
    first = not is_anny_built()
    with Stages.for_terminal(total=7) as stages:
        if first:
            typer.echo(f"first run: building the body model into {anny_cache_dir()} (~1-2 min, ~1.2 GB, once)", err=True)
        with stages.stage("load body model"):
            model = load_body()
        values: dict[str, float] = {}
        if params is not None:
            pf = ParamsFile.read(params)
            if pf.backend != model.name:
                raise UserInputError(f"{params} is for backend {pf.backend!r}, not {model.name!r}")
            values.update(pf.values)
        values.update(ParamSet.parse_assignments(set_))
        with stages.stage("build"):
            avatar = build_avatar(values, pose=pose, body=model)
            if wanted != []:  # auto (no photo): the neutral outfit
                from avatarforge.avatar import dress
                from avatarforge.fitting.garment_fit import resolve_outfit

                worn = resolve_outfit(wanted, None)
                avatar.outfit = tuple((c.name, c.colour_srgb) for c in worn)
                avatar.garments = dress(avatar.output, avatar.outfit)
                report.info["outfit"] = [c.to_dict() for c in worn]
        report.info["given"] = sorted(ParamSet.parse_assignments(set_))
        report.info["pose"] = avatar.pose_preset
        write_outputs(avatar, out, report, stages, force=force, preview_size=preview_size, export=export)
    typer.echo(f"wrote {out}")


def params(
    group: Optional[str] = typer.Option(None, "--group", help="Only this group: phenotype, local, expression, pose."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List every body parameter with its group, range and default."""
    from avatarforge.bodies import load_body
    from avatarforge.errors import UserInputError

    model = load_body()
    if group is not None and group not in model.params.groups():
        raise UserInputError(f"unknown group {group!r}: choose one of {', '.join(model.params.groups())}")
    specs = [s for s in model.params if group is None or s.group == group]
    if as_json:
        typer.echo(json.dumps([s.to_dict() for s in specs], indent=1))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "group", "region", "range", "default", "doc", box=None)
    for s in specs:
        table.add_row(s.name, s.group, s.region, f"[{s.low:g}, {s.high:g}]{' ' + s.unit if s.unit else ''}",
                      f"{s.default:g}", s.doc)
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("body")(body)
    app.command("params")(params)
