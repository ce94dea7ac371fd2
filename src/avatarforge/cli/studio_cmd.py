"""`avatarforge studio [AVATAR_DIR]`: the browser GUI, served on this machine."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

__all__ = ["register"]


def studio(
    avatar_dir: Optional[Path] = typer.Argument(None, help="Avatar folder to open (holds params.json)."),
    out: Optional[Path] = typer.Option(None, "-o", "--out",
                                       help="Where exports, created avatars and expressions go "
                                            "(default: AVATAR_DIR/studio, else ./studio-out)."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="Port (the next free one if busy)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to bind; 0.0.0.0 exposes the studio to the network."),
    texture_size: int = typer.Option(1024, "--texture-size", min=256, max=4096,
                                     help="Texture resolution of avatars created from the page."),
) -> None:
    """Open the studio: a 3D view with sliders for every body parameter, expressions, poses,
    create-from-photo and export (GLB, OBJ, params.json)."""
    from avatarforge.bodies.anny_loader import anny_cache_dir, is_anny_built
    from avatarforge.errors import UserInputError, require

    require("viser", "studio")
    from avatarforge.studio.server import StudioConfig, StudioServer

    if avatar_dir is not None and not (avatar_dir / "params.json").is_file():
        raise UserInputError(f"{avatar_dir} holds no params.json: pass a folder written by create or body")
    outdir = out if out is not None else (avatar_dir / "studio" if avatar_dir is not None else Path("studio-out"))
    if not is_anny_built():
        typer.echo(f"first run: building the body model into {anny_cache_dir()} (~1-2 min, ~1.2 GB, once)", err=True)
    server = StudioServer(StudioConfig(outdir=outdir, avatar_dir=avatar_dir, host=host, port=port,
                                       texture_size=texture_size))
    url = server.start()
    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo(f"warning: serving on {host}: anyone who can reach this machine can use the studio", err=True)
    typer.echo(f"avatarforge studio: {url}  (files go to {server.config.outdir}; Ctrl-C to stop)")
    server.serve_forever()


def register(app: typer.Typer) -> None:
    app.command("studio")(studio)
