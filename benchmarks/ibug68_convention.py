"""How ``fitting.ibug68.IBUG68_FROM_MP`` was chosen: the mesh point (or mesh-edge midpoint)
that best matches dlib's 68-point predictor, per iBUG point, on near-frontal faces.

    pip install 'avatarforge[bench]'
    .venv/bin/python benchmarks/ibug68_convention.py [--photos DIR]

Faces: every face :func:`find_faces` finds in the photos of ``bench_faces.PHOTOS`` whose
yaw estimate is below 20 degrees and that dlib's own detector finds (upright crop, see
``bench_faces._dlib_68``). For each iBUG point the candidate with the least mean error
(normalised by dlib's eye-corner distance) is picked; the eye corners (36, 45) and the chin
(8) stay on mesh points 33, 263 and 152. Prints the table, the in-sample and the leave-one-
photo-out NME of the mapped detector points against dlib, for the table in use and this one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

FIXED = {8: (152,), 36: (33,), 45: (263,)}


def collect(folder: Path):
    from bench_faces import PHOTOS, _dlib, _dlib_68

    from avatarforge.perception.face import find_faces
    from avatarforge.perception.image_io import load_image

    dlib, detector, predictor = _dlib()
    pts, refs, photos = [], [], []
    for name in PHOTOS:
        if not (folder / name).exists():
            continue
        image = load_image(folder / name)
        for face in find_faces(image):
            ref, source = _dlib_68(dlib, detector, predictor, image.rgb, face.points)
            if abs(face.yaw_deg) < 20 and source.startswith("dlib"):
                pts.append(face.points[:, :2]), refs.append(ref), photos.append(name)
    return np.array(pts), np.array(refs), np.array(photos)


def choose(points, refs, candidates) -> list[tuple[int, ...]]:
    io = np.linalg.norm(refs[:, 36] - refs[:, 45], axis=1)
    cand_xy = np.stack([points[:, list(c)].mean(1) for c in candidates], 1)  # (F, C, 2)
    table = []
    for k in range(68):
        if k in FIXED:
            table.append(FIXED[k])
            continue
        err = (np.linalg.norm(cand_xy - refs[:, k][:, None], axis=-1) / io[:, None]).mean(0)
        table.append(candidates[int(np.argmin(err))])
    return table


def nme(points, refs, table) -> np.ndarray:
    io = np.linalg.norm(refs[:, 36] - refs[:, 45], axis=1)
    mapped = np.stack([points[:, list(c)].mean(1) for c in table], 1)
    return (np.linalg.norm(mapped - refs, axis=-1) / io[:, None]).mean(1)


def main() -> None:
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    from avatarforge.fitting.ibug68 import IBUG68_FROM_MP

    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", type=Path, default=Path("/work/photos/appearance"))
    args = ap.parse_args()
    points, refs, photos = collect(args.photos)
    candidates = [(i,) for i in range(468)] + sorted({tuple(sorted(e)) for e in FACEMESH_TESSELATION})
    table = choose(points, refs, candidates)
    lopo = []
    for name in sorted(set(photos)):
        train, test = photos != name, photos == name
        lopo += list(nme(points[test], refs[test], choose(points[train], refs[train], candidates)))
    print(f"{len(points)} near-frontal faces from {len(set(photos))} photos")
    print(f"table in use: NME {nme(points, refs, IBUG68_FROM_MP).mean():.4f}")
    print(f"chosen here:  NME {nme(points, refs, table).mean():.4f} in sample, {np.mean(lopo):.4f} leave-one-photo-out")
    print("table:", table)


if __name__ == "__main__":
    main()
