"""The on-disk dataclass cache: exact round trips, rebuilds of bad files, no pickles."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
import scipy.sparse as sp

from avatarforge.util.npcache import array_digest, disk_cached, load_dataclass, save_dataclass


@dataclass
class Inner:
    ids: np.ndarray
    name: str


@dataclass
class Outer:
    shape: tuple[int, int]
    inner: Inner
    matrix: sp.csr_matrix
    weight: float
    _memo: dict = field(default_factory=dict, repr=False)


def _outer() -> Outer:
    rng = np.random.default_rng(0)
    m = sp.random(20, 30, density=0.1, format="csr", random_state=1)
    return Outer((3, 4), Inner(rng.integers(0, 9, (5, 2)), "x"), m, 0.25, {"not": "stored"})


def test_round_trip_is_exact(tmp_path):
    a = _outer()
    b = load_dataclass(save_dataclass(tmp_path / "o.npz", a), Outer)
    assert b.shape == (3, 4) and isinstance(b.shape, tuple) and b.weight == 0.25 and b.inner.name == "x"
    np.testing.assert_array_equal(b.inner.ids, a.inner.ids)
    assert b.inner.ids.dtype == a.inner.ids.dtype
    assert (b.matrix != a.matrix).nnz == 0 and b.matrix.shape == a.matrix.shape
    assert b._memo == {}  # private fields take their default


def test_wrong_type_is_refused(tmp_path):
    path = save_dataclass(tmp_path / "o.npz", _outer())
    with pytest.raises(ValueError):
        load_dataclass(path, Inner)


def test_disk_cached_builds_once_and_rebuilds_damaged_files(tmp_path, monkeypatch):
    monkeypatch.setenv("AVATARFORGE_CACHE_DIR", str(tmp_path))
    calls = []

    def build():
        calls.append(1)
        return _outer()

    first = disk_cached("t", "k1", Outer, build)
    second = disk_cached("t", "k1", Outer, build)
    assert len(calls) == 1
    np.testing.assert_array_equal(first.inner.ids, second.inner.ids)
    (path,) = (tmp_path / "t").glob("*.npz")
    path.write_bytes(b"garbage")
    disk_cached("t", "k1", Outer, build)
    assert len(calls) == 2
    disk_cached("t", "k2", Outer, build)  # another key: another build
    assert len(calls) == 3


def test_digest_sees_values_dtypes_and_shapes():
    a = np.arange(6, dtype=np.int64)
    assert array_digest(a) == array_digest(a.copy())
    assert array_digest(a) != array_digest(a.astype(np.int32))
    assert array_digest(a) != array_digest(a.reshape(2, 3))
    assert array_digest(a) != array_digest(a, extra="v2")
    b = a.copy()
    b[3] = 7
    assert array_digest(a) != array_digest(b)
