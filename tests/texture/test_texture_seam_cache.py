"""The in-memory seam-layout cache of make_texture is keyed on the whole layout."""

from __future__ import annotations

import types

import numpy as np

import avatarforge.texture.make as make_mod
import avatarforge.texture.seams as seams_mod
import avatarforge.util.npcache as npcache


def test_layouts_with_equal_shapes_and_equal_first_uvs_do_not_collide(monkeypatch):
    built, used = [], []
    monkeypatch.setattr(npcache, "disk_cached", lambda _ns, _digest, _cls, build: build())
    monkeypatch.setattr(seams_mod, "seam_layout", lambda uvs, uv_faces, faces, shape: built.append(uvs.copy()) or len(built))

    def correct_seams(albedo, mask, layout):
        used.append(layout)
        return types.SimpleNamespace(texture=albedo)

    monkeypatch.setattr(seams_mod, "correct_seams", correct_seams)
    monkeypatch.setattr(make_mod, "_SEAM_LAYOUTS", type(make_mod._SEAM_LAYOUTS)())
    rng = np.random.default_rng(0)
    uvs_a = rng.uniform(0, 1, (100, 2)).astype(np.float32)
    uvs_b = uvs_a.copy()
    uvs_b[80] = [0.25, 0.75]  # same shapes, same first 64 rows: a different layout
    uv_faces = faces = np.arange(99, dtype=np.int64).reshape(33, 3)
    albedo, mask = np.zeros((16, 16, 3), np.float32), np.ones((16, 16), bool)
    for uvs in (uvs_a, uvs_b, uvs_a):
        make_mod.correct_seams(albedo, uvs, uv_faces, faces, mask)
    assert len(built) == 2 and np.array_equal(built[1], uvs_b)
    assert used == [1, 2, 1]  # each layout's own seam layout, the first one from the cache
