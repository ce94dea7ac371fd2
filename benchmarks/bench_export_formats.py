"""Export formats: validator issues, file sizes, LOD sizes, and the VRM in three-vrm (Chromium).

    .venv/bin/python benchmarks/bench_export_formats.py PHOTO --sizes 1024 2048 --out /tmp/bench-export

Runs ``avatarforge create PHOTO --format glb,vrm --lod --compress --texture-size N --hair long``
per size, and once more with ``--toon`` (avatar_toon.vrm), validates every .glb/.vrm with the
Khronos validator, loads avatar.vrm with @pixiv/three-vrm in headless Chromium (the test page
tests/export/web/viewer.html; load time = median of 3), sets ``aa`` and ``blink`` and counts
the changed pixels, counts the spring joints and how far the hair tails lag a 23-degree nod
(default stiffness vs 1000), loads the toon VRM (MToon materials, pixels changed against the
plain one) and saves the frames as PNGs in --out. Prints a table, writes
benchmarks/results/export_formats.json (``--results``); asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import http.server
import json
import statistics
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "tests" / "export" / "web" / "viewer.html"
NODE_MODULES = REPO / "tools" / "node_modules"


def _serve(folder: Path) -> http.server.ThreadingHTTPServer:
    class Handler(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path: str) -> str:
            path = path.split("?", 1)[0]
            if path.startswith("/node_modules/"):
                return str(NODE_MODULES / path[len("/node_modules/"):])
            if path.startswith("/files/"):
                return str(folder / path[len("/files/"):])
            return str(PAGE)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _png(url: str) -> bytes:
    return base64.b64decode(url.split(",", 1)[1])


def browser_figures(folder: Path, shots: Path, tag: str) -> dict:
    import io

    from PIL import Image

    from avatarforge.dev.studio_browser import chromium_context

    server = _serve(folder)
    try:
        with chromium_context(600, 600) as ctx:
            page = ctx.new_page()
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
            page.wait_for_function("window.ready === true")
            runs = [page.evaluate("window.loadAvatar('/files/avatar.vrm')") for _ in range(3)]
            got = runs[-1]
            eyes = np.add(page.evaluate("window.bonePosition('leftEye')"), page.evaluate("window.bonePosition('rightEye')")) / 2
            target = [eyes[0], eyes[1] - 0.04, eyes[2]]
            frames = {}
            for name, expr in (("neutral", {}), ("aa", {"aa": 1.0}), ("blink", {"blink": 1.0}),
                               ("aa_blink", {"aa": 1.0, "blink": 1.0})):
                png = _png(page.evaluate("([t, d, e]) => window.renderView(t, d, e)", [target, 0.9, expr]))
                (shots / f"{tag}_vrm_{name}.png").write_bytes(png)
                frames[name] = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), np.int16)
            head = page.evaluate("window.bonePosition('head')")
            (shots / f"{tag}_vrm_body.png").write_bytes(
                _png(page.evaluate("([t, d, e]) => window.renderView(t, d, e)", [[0, head[1] - 0.6, 0], 6.0, {}])))
            springs = {"joints": len(got["springJoints"]), "colliders": got["springColliders"]}
            if got["springJoints"]:
                loose = page.evaluate("window.swayTest('x', 0.4, 40, null, false)")
                stiff = page.evaluate("window.swayTest('x', 0.4, 40, 1000, false)")
                springs |= {"nod_tail_lag_max_m": round(max(loose["off"]), 4),
                            "nod_tail_lag_max_m_stiffness_1000": round(max(stiff["off"]), 4)}
            body_view = [[0, head[1] - 0.2, 0], 2.5, {}]
            plain = _png(page.evaluate("([t, d, e]) => window.renderView(t, d, e)", body_view))
            (shots / f"{tag}_vrm_plain_body.png").write_bytes(plain)
            toon = {}
            if (folder / "avatar_toon.vrm").is_file():
                t_got = page.evaluate("window.loadAvatar('/files/avatar_toon.vrm')")
                toon_png = _png(page.evaluate("([t, d, e]) => window.renderView(t, d, e)", body_view))
                (shots / f"{tag}_vrm_toon_body.png").write_bytes(toon_png)
                a, b = (np.asarray(Image.open(io.BytesIO(x)).convert("RGB"), np.int16) for x in (plain, toon_png))
                toon = {"mtoon_materials": sorted(set(t_got["mtoon"])), "load_ms": round(t_got["ms"], 1),
                        "changed_pixels_vs_plain": int((np.abs(a - b).sum(-1) > 30).sum())}
            glb = page.evaluate("window.loadAvatar('/files/avatar.glb')")
    finally:
        server.shutdown()
    changed = {k: int((np.abs(frames[k] - frames["neutral"]).sum(-1) > 30).sum()) for k in ("aa", "blink")}
    return {"vrm_load_ms_median": round(statistics.median(r["ms"] for r in runs), 1),
            "vrm_load_ms_runs": [round(r["ms"], 1) for r in runs],
            "bones_resolved": len(got["bones"]), "expressions": len(got["expressions"]),
            "changed_pixels": changed, "glb_materials": sorted(glb["materials"]), "glb_morphs": len(glb["morphs"]),
            "springs": springs, "toon": toon}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("photo", type=Path)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--reuse", action="store_true", help="Use existing create folders in --out.")
    ap.add_argument("--hair", default="long", help="--hair for create (long: the VRM has spring chains).")
    ap.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "export_formats.json")
    args = ap.parse_args()
    from avatarforge.export.validate import validate_gltf

    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    for size in args.sizes:
        folder = args.out / f"create{size}"
        cmd = [str(Path(sys.executable).parent / "avatarforge"), "create", str(args.photo), "--texture-size", str(size),
               "--hair", args.hair, "--force"]
        if not (args.reuse and folder.is_dir()):
            subprocess.run([*cmd, "-o", str(folder), "--format", "glb,vrm", "--lod", "--compress"], check=True)
            toon_dir = args.out / f"create{size}_toon"
            subprocess.run([*cmd, "-o", str(toon_dir), "--format", "vrm", "--toon"], check=True)
            (toon_dir / "avatar.vrm").replace(folder / "avatar_toon.vrm")
        files = {}
        for f in sorted([*folder.glob("*.glb"), *folder.glob("*.vrm")]):
            issues = validate_gltf(f)["issues"]
            files[f.name] = {"bytes": f.stat().st_size, "errors": issues["numErrors"],
                             "warnings": issues["numWarnings"], "infos": issues["numInfos"]}
        report = json.loads((folder / "report.json").read_text())
        results[size] = {"files": files, "lod": report.get("lod"), "browser": browser_figures(folder, args.out, f"t{size}")}
        print(f"texture {size}:")
        for name, v in files.items():
            print(f"  {name:22s} {v['bytes'] / 1e6:7.2f} MB  errors {v['errors']}  warnings {v['warnings']}  infos {v['infos']}")
        print("  lod:", {k: (v["vertices"], v["faces"]) for k, v in (report.get("lod") or {}).items()})
        print("  browser:", results[size]["browser"])
    print(json.dumps(results))
    import os
    import platform

    args.results.write_text(json.dumps({"photo": args.photo.name, "hair": args.hair, "machine": platform.machine(),
                                        "loadavg": os.getloadavg(), "sizes": results}, indent=1) + "\n")
    print("wrote", args.results)


if __name__ == "__main__":
    main()
