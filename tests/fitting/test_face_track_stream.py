"""The face tracker's landmark stream: the landmark model runs ahead in a worker thread;
order, the tracking/detection fallbacks, errors and early stops must behave as a plain loop."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from avatarforge.errors import UserInputError
from avatarforge.fitting import face_track


class _Detected:
    def __init__(self, points):
        self.points = points


@pytest.fixture
def fake_models(monkeypatch):
    """Frames are (1, 1, 3) images whose value k says what the models see: k >= 200 a crash,
    k >= 100 no face, k % 3 == 0 a track that is lost (re-detected), else tracked from the
    previous points."""
    calls = []

    def detect(frame):
        k = int(frame[0, 0, 0])
        calls.append(("detect", k))
        if k >= 200:
            raise RuntimeError("model crashed")
        if k >= 100:
            raise UserInputError("no face")
        return _Detected(np.full((478, 3), float(k)))

    def track(frame, previous):
        k = int(frame[0, 0, 0])
        calls.append(("track", k, float(previous[0, 0])))
        return None if k % 3 == 0 or k >= 100 else np.full((478, 3), float(k))

    import avatarforge.perception.face as pf

    monkeypatch.setattr(pf, "face_landmarks", detect)
    monkeypatch.setattr(pf, "track_face_landmarks", track)
    return calls


def _frames(values):
    return [np.full((1, 1, 3), v, np.uint8) for v in values]


def test_stream_keeps_order_and_tracks_from_the_previous_points(fake_models):
    out = list(face_track._landmark_stream(_frames([1, 2, 3, 4, 100, 5]), lookahead=2))
    got = [None if lm is None else float(lm[0, 0]) for _, lm in out]
    assert got == [1.0, 2.0, 3.0, 4.0, None, 5.0]
    assert [int(f[0, 0, 0]) for f, _ in out] == [1, 2, 3, 4, 100, 5]
    # frame 1 detected; 2 tracked from 1; 3 lost -> detected; 4 tracked from 3; 100 tracked
    # from 4 then detected (no face); 5 has no previous points -> detected
    assert fake_models == [("detect", 1), ("track", 2, 1.0), ("track", 3, 2.0), ("detect", 3),
                           ("track", 4, 3.0), ("track", 100, 4.0), ("detect", 100), ("detect", 5)]


def test_stream_raises_the_workers_error_and_stops_early_without_hanging(fake_models):
    with pytest.raises(RuntimeError, match="model crashed"):
        list(face_track._landmark_stream(_frames([1, 200, 2])))
    before = threading.active_count()
    stream = face_track._landmark_stream(_frames(range(1, 60)), lookahead=1)
    next(stream)
    stream.close()  # the consumer stops: the worker must end too
    assert threading.active_count() <= before
