"""Body-model figures: Anny cold build, warm load, forward passes, export.

    .venv/bin/python benchmarks/bench_body.py            # warm figures (uses the cache)
    .venv/bin/python benchmarks/bench_body.py --cold     # also a first-run build into a fresh
                                                         # temporary cache (~1-2 min, ~1.2 GB)

Prints a table and a JSON line; asserts nothing (targets are in the issues / README).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

LOAD_SNIPPET = (
    "import time; t = time.perf_counter(); "
    "from avatarforge.bodies import load_body; load_body(); "
    "print(time.perf_counter() - t)"
)


def _load_in_subprocess(env: dict[str, str]) -> float:
    out = subprocess.run([sys.executable, "-c", LOAD_SNIPPET], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _median_ms(fn, repeat: int = 20) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cold", action="store_true", help="also time a first-run build in a fresh cache")
    args = ap.parse_args()
    figures: dict[str, float] = {}
    env = dict(os.environ)
    if args.cold:
        tmp = tempfile.mkdtemp(prefix="anny-cold-")
        try:
            env_cold = {**env, "AVATARFORGE_CACHE_DIR": tmp}
            env_cold.pop("ANNY_CACHE_DIR", None)
            figures["cold_build_s"] = _load_in_subprocess(env_cold)
            size = sum(f.stat().st_size for f in __import__("pathlib").Path(tmp).rglob("*") if f.is_file())
            figures["cache_gb"] = size / 1e9
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    figures["warm_load_s"] = _load_in_subprocess(env)  # separate process: no in-memory reuse

    from avatarforge.avatar import build_avatar
    from avatarforge.bodies import load_body
    from avatarforge.export import write_glb, write_obj

    body = load_body()
    figures["forward_params_ms"] = _median_ms(lambda: body.forward_params({"age": 0.4, "jawOpen": 0.3}))
    figures["forward_posed_ms"] = _median_ms(
        lambda: body.forward_params({"pose.upperarm01.L.z": 30, "pose.head.y": 10, "mouthSmileLeft": 0.5}))
    figures["morph_targets_ms"] = _median_ms(lambda: body.morph_targets({}), repeat=5)
    avatar = build_avatar({"gender": 0.3}, pose="t", body=body)
    mesh = avatar.rigged_mesh()
    figures["rigged_mesh_ms"] = _median_ms(avatar.rigged_mesh, repeat=5)
    with tempfile.TemporaryDirectory() as d:
        figures["write_glb_ms"] = _median_ms(lambda: write_glb(mesh, os.path.join(d, "a.glb")), repeat=5)
        figures["write_obj_ms"] = _median_ms(lambda: write_obj(mesh, d, stem="a"), repeat=3)

    print(f"{'figure':<22}{'value':>10}")
    for k, v in figures.items():
        print(f"{k:<22}{v:>10.3f}")
    print(json.dumps({k: round(v, 4) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
