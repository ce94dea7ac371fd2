"""Local batch runner: the model is loaded once and the forked workers share it."""

import os
import sys

import pytest

import avatarforge.pipeline.batch as batch_mod
from avatarforge.pipeline.batch import BatchItem, run_batch


def _fake_process_one(photo, out, options_dict, force):
    if photo.endswith("boom"):
        os._exit(3)  # a worker that dies
    return {"photo": photo, "out": out, "status": "done", "seconds": 0.0, "warnings": [],
            "error": f"{os.getpid()} {batch_mod._BODY is not None} {id(batch_mod._BODY)}"}


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork-after-load is the Linux path")
def test_local_batch_loads_the_model_once_and_workers_share_it(workers, monkeypatch, tmp_path, body):
    monkeypatch.setattr(batch_mod, "_start_method", lambda: "fork")  # (this test process may have used MediaPipe)
    monkeypatch.setattr(batch_mod, "process_one", _fake_process_one)
    monkeypatch.setattr(batch_mod, "_BODY", None)
    items = [BatchItem(f"p{i}.jpg", str(tmp_path / f"p{i}")) for i in range(4)]
    summary = run_batch(items, {}, tmp_path / "report.json", workers=workers)
    assert summary["counts"]["done"] == 4
    pids, loaded, ids = zip(*(it["error"].split() for it in summary["items"]))
    assert set(loaded) == {"True"}
    assert set(ids) == {str(id(batch_mod._BODY))}  # the parent's object, inherited by the fork
    assert batch_mod._BODY is body  # load_body's cached model
    if workers == 1:
        assert set(pids) == {str(os.getpid())}
    else:
        assert str(os.getpid()) not in pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork-after-load is the Linux path")
def test_a_dying_worker_is_recorded_and_the_batch_goes_on(monkeypatch, tmp_path, body):
    monkeypatch.setattr(batch_mod, "_start_method", lambda: "fork")
    monkeypatch.setattr(batch_mod, "process_one", _fake_process_one)
    items = [BatchItem("a.jpg", str(tmp_path / "a")), BatchItem("boom", str(tmp_path / "b"))]
    summary = run_batch(items, {}, tmp_path / "report.json", workers=2)
    status = {it["photo"]: it["status"] for it in summary["items"]}
    assert status["boom"] == "failed"
    assert summary["counts"]["done"] + summary["counts"]["failed"] == 2


def test_workers_are_spawned_once_mediapipe_has_run(monkeypatch):
    """MediaPipe is not fork-safe once used: then the workers are spawned."""
    import types

    name = "avatarforge.perception._mediapipe"
    monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(loaded_models=lambda: {}))
    assert batch_mod._start_method() == "fork"
    monkeypatch.setitem(sys.modules, name, types.SimpleNamespace(loaded_models=lambda: {"selfie": object()}))
    assert batch_mod._start_method() == "spawn"
    monkeypatch.delitem(sys.modules, name)
    assert batch_mod._start_method() == "fork"
