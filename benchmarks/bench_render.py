"""Time the CPU renderer: a body-size mesh at 1024 x 1024, and UV-layout rasterisation.

    python benchmarks/bench_render.py                  # the default body (avatarforge.bodies)
    python benchmarks/bench_render.py --synthetic      # a synthetic body-size mesh
    python benchmarks/bench_render.py --mesh body.obj  # any OBJ/PLY/GLB trimesh can read

Without ``--mesh`` or ``--synthetic`` it uses ``avatarforge.bodies.load_body()`` in its default
parameters, and falls back to the synthetic mesh (saying why) when that cannot be loaded.

Prints a table and a JSON line (median seconds over ``--repeats`` runs after one warm-up
run, which also triggers numba's JIT / loads its cache). No assertions: these are figures.
Targets on a 2-core CPU: rasterise (with projection) <= 150 ms, UV rasterise at 1024 <= 300 ms.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np

from avatarforge.render import Camera, rasterize, rasterize_uv, render_mesh, uv_sphere


def synthetic_body(n_lat: int = 100, n_lon: int = 138):
    """A UV-mapped ellipsoid of a body's size: 13,664 vertices, 27,324 faces, 1.8 m tall."""
    s = uv_sphere(n_lat, n_lon)
    vertices = s.vertices * [0.25, 0.9, 0.15] + [0.0, 0.9, 0.0]
    return vertices, s.faces, s.uvs, s.uv_faces


def load_mesh(path: str):
    """(vertices, faces, uvs, uv_faces) of a mesh file; UVs are None when it has none."""
    import trimesh

    mesh = trimesh.load(path, process=False, force="mesh")
    uv = getattr(mesh.visual, "uv", None)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    return np.asarray(mesh.vertices, dtype=np.float64), faces, None if uv is None else np.asarray(uv), faces


def default_body():
    """(vertices, faces, uvs, uv_faces) of the default body in its default parameters."""
    from avatarforge.bodies import load_body

    out = load_body().forward_params({})
    return (out.vertices[0].detach().double().numpy(), out.faces.numpy(), out.uvs.numpy(), out.uv_faces.numpy())


def framing_camera(vertices: np.ndarray, size: int, fill: float = 0.9) -> Camera:
    """A front perspective camera (from +Z) whose view height holds ``fill`` of the mesh's height."""
    lo, hi = vertices.min(0), vertices.max(0)
    centre, extent = (lo + hi) / 2, float(max(hi[1] - lo[1], hi[0] - lo[0]))
    fov = 30.0
    dist = extent / fill / 2 / np.tan(np.radians(fov) / 2) + (hi[2] - lo[2]) / 2
    return Camera.look_at(centre + [0, 0, dist], centre, width=size, height=size, fov_y_deg=fov)


def _median_time(fn, repeats: int) -> float:
    fn()  # warm-up (JIT compile or cache load)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench(vertices, faces, uvs=None, uv_faces=None, size: int = 1024, uv_sizes=(1024, 2048), repeats: int = 7) -> dict:
    """Median seconds of: rasterise (projection included), full render, UV rasterise per size."""
    cam = framing_camera(vertices, size)

    def raster_only():
        return rasterize(cam.project(vertices), faces, size, size, perspective=True)

    coverage = float(raster_only().mask.mean())
    result = {
        "vertices": int(len(vertices)),
        "faces": int(len(faces)),
        "image": size,
        "coverage": round(coverage, 3),
        "rasterize_s": _median_time(raster_only, repeats),
        "render_mesh_s": _median_time(lambda: render_mesh(vertices, faces, cam), repeats),
    }
    if uvs is not None:
        for n in uv_sizes:
            result[f"rasterize_uv_{n}_s"] = _median_time(lambda n=n: rasterize_uv(uvs, uv_faces, n), repeats)
            result[f"uv_coverage_{n}"] = round(float(rasterize_uv(uvs, uv_faces, n).mask.mean()), 3)
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mesh", help="mesh file (loaded with trimesh); default: a synthetic body-size mesh")
    parser.add_argument("--synthetic", action="store_true", help="use the synthetic mesh, not the body")
    parser.add_argument("--size", type=int, default=1024, help="image size in pixels")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per figure (median)")
    args = parser.parse_args(argv)

    if args.mesh:
        vertices, faces, uvs, uv_faces = load_mesh(args.mesh)
        source = args.mesh
    else:
        vertices = None
        if not args.synthetic:
            try:
                vertices, faces, uvs, uv_faces = default_body()
                source = "avatarforge.bodies.load_body() default"
            except Exception as exc:  # noqa: BLE001 - any failure: report it and use the stand-in
                print(f"default body unavailable ({type(exc).__name__}: {exc}); using the synthetic mesh")
        if vertices is None:
            vertices, faces, uvs, uv_faces = synthetic_body()
            source = "synthetic UV ellipsoid (body-size stand-in)"
    print(f"mesh: {source} ({len(vertices)} vertices, {len(faces)} faces)")
    result = bench(vertices, faces, uvs, uv_faces, size=args.size, repeats=args.repeats)
    result["mesh"] = source
    result["machine"] = f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} CPUs"

    rows = [("rasterize + project", result["rasterize_s"]), ("render_mesh (full)", result["render_mesh_s"])]
    rows += [(f"rasterize_uv {n}x{n}", result[f"rasterize_uv_{n}_s"]) for n in (1024, 2048) if f"rasterize_uv_{n}_s" in result]
    print(f"image {args.size}x{args.size}, coverage {result['coverage']:.1%}, median of {args.repeats}")
    print(f"{'step':<24}{'ms':>10}")
    for name, seconds in rows:
        print(f"{name:<24}{seconds * 1e3:>10.1f}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
