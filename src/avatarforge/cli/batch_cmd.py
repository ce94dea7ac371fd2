"""`avatarforge batch INPUT_DIR_OR_GLOB -o OUTDIR`: many photos, one avatar folder each."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

__all__ = ["register"]


def batch(
    source: str = typer.Argument(..., help="A folder of photos, or a glob pattern such as 'photos/*.jpg'."),
    out: Path = typer.Option(..., "-o", "--out", help="Output folder: one sub-folder per photo + batch_report.json."),
    workers: int = typer.Option(1, "--workers", "-j", min=1, max=64, help="Parallel worker processes on this machine."),
    ray: Optional[str] = typer.Option(None, "--ray", help="Run on a Ray cluster at ADDRESS ('local' starts one here); needs avatarforge[dist]."),
    force: bool = typer.Option(False, "--force", help="Redo photos that are already done."),
    pose: str = typer.Option("a", "--pose", help="Export rest pose: a, t or relaxed."),
    texture_size: int = typer.Option(1024, "--texture-size", min=256, max=4096, help="Texture resolution."),
    preview_size: int = typer.Option(512, "--preview-size", min=64, max=4096, help="Height of each preview view."),
    face_index: Optional[int] = typer.Option(None, "--face-index", min=0, help="Which face in every photo (0 = largest; see `avatarforge faces`)."),
) -> None:
    """Create an avatar for every photo; a failed photo is recorded in batch_report.json and the
    batch goes on. Exit code 0 when every photo is done (or was already done), exit code 1 when
    any photo failed, 2 for bad input."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from avatarforge.bodies import POSE_PRESETS
    from avatarforge.errors import UserInputError
    from avatarforge.pipeline.batch import find_photos, plan_batch, run_batch
    from avatarforge.util.atomic import check_writable_dir

    if pose.lower() not in POSE_PRESETS:
        raise UserInputError(f"unknown pose {pose!r}: choose one of {', '.join(POSE_PRESETS)}")
    photos = find_photos(source)
    out = out.absolute()
    if out.exists() and not out.is_dir():
        raise UserInputError(f"output {out} exists and is not a directory: choose another with -o")
    check_writable_dir(out)
    items = plan_batch(photos, out, force)
    options = {"pose": pose, "texture_size": texture_size, "preview_size": preview_size, "face_index": face_index}
    console = Console(stderr=True)
    with Progress(TextColumn("[bold]batch"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TextColumn("{task.description}"), console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("", total=len(items), completed=sum(it.status == "skipped" for it in items))

        def progress(item):
            bar.update(task, advance=1, description=f"{Path(item.photo).name}: {item.status}")

        summary = run_batch(items, options, out / "batch_report.json", workers=workers, ray_address=ray,
                            force=force, progress=progress)
    c = summary["counts"]
    failed = f"; exit code 1: {c['failed']} photo(s) failed" if c["failed"] else ""
    typer.echo(f"batch: {c['done']} done, {c['failed']} failed, {c['skipped']} skipped "
               f"({summary['photos_per_minute']} photos/min); report: {out / 'batch_report.json'}{failed}")
    for it in summary["items"]:
        if it["status"] == "failed":
            typer.echo(f"failed: {Path(it['photo']).name}: {it['error']}", err=True)
    if c["failed"]:
        raise typer.Exit(code=1)  # scripts must see the failure; the report says which photos


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)
