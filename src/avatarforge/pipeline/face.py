"""Photo -> fitted head: image intake, landmark detection, fitting; and its output set."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from avatarforge.util.progress import Stages
from avatarforge.util.threads import single_threaded

__all__ = ["FaceReconstruction", "reconstruct_face", "resolve_body", "write_face_outputs", "load_face_result"]


@dataclass
class FaceReconstruction:
    """Everything the face stage found for one photo."""

    photo: Path
    rgb: np.ndarray
    """(H, W, 3) uint8 photo (EXIF orientation applied)."""
    landmarks: object
    """perception.FaceLandmarks of the face used."""
    fit: object
    """fitting.FaceFit."""
    body: object
    warnings: list[str] = field(default_factory=list)
    iris: object = None
    """perception.iris.IrisRefinement: the eye network's iris centres the fit used (None: off)."""

    @property
    def image_size(self) -> tuple[int, int]:
        return (int(self.rgb.shape[1]), int(self.rgb.shape[0]))


def resolve_body(body=None):
    """``body`` itself, the result of a :class:`concurrent.futures.Future` loading it in the
    background (so that the model loads while the photo is read and the face detected), or
    :func:`~avatarforge.bodies.load_body` when None."""
    from concurrent.futures import Future

    from avatarforge.bodies import load_body

    if isinstance(body, Future):
        return body.result()
    return body if body is not None else load_body()


@single_threaded
def reconstruct_face(photo: str | os.PathLike, face_index: int | None = None, body=None,
                     config=None, stages: Stages | None = None, eye_net: bool = True) -> FaceReconstruction:
    """Detect the face in ``photo`` and fit the body model's head, shape and expression to it.

    With ``eye_net`` the iris centres the fit aims the eyes at come from the eye alignment
    network (:func:`avatarforge.perception.iris.refine_iris_points`), else from the detector.
    """
    from avatarforge.fitting.face_fit import fit_face
    from avatarforge.perception.face import face_landmarks
    from avatarforge.perception.image_io import load_image

    stages = stages or Stages()
    with stages.stage("read photo"):
        image = load_image(photo)
    with stages.stage("detect face"):
        lm = face_landmarks(image.rgb, face_index=face_index)
    warnings = list(lm.warnings)
    targets, iris = lm.points, None
    if eye_net:
        from avatarforge.perception.iris import refine_iris_points

        with stages.stage("eyes (iris network)"):
            iris = refine_iris_points(image.rgb, lm.points)
            targets = iris.points
            warnings += iris.warnings
    with stages.stage("load body model"):
        body = resolve_body(body)
    with stages.stage("fit face"):
        fit = fit_face(targets, lm.image_size, body, config)
    return FaceReconstruction(Path(photo), image.rgb, lm, fit, body, warnings, iris)


def _head_mesh(rec: FaceReconstruction) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from avatarforge.bodies.head_mesh import head_faces

    body = rec.body
    out = body.forward_params(rec.fit.values)
    faces = out.faces.numpy()
    keep = head_faces(body, faces)
    used = np.unique(faces[keep])
    remap = np.full(len(out.vertices[0]), -1)
    remap[used] = np.arange(len(used))
    uv_faces = out.uv_faces.numpy()[keep]
    uv_used = np.unique(uv_faces)
    uv_remap = np.full(len(out.uvs), -1)
    uv_remap[uv_used] = np.arange(len(uv_used))
    return (out.vertices[0].numpy()[used], remap[faces[keep]], out.uvs.numpy()[uv_used], uv_remap[uv_faces])


def eyes_info(rec: FaceReconstruction) -> dict:
    """``{"eyes": {...}}`` for report.json: did the eye network place the irises, how far from
    the detector's (empty when the network was off)."""
    if rec.iris is None:
        return {}
    shift = np.linalg.norm(rec.iris.network - rec.iris.detector, axis=1)
    return {"eyes": {"iris_network_used": list(rec.iris.used), "shift_from_detector_px": np.round(shift, 2).tolist()}}


def landmarks_json(rec: FaceReconstruction) -> dict:
    """``landmarks.json``: pixel coordinates in the original photo (x right, y down)."""
    return {
        "image_size": list(rec.image_size),
        "convention": "pixels, x right, y down, origin at the top-left corner of the photo",
        "detected": np.round(rec.landmarks.points[:, :2], 3).tolist(),
        "detected_depth": np.round(rec.landmarks.points[:, 2], 3).tolist(),
        "ibug68": np.round(rec.fit.ibug68_2d, 3).tolist(),
        **({"ibug68_model": np.round(rec.fit.ibug68_model_2d, 3).tolist()} if rec.fit.ibug68_model_2d is not None else {}),
        "fitted_mediapipe478": np.round(rec.fit.landmarks_2d, 3).tolist(),
        "face_index": int(getattr(rec.landmarks, "face_index", 0)),
        **({"iris_network": {
            "right_left": np.round(rec.iris.network, 3).tolist(),
            "detector_right_left": np.round(rec.iris.detector, 3).tolist(),
            "used": list(rec.iris.used),
        }} if rec.iris is not None else {}),
        "faces_found": int(rec.landmarks.n_faces_found),
    }


