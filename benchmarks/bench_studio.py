"""Studio real-time figures: server-side update time and slider-to-screen latency.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_studio.py [--avatar-dir DIR] [--moves 16]

Starts the studio in-process on a created avatar (runs `create` on examples/astronaut.jpg
when no --avatar-dir is given), opens it in headless Chromium (system chromium, Playwright)
and moves the ``weight`` slider between its ends with the keyboard, in the textured and the
shaded view, at two window sizes.

* server update = forward pass + building/queueing the scene messages, measured in the
  session (``StudioSession.update_seconds``);
* slider-to-screen = from the key-down event in the page to the first frame the page draws
  that shows at least half of the final change (each frame of the 3D canvas is copied into
  a 320x200 2D canvas and compared with the last frame drawn before the key press).
  Chromium renders WebGL in software here (SwiftShader, no GPU), so this includes the
  software frame time.

Writes benchmarks/results/studio.json. Timings are noisy: the 2-core CPU is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _stats(ms: list[float]) -> dict:
    if not ms:
        return {"n": 0}
    a = np.asarray(ms)
    return {"n": len(ms), "median": round(float(np.median(a)), 1), "p90": round(float(np.percentile(a, 90)), 1),
            "min": round(float(a.min()), 1), "max": round(float(a.max()), 1)}


def _wait(pred, timeout=30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


def _children_cpu_seconds(root: int | None = None) -> float:
    """CPU time (user + system) of every process below ``root`` (default: this one): the
    browser's processes, which Playwright starts under us. Figures that other jobs sharing
    the CPU do not inflate the way they inflate wall times."""
    root = os.getpid() if root is None else root
    tick = os.sysconf("SC_CLK_TCK")
    parent, cpu = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(d)] = int(fields[1])
        cpu[int(d)] = (int(fields[11]) + int(fields[12])) / tick

    def below(pid: int) -> bool:
        seen = 0
        while pid in parent and seen < 64:
            pid, seen = parent[pid], seen + 1
            if pid == root:
                return True
        return False

    return sum(c for pid, c in cpu.items() if below(pid))


def _latency(frames: list, key_t: float) -> float | None:
    """ms from the key press to the first frame with at least half of the final change
    (pixels differing from the last frame before the key); None when nothing changed."""
    after = [(t, diff) for t, _, diff in frames if t > key_t]
    if not after or after[-1][1] < 100:
        return None
    final = after[-1][1]
    return next(t - key_t for t, diff in after if diff >= 0.5 * final)


def measure(server, size: tuple[int, int], moves: int, modes: list[str], dressed: bool = False) -> dict:
    from avatarforge.dev.studio_browser import chromium_context, install_frame_probe, slider_thumb

    out: dict = {}
    with chromium_context(*size) as ctx:
        page = ctx.new_page()
        page.goto(server.url)
        page.get_by_text("weight", exact=True).first.wait_for(timeout=300_000)  # slow under load
        slider_thumb(page, "weight").wait_for(timeout=60_000)
        _wait(lambda: server.sessions)
        session = max(server.sessions.values(), key=lambda s: s.client.client_id)
        _wait(lambda: session.updates >= 1)
        if dressed:  # hair and clothes: they follow the body while the slider moves
            from avatarforge.studio.look import Look

            look = Look().with_hair(style="long").with_garment("top", "tshirt").with_garment(
                "bottom", "trousers").with_garment("feet", "shoes")
            session.set_look(look)
            _wait(lambda: session.parts is not None and session.parts.look == look, 60)
        install_frame_probe(page)
        cdp = ctx.new_cdp_session(page)  # the page's main-thread time by kind (script, layout, style)
        cdp.send("Performance.enable")

        def main_thread() -> dict[str, float]:
            m = {x["name"]: x["value"] for x in cdp.send("Performance.getMetrics")["metrics"]}
            return {k: m.get(k, 0.0) for k in ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")}

        thumb = slider_thumb(page, "weight")
        for mode in modes:
            session.controls.shading.value = mode  # runs the view switch as the dropdown does
            time.sleep(2.0)
            latencies, updates, forwards, to_server, server_to_screen, update_cpu = [], [], [], [], [], []
            undetected = 0
            # Idle baseline: the same wait without a key press (the frame probe itself costs CPU).
            idle_cpu0, idle_main0 = _children_cpu_seconds(), main_thread()
            time.sleep(2.5)
            idle_cpu = 1000 * (_children_cpu_seconds() - idle_cpu0)
            idle_main = {k: 1000 * (v - idle_main0[k]) for k, v in main_thread().items()}
            browser_cpu0, server_cpu0, main0 = _children_cpu_seconds(), time.process_time(), main_thread()
            for i in range(moves):
                thumb.focus()
                n0 = session.updates
                page.keyboard.press("End" if i % 2 == 0 else "Home")
                _wait(lambda n0=n0: session.updates > n0, 10)
                time.sleep(2.5)  # let the page draw the new mesh (and the textured view) and settle
                # The slider's own update (not the rebuild once the slider rests), by update number.
                log = list(session.push_log)
                entry = next((e for e in log if e[0] > n0 and e[1]), log[-1])
                first_push = entry[2]
                probe = page.evaluate("window.__afProbe")
                key_t = probe["keys"][-1]
                lat = _latency(probe["frames"], key_t)
                # Same machine, same wall clock: split the latency at the server.
                key_wall = probe["keysWall"][-1] / 1000.0
                to_server.append(1000 * (session.last_edit_wall - key_wall))
                if lat is None:
                    undetected += 1
                else:
                    latencies.append(lat)
                    server_to_screen.append(lat - 1000 * (first_push - key_wall))
                updates.append(1000 * entry[3])
                update_cpu.append(1000 * entry[4])
                forwards.append(1000 * entry[5])
            browser_cpu = 1000 * (_children_cpu_seconds() - browser_cpu0) / moves
            main1 = main_thread()
            page_main = {k: round(1000 * (main1[k] - main0[k]) / moves - idle_main[k], 1) for k in main0}
            browser_cpu -= idle_cpu
            server_cpu = 1000 * (time.process_time() - server_cpu0) / moves
            out[mode] = {"server_update_ms": _stats(updates), "server_update_cpu_ms": _stats(update_cpu),
                         "browser_cpu_ms_per_move": round(browser_cpu, 1),
                         "browser_cpu_note": "all browser processes, minus the same wait without a key press",
                         "page_main_thread_ms_per_move": page_main,
                         "server_process_cpu_ms_per_move": round(server_cpu, 1),
                         "forward_ms": _stats(forwards),
                         "slider_to_screen_ms": _stats(latencies), "key_to_server_callback_ms": _stats(to_server),
                         "server_done_to_screen_ms": _stats(server_to_screen),
                         "moves_without_a_detected_change": undetected}
            print(f"{size[0]}x{size[1]} {mode:9s} server update {out[mode]['server_update_ms']}  "
                  f"(CPU {out[mode]['server_update_cpu_ms']})  browser CPU/move {browser_cpu:.0f} ms {page_main} "
                  f"slider-to-screen {out[mode]['slider_to_screen_ms']}  key->server {out[mode]['key_to_server_callback_ms']}  "
                  f"server->screen {out[mode]['server_done_to_screen_ms']}", flush=True)
    return out


def measure_webcam(server, frames: int, tmp: Path) -> dict:
    """Webcam mode with Chromium's fake camera playing the example portrait (a y4m made here):
    capture -> update latency as the page measures it (the server answers after the mesh
    update is queued), the server's own capture -> queued figure, and the fit time (wall, CPU)."""
    from PIL import Image

    from avatarforge.dev.studio_browser import chromium_context, fake_camera_args, open_folder, write_y4m

    face = np.asarray(Image.open(ROOT / "examples" / "astronaut.jpg").convert("RGB").resize((240, 240)))
    shots = []
    for i in range(16):
        frame = np.full((240, 320, 3), 90, np.uint8)
        x = 40 + 3 * (i % 8) - 12
        frame[:, x:x + 240] = face
        shots.append(frame)
    camera = tmp / "face.y4m"
    write_y4m(camera, shots, fps=10)
    with chromium_context(1280, 800, extra_args=fake_camera_args(camera)) as ctx:
        page = ctx.new_page()
        page.goto(server.url)
        page.get_by_text("weight", exact=True).first.wait_for(timeout=300_000)
        _wait(lambda: server.sessions)
        session = max(server.sessions.values(), key=lambda s: s.client.client_id)
        open_folder(page, "Drive from video")
        session.drive.c.webcam.value = True
        page.frame_locator("iframe").get_by_role("button", name="Start camera").click(timeout=60_000)
        _wait(lambda: session.drive.live is not None and session.drive.live.found >= 1, 600)
        n0 = len(session.drive.latencies)
        _wait(lambda: len(session.drive.latencies) >= n0 + frames, 600)
        live = session.drive.live
        page_ms = list(session.drive.latencies)[n0:]
        server_ms = list(session.drive.server_latencies)[-frames:]
        fit_ms = [1000 * s for s in live.fit_seconds[-frames:]]
        fit_cpu = [1000 * s for s in live.fit_cpu_seconds[-frames:]]
    out = {"capture_to_update_ms_page": _stats(page_ms), "capture_to_update_queued_ms_server": _stats(server_ms),
           "fit_ms": _stats(fit_ms), "fit_cpu_ms": _stats(fit_cpu), "frames_with_face": live.found,
           "frames": live.frames, "frame_size": "320x240 JPEG"}
    print(f"webcam: {out}", flush=True)
    return out


