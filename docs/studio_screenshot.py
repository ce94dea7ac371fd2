"""Regenerate docs/studio.png: the studio after creating an avatar from examples/astronaut.jpg
from the page (upload -> create -> result), with the smile preset applied.

    PYTHONPATH=src .venv/bin/python docs/studio_screenshot.py [--out docs/studio.png]

Needs the studio extra (viser), playwright and a system chromium.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "studio.png")
    args = ap.parse_args()
    from PIL import Image

    from avatarforge.dev.studio_browser import chromium_context, open_folder, slider_thumb
    from avatarforge.studio import StudioConfig, StudioServer

    server = StudioServer(StudioConfig(outdir=Path(tempfile.mkdtemp(prefix="studio-shot-")), port=0))
    server.start()
    try:
        with chromium_context(1280, 760) as ctx:
            page = ctx.new_page()
            page.goto(server.url)
            slider_thumb(page, "weight").wait_for(timeout=60_000)
            session = max(server.sessions.values(), key=lambda s: s.client.client_id)
            page.locator("input[type=file]").first.set_input_files(str(ROOT / "examples" / "astronaut.jpg"))
            end = time.monotonic() + 300
            while not session.state.source.startswith("created") and time.monotonic() < end:
                time.sleep(0.5)
            session.controls.expression_preset.value = "smile"  # as choosing it in the dropdown
            open_folder(page, "Expression")
            for close in page.locator("button.mantine-Notification-closeButton, .mantine-Notification-root button").all():
                try:
                    close.click(timeout=1000)
                except Exception:  # noqa: BLE001 - a notification that closed by itself
                    pass
            time.sleep(4)
            png = page.screenshot()
    finally:
        server.stop()
    img = Image.open(io.BytesIO(png)).convert("RGB")
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