@single_threaded
def write_face_outputs(rec: FaceReconstruction, outdir: str | os.PathLike, report, stages: Stages | None = None,
                       force: bool = False) -> Path:
    """params.json, landmarks.json, fit_overlay.png, head.obj, report.json — atomically."""
    from avatarforge.avatar import Avatar
    from avatarforge.export.obj import obj_text
    from avatarforge.outputs import file_sha256, write_fit_overlay
    from avatarforge.util.atomic import atomic_dir

    stages = stages or Stages()
    body = rec.body
    values = body.params.complete(rec.fit.values)
    with atomic_dir(outdir, force=force) as tmp:
        with stages.stage("write outputs"):
            avatar = Avatar(body, values, "a", body.forward_params(values))
            extra = {"camera": rec.fit.camera.to_dict(), "photo": str(rec.photo.resolve()), "image_size": list(rec.image_size)}
            avatar.params_file(extra).write(tmp / "params.json")
            (tmp / "landmarks.json").write_text(json.dumps(landmarks_json(rec)))
            v, f, uv, uvf = _head_mesh(rec)
            (tmp / "head.obj").write_text(obj_text(v, f, uv, uvf, name="head"))
        with stages.stage("overlay"):
            write_fit_overlay(rec, tmp / "fit_overlay.png")
        report.timings.update(stages.timings)
        report.warnings.extend(rec.warnings)
        report.info.update({
            "input": {"path": str(rec.photo), "sha256": file_sha256(rec.photo), "size": list(rec.image_size)},
            "fit": {"rmse_px": round(rec.fit.rmse_px, 3), "seconds": round(rec.fit.seconds, 3),
                    "final_loss": round(rec.fit.losses[-1], 5) if rec.fit.losses else None},
            "faces_found": int(rec.landmarks.n_faces_found),
        })
        report.info.update(eyes_info(rec))
        (tmp / "report.json").write_text(report.to_json())
    return Path(outdir)


def load_face_result(folder: str | os.PathLike, body=None) -> FaceReconstruction:
    """Read back a `face` (or `create`) output folder as a FaceReconstruction, so later stages
    (e.g. the texture) can run on a fitted result without fitting again."""
    from avatarforge.bodies import ParamsFile, load_body
    from avatarforge.errors import UserInputError
    from avatarforge.fitting.face_fit import FaceFit
    from avatarforge.perception.face import FaceLandmarks
    from avatarforge.perception.face_detect import FaceBox
    from avatarforge.perception.image_io import load_image
    from avatarforge.render.camera import Camera

    folder = Path(folder)
    pf = ParamsFile.read(folder)
    lm_path = folder / "landmarks.json"
    if "camera" not in pf.extra or "photo" not in pf.extra or not lm_path.exists():
        raise UserInputError(f"{folder} is not a fitted result: run `avatarforge face PHOTO -o {folder}` first")
    try:
        lm = json.loads(lm_path.read_text())
        det = np.column_stack([np.asarray(lm["detected"], dtype=np.float64),
                               np.asarray(lm.get("detected_depth", [0.0] * len(lm["detected"])), dtype=np.float64)])
    except (ValueError, KeyError, TypeError) as exc:
        raise UserInputError(f"{lm_path} is damaged ({exc}): run `avatarforge face` again") from None
    image = load_image(pf.extra["photo"])
    size = (int(image.rgb.shape[1]), int(image.rgb.shape[0]))
    if list(size) != list(lm["image_size"]):
        raise UserInputError(f"the photo {pf.extra['photo']} changed since the fit (size {size}): fit again")
    box = FaceBox(float(det[:, 0].min()), float(det[:, 1].min()), float(det[:, 0].max()), float(det[:, 1].max()),
                  1.0, np.zeros((6, 2)))
    landmarks = FaceLandmarks(det, box, size, int(lm.get("faces_found", 1)), int(lm.get("face_index", 0)))
    body = body or load_body(pf.backend, **pf.backend_config)
    values = body.params.complete(pf.values)
    fit = FaceFit(values, Camera.from_dict(pf.extra["camera"]), np.asarray(lm.get("fitted_mediapipe478", det[:, :2])),
                  np.asarray(lm["ibug68"]), det, float("nan"), 0.0,
                  ibug68_model_2d=np.asarray(lm["ibug68_model"]) if "ibug68_model" in lm else None)
    return FaceReconstruction(Path(pf.extra["photo"]), image.rgb, landmarks, fit, body, [])
