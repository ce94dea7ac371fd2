"""Research-backend speed figures on CPU (weights do not change speed: random weights in the
released layout stand in for the licensed files; no licensed file is read).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_research.py

DECA encode (E_flame + E_detail, 224x224) and detail decode (D_detail, 256x256), 1 thread;
the graft (similarity alignment + harmonic seam) on a 10402-vertex sphere whose top 5023
vertices play the head, and body-from-head (10 betas) on a random SMPL-X-sized model. Writes benchmarks/results/research.json.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch


def _time(fn, repeat: int) -> float:
    fn()
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "research"))
    from research_synthetic import SMPLX_PARENTS, random_model

    from avatarforge.research.deca.model import build_deca_nets
    from avatarforge.research.graft import HeadOffsets, graft_offsets, infer_betas
    from avatarforge.research.model_data import arrays_from_dict
    from avatarforge.research.smpl_family import SmplFamilyBody

    torch.set_num_threads(1)
    nets = build_deca_nets()
    for n in (nets.E_flame, nets.E_detail, nets.D_detail):
        n.eval()
    x = torch.rand(1, 3, 224, 224)
    z = torch.randn(1, 181)
    with torch.no_grad():
        enc = _time(lambda: (nets.E_flame(x), nets.E_detail(x)), 5)
        dec = _time(lambda: nets.D_detail(z), 5)

    rng = np.random.default_rng(0)
    m = random_model(rng, 10475, 55, SMPLX_PARENTS, 20)
    body = SmplFamilyBody(arrays_from_dict(m, "synthetic", n_shape=10, n_joints=55), [str(i) for i in range(55)], [],
                          10, 10, ground=False)
    ids = rng.choice(10475, 5023, replace=False)
    # the graft needs a surface with local connectivity: a sphere of SMPL-X's size, its top as the head
    from avatarforge.render.primitives import uv_sphere

    sphere = uv_sphere(101, 104, radius=0.3)
    sv, sf = np.asarray(sphere.vertices, np.float64), np.asarray(sphere.faces, np.int64)
    top = np.argsort(-sv[:, 1])[:5023]
    head = HeadOffsets(sv[top] - 0.01, sv[top] - 0.008, np.zeros((5023, 3)), np.zeros(3))
    t = time.perf_counter()
    graft_offsets(sv, sf, top, head)
    graft_s = time.perf_counter() - t
    t = time.perf_counter()
    infer_betas(body, ids, m["v_template"][ids])
    betas_s = time.perf_counter() - t
    res = {"deca_encode_s": round(enc, 3), "deca_detail_decode_s": round(dec, 3),
           "graft_s": round(graft_s, 3), "body_from_head_s": round(betas_s, 3), "threads": 1,
           "note": "2-core CPU shared with other jobs: timings are noisy"}
    for k, v in res.items():
        print(f"{k:24s} {v}")
    out = Path(__file__).resolve().parent / "results" / "research.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res))


if __name__ == "__main__":
    main()
