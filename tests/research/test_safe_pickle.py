import os
import pickle

import numpy as np
import pytest
import scipy.sparse
import torch

from avatarforge.errors import UserInputError
from avatarforge.research.safe_pickle import (
    ChumpyStub, UnsafePickleError, load_checkpoint, safe_load_npy, safe_load_pickle,
)
from research_synthetic import write_flame_pickle, write_landmark_embedding


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvalEvil:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_chumpy_pickle_arrays_come_back_exactly(tmp_path, protocol):
    m = write_flame_pickle(tmp_path / "m.pkl", np.random.default_rng(0), protocol=protocol)
    data = safe_load_pickle(tmp_path / "m.pkl")
    for key in ("v_template", "shapedirs", "posedirs", "weights"):
        assert isinstance(data[key], np.ndarray)
        np.testing.assert_array_equal(data[key], m[key])
    assert scipy.sparse.issparse(data["J_regressor"])
    np.testing.assert_array_equal(data["J_regressor"].toarray(), m["J_regressor"])
    np.testing.assert_array_equal(data["kintree_table"], m["kintree_table"])
    assert data["bs_style"] == "lbs"


@pytest.mark.parametrize("payload", ["system", "eval"])
def test_malicious_pickle_is_refused_without_running(tmp_path, payload):
    marker = tmp_path / "pwned"
    obj = {"v_template": _Evil(marker) if payload == "system" else _EvalEvil()}
    path = tmp_path / "generic_model.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(UnsafePickleError, match="refused"):
        safe_load_pickle(path)
    assert not marker.exists()


def test_malicious_object_npy_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "landmark_embedding.npy"
    np.save(path, {"x": _Evil(marker)}, allow_pickle=True)
    with pytest.raises(UnsafePickleError):
        safe_load_npy(path)
    assert not marker.exists()


def test_reconstructor_over_other_base_refused(tmp_path):
    # protocol 0 copy_reg._reconstructor(cls, base, state) with an allowed class but a dict base
    data = b"ccopy_reg\n_reconstructor\n(cchumpy.ch\nCh\nc__builtin__\ndict\n(dtRp0\n."
    (tmp_path / "x.pkl").write_bytes(data)
    with pytest.raises(UnsafePickleError):
        safe_load_pickle(tmp_path / "x.pkl")


def test_landmark_embedding_with_torch_tensors(tmp_path):
    emb = write_landmark_embedding(tmp_path / "lmk.npy", np.random.default_rng(1), 100)
    out = safe_load_npy(tmp_path / "lmk.npy")
    assert set(out) == set(emb)
    np.testing.assert_array_equal(out["static_lmk_faces_idx"], emb["static_lmk_faces_idx"])
    assert torch.equal(out["dynamic_lmk_faces_idx"], emb["dynamic_lmk_faces_idx"])
    assert torch.allclose(out["dynamic_lmk_bary_coords"], emb["dynamic_lmk_bary_coords"])


def test_plain_npy_and_not_a_pickle(tmp_path):
    np.save(tmp_path / "ids.npy", np.arange(7))
    np.testing.assert_array_equal(safe_load_npy(tmp_path / "ids.npy"), np.arange(7))
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle at all")
    with pytest.raises(UserInputError, match="junk.pkl"):
        safe_load_pickle(tmp_path / "junk.pkl")


def test_derived_chumpy_object_stays_a_stub(tmp_path):
    data = b"\x80\x02cchumpy.ch_ops\nadd\n)\x81}q\x00X\x01\x00\x00\x00aq\x01K\x01sb."
    (tmp_path / "d.pkl").write_bytes(data)
    out = safe_load_pickle(tmp_path / "d.pkl")
    assert isinstance(out, ChumpyStub) and not out.has_array
    with pytest.raises(TypeError):
        np.asarray(out)


def test_checkpoint_weights_only(tmp_path):
    torch.save({"E_flame": {"w": torch.ones(2)}}, tmp_path / "ok.tar")
    assert torch.equal(load_checkpoint(tmp_path / "ok.tar")["E_flame"]["w"], torch.ones(2))
    marker = tmp_path / "pwned"
    torch.save({"E_flame": _Evil(marker)}, tmp_path / "bad.tar")
    with pytest.raises(UserInputError, match="weights-only"):
        load_checkpoint(tmp_path / "bad.tar")
    assert not marker.exists()


def test_checkpoint_legacy_serialisation(tmp_path):
    # torch < 1.6 wrote the non-zip format (DECA's release may be one)
    sd = torch.nn.BatchNorm2d(3).state_dict()
    torch.save({"D_detail": sd, "global_step": 7}, tmp_path / "old.tar", _use_new_zipfile_serialization=False)
    out = load_checkpoint(tmp_path / "old.tar")
    assert out["global_step"] == 7 and torch.equal(out["D_detail"]["running_var"], torch.ones(3))


def test_codecs_only_for_latin1_bytes(tmp_path):
    ok = pickle.dumps({"b": b"\x00\xff"}, protocol=2)  # protocol 2 writes bytes via _codecs.encode
    (tmp_path / "ok.pkl").write_bytes(ok)
    assert safe_load_pickle(tmp_path / "ok.pkl") == {"b": b"\x00\xff"}
    bad = ok.replace(b"latin1", b"rot_13")
    (tmp_path / "bad.pkl").write_bytes(bad)
    with pytest.raises(UnsafePickleError, match="rot_13"):
        safe_load_pickle(tmp_path / "bad.pkl")
