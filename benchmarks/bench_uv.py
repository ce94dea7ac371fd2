"""Time texture transfer between UV layouts and seam correction on the default body's atlas.

    python benchmarks/bench_uv.py               # the default body (avatarforge.bodies)
    python benchmarks/bench_uv.py --synthetic   # a synthetic UV sphere (body-size stand-in)

Transfer, 2048 x 2048 source texture -> 2048 x 2048 destination: the destination is the same
mesh with a new layout (its UV charts shuffled into a grid, turned, mirrored, rescaled), reached (a) through the identity vertex correspondence, (b) by closest points from a
copy whose vertices moved by up to 1 mm. Cold = build the mapping + resample; warm = resample
with the cached mapping. The transfer error is the mean |transferred - direct bake| of a smooth
3D pattern, in 8-bit units.

Seam correction at 1024 and 2048 on the source layout: cold = ``seam_layout`` + ``correct_seams``,
warm = ``correct_seams`` with the cached layout; seam error (mean colour distance across seam
texel pairs, 8-bit units) before/after on a synthetic texture: a smooth 3D pattern plus a random
offset per UV chart.

Numba kernels are compiled (or loaded from their cache) by a tiny warm-up first. Prints a table
and a JSON line (medians of ``--repeats`` runs). No assertions: these are figures. Target:
transfer (a) at 2048 <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np

from avatarforge.render import TexturedMesh, rasterize_uv, uv_sphere
from avatarforge.texture.seams import correct_seams, seam_layout
from avatarforge.texture.transfer import apply_mapping, closest_point_mapping, correspondence_mapping
from avatarforge.texture.uv_geometry import chart_labels


def default_body() -> TexturedMesh:
    from avatarforge.bodies import load_body

    out = load_body().forward_params({})
    return TexturedMesh(out.vertices[0].detach().double().numpy(), out.faces.numpy(),
                        out.uvs.numpy().astype(np.float64), out.uv_faces.numpy())


def synthetic_body() -> TexturedMesh:
    s = uv_sphere(100, 138)
    return TexturedMesh(s.vertices * [0.25, 0.9, 0.15] + [0.0, 0.9, 0.0], s.faces, s.uvs, s.uv_faces)


def repacked(mesh: TexturedMesh, seed: int = 0) -> TexturedMesh:
    """The same mesh, its UV charts shuffled into the cells of a square grid, each turned by a
    random multiple of 90 degrees, maybe mirrored, and scaled to fill 90% of its cell."""
    chart, _ = chart_labels(mesh.uvs, mesh.uv_faces)
    n = int(chart.max()) + 1
    grid = int(np.ceil(np.sqrt(n)))
    rng = np.random.default_rng(seed)
    cells = rng.permutation(grid * grid)[:n]
    uvs, uv_faces = [], []
    for c in range(n):
        faces = mesh.uv_faces[chart == c]
        used, local = np.unique(faces, return_inverse=True)
        p = mesh.uvs[used] - (mesh.uvs[used].min(0) + mesh.uvs[used].max(0)) / 2
        k = rng.integers(4)
        rot = np.array([[np.cos(k * np.pi / 2), -np.sin(k * np.pi / 2)], [np.sin(k * np.pi / 2), np.cos(k * np.pi / 2)]])
        p = p @ rot.T * (1 if rng.random() < 0.5 else np.array([-1, 1]))
        p = p * 0.9 / grid / np.abs(p).max() / 2
        uv_faces.append(local.reshape(-1, 3) + sum(len(u) for u in uvs))
        uvs.append(p + (np.array([cells[c] % grid, cells[c] // grid]) + 0.5) / grid)
    out_faces = np.zeros_like(mesh.uv_faces)
    for c in range(n):
        out_faces[chart == c] = uv_faces[c]
    return TexturedMesh(mesh.vertices, mesh.faces, np.concatenate(uvs), out_faces)


def surface_texture(mesh: TexturedMesh, size: int, chart_offset: float = 0.0, seed: int = 0) -> np.ndarray:
    """uint8 texture of a smooth 3D pattern (+ a random offset per chart) in the mesh's layout."""
    r = rasterize_uv(mesh.uvs, mesh.uv_faces, size)
    idx = r.covered()
    tri = r.triangle_id[idx]
    p = np.matmul(r.bary[idx][:, None, :].astype(np.float64), mesh.vertices[mesh.faces][tri])[:, 0]
    colour = 128 + 60 * np.sin(p * [9.0, 6.0, 11.0] + [0.0, 1.0, 2.0])
    if chart_offset:
        chart, _ = chart_labels(mesh.uvs, mesh.uv_faces)
        colour += np.random.default_rng(seed).uniform(-chart_offset, chart_offset, (chart.max() + 1, 3))[chart[tri]]
    tex = np.zeros((size, size, 3))
    tex[idx] = colour
    return np.clip(np.rint(tex), 0, 255).astype(np.uint8)


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median seconds of ``repeats`` runs and the last result."""
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def warm_up() -> None:
    s = uv_sphere(6, 8)
    m = TexturedMesh(s.vertices, s.faces, s.uvs, s.uv_faces)
    tex = surface_texture(m, 32)
    apply_mapping(tex, correspondence_mapping(m, m, np.arange(len(m.vertices)), 32))
    apply_mapping(tex, closest_point_mapping(m, m, 32))
    correct_seams(tex, m.uvs, m.uv_faces, m.faces)


def bench_transfer(src: TexturedMesh, size: int, repeats: int) -> dict:
    dst = repacked(src)
    moved = dst.vertices + np.random.default_rng(1).uniform(-1e-3, 1e-3, dst.vertices.shape)
    dst_moved = TexturedMesh(moved, dst.faces, dst.uvs, dst.uv_faces)
    tex = surface_texture(src, size)
    truth = surface_texture(dst, size).astype(float)
    ident = np.arange(len(dst.vertices))
    out = {}
    for mode, build in (("a", lambda: correspondence_mapping(src, dst, ident, size)),
                        ("b", lambda: closest_point_mapping(src, dst_moved, size))):
        out[f"transfer_{mode}_cold_s"], _ = timed(lambda b=build: apply_mapping(tex, b()), repeats)
        mapping = build()
        out[f"transfer_{mode}_warm_s"], res = timed(lambda m=mapping: apply_mapping(tex, m), repeats)
        out[f"transfer_{mode}_valid"] = round(float(res.valid.sum() / max(1, mapping.covered.sum())), 4)
        out[f"transfer_{mode}_error_8bit"] = round(float(np.abs(res.texture[res.valid] - truth[res.valid]).mean()), 3)
    return out


def bench_seams(mesh: TexturedMesh, size: int, repeats: int) -> dict:
    tex = surface_texture(mesh, size, chart_offset=40.0)
    cold, _ = timed(lambda: correct_seams(tex, layout=seam_layout(mesh.uvs, mesh.uv_faces, mesh.faces, size)), repeats)
    layout = seam_layout(mesh.uvs, mesh.uv_faces, mesh.faces, size)
    warm, res = timed(lambda: correct_seams(tex, layout=layout), repeats)
    return {f"seams_{size}_cold_s": cold, f"seams_{size}_warm_s": warm, f"seams_{size}_pairs": res.n_pairs,
            "seam_edges": int(len(layout.edges.faces)), f"seam_error_{size}_before": round(res.error_before, 3),
            f"seam_error_{size}_after": round(res.error_after, 3)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", action="store_true", help="use the synthetic mesh, not the body")
    parser.add_argument("--size", type=int, default=2048, help="transfer texture size")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure (median)")
    args = parser.parse_args(argv)
    mesh, source = None, "synthetic UV ellipsoid (body-size stand-in)"
    if not args.synthetic:
        try:
            mesh, source = default_body(), "avatarforge.bodies.load_body() default"
        except Exception as exc:  # noqa: BLE001 - any failure: report it and use the stand-in
            print(f"default body unavailable ({type(exc).__name__}: {exc}); using the synthetic mesh")
    mesh = mesh if mesh is not None else synthetic_body()
    print(f"mesh: {source} ({len(mesh.vertices)} vertices, {len(mesh.faces)} faces, {len(mesh.uvs)} UVs)")
    warm_up()
    result = {"mesh": source, "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"}
    result.update(bench_transfer(mesh, args.size, args.repeats))
    for size in (1024, 2048):
        result.update(bench_seams(mesh, size, args.repeats))

    n = args.size
    print(f"median of {args.repeats} runs; load average {os.getloadavg()[0]:.1f}")
    print(f"{'step':<44}{'cold s':>9}{'warm s':>9}  notes")
    for mode, name in (("a", "correspondence"), ("b", "closest point")):
        print(f"{f'transfer {n}x{n} ({name})':<44}{result[f'transfer_{mode}_cold_s']:>9.3f}"
              f"{result[f'transfer_{mode}_warm_s']:>9.3f}  valid {result[f'transfer_{mode}_valid']:.2%}, "
              f"error {result[f'transfer_{mode}_error_8bit']:.2f}/255")
    for size in (1024, 2048):
        print(f"{f'seam correction {size}x{size}':<44}{result[f'seams_{size}_cold_s']:>9.3f}"
              f"{result[f'seams_{size}_warm_s']:>9.3f}  seam error {result[f'seam_error_{size}_before']:.2f} -> "
              f"{result[f'seam_error_{size}_after']:.2f} ({result[f'seams_{size}_pairs']} pairs)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