def measure_server_only(body, avatar_dir: Path, repeat: int = 30) -> dict:
    """The update's server work without a browser competing for the CPU: forward pass, and
    the textured view's GLB (positions + normals packed with the cached UVs/texture)."""
    from avatarforge.bodies import ParamsFile
    from avatarforge.perception.image_io import load_image
    from avatarforge.studio import StudioState
    from avatarforge.studio.view_glb import TexturedView

    state = StudioState(body, ParamsFile.read(avatar_dir).values)
    texture = load_image(Path(avatar_dir) / "avatar_texture.png").rgb
    view = TexturedView.build(body.faces.numpy(), body.uvs.numpy(), body.uv_faces.numpy(), texture, body.num_vertices)
    forward, glb = [], []
    for i in range(repeat):
        state.set({"weight": float(i % 2)})
        frame = state.mesh()
        forward.append(1000 * frame.seconds)
        t = time.perf_counter()
        view.glb(frame.vertices)
        glb.append(1000 * (time.perf_counter() - t))
    return {"forward": _stats(forward), "textured_glb": _stats(glb)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--avatar-dir", type=Path, help="created avatar to open (default: create one from the example)")
    ap.add_argument("--moves", type=int, default=16, help="slider moves per mode and window size")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "studio.json")
    ap.add_argument("--sizes", default="1280x800,640x400", help="window sizes, comma-separated WxH")
    ap.add_argument("--dressed", action="store_true", help="with hair and an outfit on the avatar")
    ap.add_argument("--webcam-frames", type=int, default=20, help="webcam frames to measure (0: skip)")
    args = ap.parse_args()

    import torch

    from avatarforge.bodies import load_body
    from avatarforge.studio import StudioConfig, StudioServer
    from avatarforge.studio.jobs import run_create

    torch.set_num_threads(1)
    body = load_body()
    tmp = Path(tempfile.mkdtemp(prefix="bench-studio-"))
    avatar_dir = args.avatar_dir
    if avatar_dir is None:
        avatar_dir = run_create(ROOT / "examples" / "astronaut.jpg", tmp / "astronaut", body).outdir
    server_only = measure_server_only(body, avatar_dir)
    print(f"server only (no browser running): {server_only}", flush=True)
    server = StudioServer(StudioConfig(outdir=tmp / "out", avatar_dir=avatar_dir, port=0), body=body)
    server.start()
    results = {}
    try:
        for size in [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",") if s]:
            results[f"{size[0]}x{size[1]}"] = measure(server, size, args.moves, ["textured", "shaded"], args.dressed)
        if args.webcam_frames:
            results["webcam"] = measure_webcam(server, args.webcam_frames, tmp)
    finally:
        server.stop()
    report = {
        "what": "studio: weight slider moved end to end with the keyboard in headless Chromium",
        "server_update": "forward pass + building/queueing the scene messages (session.update_seconds)",
        "slider_to_screen": "key-down in the page -> first drawn frame showing half of the final pixel change "
                            "(software WebGL, SwiftShader: includes the software frame time)",
        "server_only_ms": server_only,
        "results": results,
        "machine": {"cpu_count": os.cpu_count(), "python": platform.python_version(),
                    "note": "2 cores shared with other jobs: noisy"},
        "moves": args.moves,
        "dressed": args.dressed,
        "load_average": os.getloadavg(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
