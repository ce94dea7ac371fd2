import pickle
import shutil

import numpy as np
import pytest

from avatarforge.cli.main import main
from avatarforge.errors import UserInputError
from avatarforge.research.assets import resolve_assets
from avatarforge.research.doctor import check_assets


def test_resolver(tmp_path, monkeypatch):
    monkeypatch.delenv("AVATARFORGE_ASSETS", raising=False)
    with pytest.raises(UserInputError, match="--assets DIR or set AVATARFORGE_ASSETS"):
        resolve_assets()
    monkeypatch.setenv("AVATARFORGE_ASSETS", str(tmp_path))
    a = resolve_assets()
    assert a.root == tmp_path.resolve()
    with pytest.raises(UserInputError) as err:
        a.require("flame")
    msg = str(err.value)
    assert "\n" not in msg and "flame/generic_model.pkl" in msg and "https://flame.is.tue.mpg.de" in msg
    with pytest.raises(UserInputError, match="github.com/yfeng95/DECA"):
        a.require("deca")
    (tmp_path / "flame").mkdir()
    (tmp_path / "flame" / "FLAME_albedo_from_BFM.npz").write_bytes(b"")
    assert a.get("flame_texture").name == "FLAME_albedo_from_BFM.npz"
    monkeypatch.setenv("AVATARFORGE_ASSETS", "relative/dir")
    with pytest.raises(UserInputError, match="absolute"):
        resolve_assets()


def test_doctor_all_ok(asset_tree, capsys):
    checks = {c.key: c for c in check_assets(resolve_assets(asset_tree), load=True)}
    assert all(c.status == "ok" for c in checks.values()), {k: c.detail for k, c in checks.items()}
    assert checks["smplx"].detail.startswith("10475 vertices, 55 joints")
    assert checks["deca"].detail.startswith("E_flame, E_detail, D_detail")
    assert main(["doctor", "--assets", str(asset_tree), "--load"]) == 0
    out = capsys.readouterr().out
    assert out.count("ok ") >= 7


def test_doctor_reports_problems(asset_tree, tmp_path, capsys):
    root = tmp_path / "a"
    shutil.copytree(asset_tree, root, symlinks=True)
    (root / "deca" / "deca_model.tar").unlink()
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    (root / "flame" / "generic_model.pkl").write_bytes(pickle.dumps({"f": Evil()}, protocol=2))
    ids = np.load(root / "smplx" / "SMPL-X__FLAME_vertex_ids.npy")
    np.save(root / "smplx" / "SMPL-X__FLAME_vertex_ids.npy", ids[:-1])
    assert main(["doctor", "--assets", str(root)]) == 0  # without --load nothing is read
    assert main(["doctor", "--assets", str(root), "--load"]) == 2
    out = capsys.readouterr().out
    assert not marker.exists()
    lines = {line.split()[1]: line for line in out.splitlines()[1:]}
    assert lines["flame"].split()[0] == "failed" and "posix.system" in lines["flame"] and "refused" in lines["flame"]
    assert lines["deca"].split()[0] == "missing" and "github.com/yfeng95/DECA" in lines["deca"]
    assert lines["smplx"].split()[0] == "ok"
    assert lines["landmarks"].split()[0] == "ok"


def test_doctor_ids_checked_against_flame(asset_tree, tmp_path, capsys):
    root = tmp_path / "b"
    shutil.copytree(asset_tree, root, symlinks=True)
    ids = np.load(root / "smplx" / "SMPL-X__FLAME_vertex_ids.npy")
    np.save(root / "smplx" / "SMPL-X__FLAME_vertex_ids.npy", ids[:-1])
    assert main(["doctor", "--assets", str(root), "--load"]) == 2
    out = capsys.readouterr().out
    assert "must be 60 integers" in out


def test_doctor_template_must_have_flames_triangles(asset_tree, tmp_path, capsys):
    root = tmp_path / "c"
    shutil.copytree(asset_tree, root, symlinks=True)
    obj = root / "flame" / "head_template.obj"
    lines = obj.read_text().splitlines()
    f_lines = [i for i, line in enumerate(lines) if line.startswith("f ")]
    # reordered triangles are fine ...
    reordered = [line for i, line in enumerate(lines) if i not in f_lines] + [lines[i] for i in reversed(f_lines)]
    obj.write_text("\n".join(reordered) + "\n")
    assert main(["doctor", "--assets", str(root), "--load"]) == 0
    # ... a different triangle is not
    lines = obj.read_text().splitlines()
    last = max(i for i, line in enumerate(lines) if line.startswith("f "))
    lines[last] = "f 1/1 2/2 4/3"
    obj.write_text("\n".join(lines) + "\n")
    assert main(["doctor", "--assets", str(root), "--load"]) == 2
    assert "are not FLAME's" in capsys.readouterr().out
