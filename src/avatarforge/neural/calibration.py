"""Camera calibrations of synchronised multi-camera videos, and triangulation.

Accepted files (:func:`load_calibration`), all in the OpenCV pinhole convention
``x_cam = R X + t``, pixels ``u = fx x/z + cx``, ``v = fy y/z + cy`` (+ lens distortion):

* **TOML** (Pose2Sim / anipose ``Calib_*.toml``): one table per camera (the table name is a
  label; the key ``name`` is matched against the video file names, e.g. ``cam01`` for
  ``cam01.mp4``) with ``size = [width, height]`` (pixels), ``matrix`` (3 x 3 ``K``),
  ``distortions`` (``[k1, k2, p1, p2]``, OpenCV order), ``rotation`` (Rodrigues vector of
  ``R``, world -> camera) and ``translation`` (``t``, world units; Pose2Sim writes metres).
  Tables without ``matrix`` (e.g. ``[metadata]``) are ignored; ``fisheye = true`` is refused.
* **OpenCV FileStorage** ``.yml`` / ``.yaml`` / ``.xml`` (``cv2.FileStorage``): per camera
  ``<name>_K`` (3 x 3), ``<name>_dist`` (1 x 4/5/8), ``<name>_R`` (3 x 3) or ``<name>_rvec``
  (3 x 1), ``<name>_t`` (3 x 1) and optionally ``<name>_size`` (``[width, height]``); the camera
  names are listed in ``names`` (a sequence of strings) or found from the ``*_K`` keys.
* **Qualisys** ``.qca.txt`` (Pose2Sim's demo data): read as Pose2Sim's ``calib_qca_to_toml``
  converts it (sensor units / 64, millimetres -> metres, the camera turned by 180 degrees about
  its x axis).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatarforge.errors import UserInputError

__all__ = ["CameraCalib", "load_calibration", "save_calibration_toml", "CALIBRATION_SUFFIXES", "find_calibration",
           "triangulate", "project_points"]

CALIBRATION_SUFFIXES = (".toml", ".yml", ".yaml", ".xml", ".qca.txt")


@dataclass
class CameraCalib:
    """One calibrated camera (OpenCV convention, see the module docstring)."""

    name: str
    size: tuple[int, int]
    """(width, height) of its images in pixels."""
    K: np.ndarray
    """(3, 3) intrinsics."""
    dist: np.ndarray
    """(4,) or more OpenCV distortion coefficients (k1, k2, p1, p2[, k3...])."""
    R: np.ndarray
    """(3, 3) world -> camera rotation."""
    t: np.ndarray
    """(3,) world -> camera translation."""

    @property
    def P(self) -> np.ndarray:
        """(3, 4) projection matrix ``K [R | t]`` (undistorted pixels)."""
        return self.K @ np.hstack([self.R, self.t[:, None]])

    def undistort(self, pts: np.ndarray) -> np.ndarray:
        """(N, 2) pixels -> the pixels an ideal pinhole camera with the same ``K`` would see."""
        import cv2

        pts = np.asarray(pts, np.float64).reshape(-1, 1, 2)
        if not np.any(self.dist):
            return pts.reshape(-1, 2)
        return cv2.undistortPoints(pts, self.K, self.dist, P=self.K).reshape(-1, 2)


def _check(name: str, K, dist, R, t, size, src: Path) -> CameraCalib:
    K = np.asarray(K, np.float64).reshape(3, 3)
    R = np.asarray(R, np.float64)
    if R.size == 3:
        import cv2

        R = cv2.Rodrigues(R.reshape(3, 1))[0]
    R = R.reshape(3, 3)
    if abs(np.linalg.det(R) - 1) > 1e-3 or not np.allclose(R @ R.T, np.eye(3), atol=1e-3):
        raise UserInputError(f"{src}: camera {name!r}: the rotation is not a rotation matrix")
    if K[0, 0] <= 0 or K[1, 1] <= 0:
        raise UserInputError(f"{src}: camera {name!r}: the focal lengths must be positive")
    dist = np.zeros(4) if dist is None else np.asarray(dist, np.float64).reshape(-1)
    size = (int(round(size[0])), int(round(size[1]))) if size is not None else (int(round(2 * K[0, 2])), int(round(2 * K[1, 2])))
    return CameraCalib(str(name), size, K, dist, R, np.asarray(t, np.float64).reshape(3))


def _load_toml(path: Path) -> list[CameraCalib]:
    import tomllib

    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{path}: not a TOML file ({exc})") from None
    cams = []
    for key, sec in doc.items():
        if not isinstance(sec, dict) or "matrix" not in sec:
            continue
        missing = {"matrix", "rotation", "translation"} - set(sec)
        if missing:
            raise UserInputError(f"{path}: camera [{key}] lacks {', '.join(sorted(missing))}")
        if sec.get("fisheye", False):
            raise UserInputError(f"{path}: camera [{key}] is a fisheye camera: only pinhole calibrations are supported")
        cams.append(_check(sec.get("name", key), sec["matrix"], sec.get("distortions"), sec["rotation"],
                           sec["translation"], sec.get("size"), path))
    return cams


def _load_filestorage(path: Path) -> list[CameraCalib]:
    import cv2

    fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    if not fs.isOpened():
        raise UserInputError(f"{path}: not an OpenCV FileStorage file")
    try:
        root = fs.root()
        keys = list(root.keys())
        node = fs.getNode("names")
        if not node.empty():
            names = [node.at(i).string() for i in range(node.size())]
        else:
            names = [k[:-2] for k in keys if k.endswith("_K")]

        def mat(key):
            n = fs.getNode(key)
            if n.empty():
                return None
            m = n.mat()
            return m if m is not None else np.asarray([n.at(i).real() for i in range(n.size())])

        cams = []
        for name in names:
            K, rot, t = mat(f"{name}_K"), mat(f"{name}_R"), mat(f"{name}_t")
            if rot is None:
                rot = mat(f"{name}_rvec")
            if K is None or rot is None or t is None:
                raise UserInputError(f"{path}: camera {name!r} needs {name}_K, {name}_R (or {name}_rvec) and {name}_t")
            size = mat(f"{name}_size")
            cams.append(_check(name, K, mat(f"{name}_dist"), rot, t, None if size is None else np.ravel(size), path))
        return cams
    finally:
        fs.release()


def _load_qca(path: Path) -> list[CameraCalib]:
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise UserInputError(f"{path}: not a Qualisys calibration ({exc})") from None
    flip = np.diag([1.0, -1.0, -1.0])  # 180 degrees about the camera's x axis
    cams = []
    for cam in root.findall("cameras/camera"):
        fov, intr, tr = cam.find("fov_video"), cam.find("intrinsic"), cam.find("transform")
        if fov is None or intr is None or tr is None:
            raise UserInputError(f"{path}: camera {cam.get('serial')!r} lacks fov_video, intrinsic or transform")
        g = lambda e, k: float(e.get(k))  # noqa: E731
        left, top = g(fov, "left"), g(fov, "top")
        size = (g(fov, "right") - left, g(fov, "bottom") - top)
        K = np.array([[g(intr, "focalLengthU") / 64, 0, g(intr, "centerPointU") / 64 - left],
                      [0, g(intr, "focalLengthV") / 64, g(intr, "centerPointV") / 64 - top], [0, 0, 1]])
        dist = np.array([g(intr, k) / 64 for k in ("radialDistortion1", "radialDistortion2",
                                                   "tangentalDistortion1", "tangentalDistortion2")])
        M = np.array([[g(tr, f"r{i}{j}") for j in (1, 2, 3)] for i in (1, 2, 3)])
        pos = np.array([g(tr, k) for k in "xyz"]) / 1000
        R, t = flip @ M, flip @ (-M @ pos)
        cams.append(_check(cam.get("serial", f"cam{len(cams) + 1}"), K, dist, R, t, size, path))
    return cams


def load_calibration(path: str | Path) -> list[CameraCalib]:
    """The cameras of a calibration file (see the module docstring for the formats)."""
    p = Path(path)
    if not p.is_file():
        raise UserInputError(f"{p}: no such calibration file")
    name = p.name.lower()
    if name.endswith(".qca.txt"):
        cams = _load_qca(p)
    elif p.suffix.lower() == ".toml":
        cams = _load_toml(p)
    elif p.suffix.lower() in (".yml", ".yaml", ".xml"):
        cams = _load_filestorage(p)
    else:
        raise UserInputError(f"{p}: unknown calibration format: give {', '.join(CALIBRATION_SUFFIXES)}")
    if not cams:
        raise UserInputError(f"{p}: no camera found in the calibration")
    return cams


def save_calibration_toml(path: str | Path, cams: list[CameraCalib]) -> None:
    """Write cameras as a Pose2Sim/anipose TOML calibration (atomically)."""
    import cv2

    from avatarforge.util.atomic import atomic_write_text

    def arr(a) -> str:
        a = np.asarray(a, np.float64)
        if a.ndim == 1:
            return "[ " + ", ".join(repr(float(x)) for x in a) + "]"
        return "[ " + ", ".join(arr(r) for r in a) + "]"

    lines = []
    for c in cams:
        rvec = cv2.Rodrigues(c.R)[0].ravel()
        lines += [f"[{c.name}]", f'name = "{c.name}"', f"size = [ {c.size[0]}, {c.size[1]}]", f"matrix = {arr(c.K)}",
                  f"distortions = {arr(c.dist[:4])}", f"rotation = {arr(rvec)}", f"translation = {arr(c.t)}",
                  "fisheye = false", ""]
    lines += ["[metadata]", "adjusted = false", "error = 0.0", ""]
    atomic_write_text(Path(path), "\n".join(lines))


def find_calibration(folder: str | Path) -> Path:
    """The one calibration file in ``folder`` or its ``calibration/`` subfolder."""
    d = Path(folder)
    found = []
    for sub in (d, d / "calibration"):
        if sub.is_dir():
            found += sorted(p for p in sub.iterdir() if p.is_file() and p.name.lower().endswith(CALIBRATION_SUFFIXES)
                            and not p.name.lower().startswith("config"))
    if not found:
        raise UserInputError(f"{d}: no calibration file ({', '.join(CALIBRATION_SUFFIXES)}) in it or in calibration/")
    toml = [p for p in found if p.suffix.lower() == ".toml"]
    return (toml or found)[0]


def project_points(cam: CameraCalib, X: np.ndarray) -> np.ndarray:
    """(N, 3) world points -> (N, 2) pixels (with the lens distortion)."""
    import cv2

    rvec = cv2.Rodrigues(cam.R)[0]
    return cv2.projectPoints(np.asarray(X, np.float64).reshape(-1, 1, 3), rvec, cam.t, cam.K, cam.dist)[0].reshape(-1, 2)


def triangulate(points: np.ndarray, weights: np.ndarray, cams: list[CameraCalib], min_views: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Weighted DLT: ``points`` (V, N, 2) pixels (distorted, as detected) and ``weights`` (V, N)
    confidences -> (N, 3) world points and (N,) the number of views used (weight > 0).

    Each view adds the two rows ``w (u P3 - P1)`` and ``w (v P3 - P2)`` (undistorted pixels,
    rows scaled by the inverse focal length so views weigh alike); the point is the right
    singular vector of the smallest singular value. Points seen by fewer than ``min_views``
    views are NaN.
    """
    V, N = points.shape[:2]
    und = np.stack([cams[v].undistort(points[v]) for v in range(V)])  # (V, N, 2)
    Ps = np.stack([c.P / c.K[0, 0] for c in cams])  # (V, 3, 4)
    w = np.nan_to_num(np.asarray(weights, np.float64).clip(0, None))
    w = np.where(np.isfinite(und).all(-1), w, 0.0)
    und = np.nan_to_num(und)
    # rows[v, n] = w (u P3 - P1), w (v P3 - P2)
    r1 = und[..., 0:1] * Ps[:, None, 2] - Ps[:, None, 0]
    r2 = und[..., 1:2] * Ps[:, None, 2] - Ps[:, None, 1]
    A = np.stack([r1, r2], 2) * w[..., None, None]  # (V, N, 2, 4)
    A = A.transpose(1, 0, 2, 3).reshape(N, 2 * V, 4)
    _, _, vt = np.linalg.svd(A)
    X = vt[:, -1]
    used = (w > 0).sum(0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = X[:, :3] / X[:, 3:4]
    out[used < min_views] = np.nan
    return out, used
