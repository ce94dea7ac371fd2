"""Shared, lazily created mediapipe solution instances (the models bundled in the wheel): the
one place that imports mediapipe; the rest of the package reaches it through :mod:`avatarforge.perception`.

Creating a solution builds a mediapipe graph and loads its TFLite model (tens of ms and a
burst of native log lines), so each kind is created once per process, in
``static_image_mode`` (every call is an independent photo, no tracking), and reused. A
graph is not safe to drive from two threads at once, so :func:`run` serialises calls with
one lock.

Log spam: ``GLOG_minloglevel`` / ``TF_CPP_MIN_LOG_LEVEL`` are defaulted to errors-only before
mediapipe is imported and absl's Python logging is set to errors, but the native lines
(TFLite's "Created XNNPACK delegate", absl's "before InitializeLog", the face mesh's once-per-
process "Using NORM_RECT without IMAGE_DIMENSIONS" warning, harmless for the square inputs
:mod:`.face` feeds it) ignore those. So file descriptor 2 is captured while a graph is
created or run and dropped -- unless the call raises, in which case the captured lines are
replayed on stderr before the exception propagates: our own errors are never hidden. Set
``AVATARFORGE_MEDIAPIPE_LOGS=1`` to see everything.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import tempfile
import threading
import types
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np

__all__ = ["ModelKind", "run", "MAX_MESH_FACES", "face_mesh_connections", "loaded_models", "native_stderr_captured"]

ModelKind = Literal["detect_short", "detect_full", "mesh", "landmarks", "selfie", "pose"]

MAX_MESH_FACES = 4
"""Faces the mesh looks for in one call (a face crop may show parts of its neighbours)."""

_VERBOSE = os.environ.get("AVATARFORGE_MEDIAPIPE_LOGS", "") not in ("", "0")
if not _VERBOSE:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")



class _DeferredPyplot(types.ModuleType):
    """Stands in for ``matplotlib.pyplot`` until an attribute is used, then imports the real
    module (in its place in ``sys.modules``) and forwards to it."""

    def __getattr__(self, name: str):
        with _PYPLOT_LOCK:
            if sys.modules.get("matplotlib.pyplot") is self:
                del sys.modules["matplotlib.pyplot"]
            real = importlib.import_module("matplotlib.pyplot")
        return getattr(real, name)


_PYPLOT_LOCK = threading.Lock()


def _defer_pyplot() -> None:
    """``import mediapipe`` imports its drawing helpers, which import ``matplotlib.pyplot``
    (~0.7 s, a third of a bad photo's refusal time) for a plotting function avatarforge never
    calls: put a stand-in there that imports pyplot on first use."""
    if "matplotlib.pyplot" in sys.modules:
        return
    try:
        spec = importlib.util.find_spec("matplotlib.pyplot")  # imports matplotlib itself, not pyplot
    except ImportError:
        return
    if spec is None:
        return
    stand_in = _DeferredPyplot("matplotlib.pyplot")
    stand_in.__spec__ = spec  # the import system reads it; a plain attribute, no load
    sys.modules["matplotlib.pyplot"] = stand_in


_defer_pyplot()

from mediapipe.python.solutions import face_mesh_connections  # noqa: E402 - after the env defaults

_LOCK = threading.RLock()
_MODELS: dict[str, Any] = {}
_USED_BEFORE_FORK = False
_ORPHANED: list[Any] = []  # the parent's graphs in a forked child: kept alive (closing them may block)


def _after_fork_in_child() -> None:
    """MediaPipe is not fork-safe once used: in a child forked after the parent ran a graph,
    the parent's instances block forever (their threads are gone) and a new one aborts the
    process. Such a child gets a clear error from :func:`run` instead (``batch`` forks only
    from a process that has not used MediaPipe, else it spawns). The lock is new: another
    thread may have held it at the fork."""
    global _LOCK, _USED_BEFORE_FORK
    _USED_BEFORE_FORK = _USED_BEFORE_FORK or bool(_MODELS)
    _ORPHANED.extend(_MODELS.values())
    _MODELS.clear()
    _LOCK = threading.RLock()


os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def native_stderr_captured():
    """Send file descriptor 2 to a temporary file; replay it if the block raises."""
    if _VERBOSE:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


_LANDMARK_GRAPH = """
input_stream: "IMAGE:image"
input_stream: "ROI:roi"
input_side_packet: "WITH_ATTENTION:with_attention"
output_stream: "LANDMARKS:landmarks"
node {
  calculator: "FaceLandmarkCpu"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  input_side_packet: "WITH_ATTENTION:with_attention"
  output_stream: "LANDMARKS:landmarks"
}
"""


class _LandmarkModel:
    """The face landmark model alone (mediapipe's ``FaceLandmarkCpu`` subgraph, with attention:
    478 points) on a whole input image, which must already be the face's crop: square, the face
    upright and filling about 1/1.5 of it (as the face mesh's own ROI). No detector runs, so
    nothing depends on a face being re-detected inside the crop. ``process`` returns the
    normalised landmark list, or None when the model's face-presence score is below 0.5
    (the subgraph's own gate: the crop does not show a face)."""

    def __init__(self):
        import mediapipe as mp
        from google.protobuf import text_format
        from mediapipe.framework import calculator_pb2
        from mediapipe.framework.formats import rect_pb2
        from mediapipe.python import packet_creator, packet_getter
        from mediapipe.python._framework_bindings import calculator_graph, resource_util

        # Model files are resolved relative to the package root, as mediapipe's solutions do.
        resource_util.set_resource_dir(os.path.dirname(os.path.dirname(os.path.abspath(mp.__file__))))
        config = text_format.Parse(_LANDMARK_GRAPH, calculator_pb2.CalculatorGraphConfig())
        self._graph = calculator_graph.CalculatorGraph(graph_config=config)
        self._out: list = []
        self._graph.observe_output_stream("landmarks", lambda _s, p: self._out.append(packet_getter.get_proto(p)))
        self._graph.start_run({"with_attention": packet_creator.create_bool(True)})
        self._creator, self._format = packet_creator, mp.ImageFormat.SRGB
        self._roi = rect_pb2.NormalizedRect(x_center=0.5, y_center=0.5, width=1.0, height=1.0, rotation=0.0)
        self._t = 0

    def process(self, rgb: np.ndarray):
        self._out.clear()
        self._t += 1
        self._graph.add_packet_to_input_stream(
            "image", self._creator.create_image_frame(image_format=self._format, data=rgb).at(self._t))
        self._graph.add_packet_to_input_stream("roi", self._creator.create_proto(self._roi).at(self._t))
        self._graph.wait_until_idle()
        return self._out[0] if self._out else None


def _create(kind: str):
    import mediapipe as mp

    try:
        from absl import logging as absl_logging

        if not _VERBOSE:
            absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # pragma: no cover - absl ships with mediapipe
        pass
    if kind == "mesh":
        return mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=MAX_MESH_FACES,
            refine_landmarks=True,  # 478 points: adds the irises (468-477)
            min_detection_confidence=0.5,
        )
    if kind in ("detect_short", "detect_full"):
        return mp.solutions.face_detection.FaceDetection(
            model_selection=1 if kind == "detect_full" else 0, min_detection_confidence=0.5
        )
    if kind == "landmarks":
        return _LandmarkModel()
    if kind == "selfie":  # person/background segmentation (portrait matting)
        return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
    if kind == "pose":  # 33 body landmarks + a person mask
        return mp.solutions.pose.Pose(
            static_image_mode=True,
            model_complexity=1,  # the only landmark model bundled in the wheel
            enable_segmentation=True,
            min_detection_confidence=0.5,
        )
    raise ValueError(f"unknown mediapipe model kind {kind!r}")


def loaded_models() -> dict[str, Any]:
    """The model graphs created so far, by kind (a copy: each kind is created once per process)."""
    with _LOCK:
        return dict(_MODELS)


def run(kind: ModelKind, rgb: np.ndarray):
    """``process`` one RGB uint8 image with the shared instance of ``kind``."""
    if _USED_BEFORE_FORK:
        raise RuntimeError("MediaPipe cannot run in a process forked after its parent used it: "
                           "start workers with the 'spawn' method (or fork before any detection)")
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    with _LOCK, native_stderr_captured():
        model = _MODELS.get(kind)
        if model is None:
            model = _MODELS[kind] = _create(kind)
        return model.process(rgb)
