"""The validator wrapper: it finds the npm tool, reports real errors, and fails clearly."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest

from avatarforge.export import build_glb
from avatarforge.export.validate import GltfValidatorUnavailable, find_validator, format_issues, validate_gltf


def _rewrite_json(glb: bytes, edit) -> bytes:
    """Apply ``edit`` to the JSON chunk of a GLB and repack it (the BIN chunk is unchanged)."""
    json_len = struct.unpack_from("<I", glb, 12)[0]
    doc = json.loads(glb[20 : 20 + json_len])
    edit(doc)
    new_json = json.dumps(doc).encode()
    new_json += b" " * (-len(new_json) % 4)
    rest = glb[20 + json_len :]
    header = struct.pack("<4sII", b"glTF", 2, 20 + len(new_json) + len(rest))
    return header + struct.pack("<II", len(new_json), 0x4E4F534A) + new_json + rest


def test_validator_catches_a_wrong_sparse_minimum(bar_factory, tmp_path: Path, gltf_validator) -> None:
    data, _ = build_glb(bar_factory())

    def break_jaw_min(doc: dict) -> None:
        sparse = next(a for a in doc["accessors"] if "sparse" in a)
        sparse["min"] = [0.0, 0.01, 0.0]  # the untouched vertices have delta 0 < 0.01

    (tmp_path / "ok.glb").write_bytes(data)
    (tmp_path / "bad.glb").write_bytes(_rewrite_json(data, break_jaw_min))
    assert gltf_validator(tmp_path / "ok.glb")["issues"]["numErrors"] == 0
    report = gltf_validator(tmp_path / "bad.glb")
    assert report["issues"]["numErrors"] > 0
    assert "ACCESSOR_MIN_MISMATCH" in format_issues(report, max_severity=0)


def test_validator_refuses_external_resources(tmp_path: Path, gltf_validator) -> None:
    gltf = {"asset": {"version": "2.0"}, "buffers": [{"byteLength": 4, "uri": "outside.bin"}]}
    (tmp_path / "outside.bin").write_bytes(b"\0" * 4)
    (tmp_path / "ext.gltf").write_text(json.dumps(gltf))
    codes = {m["code"] for m in gltf_validator(tmp_path / "ext.gltf")["issues"]["messages"]}
    assert "IO_ERROR" in codes


def test_missing_file_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        validate_gltf(tmp_path / "nope.glb")


def test_unavailable_validator_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gltf_validator) -> None:
    monkeypatch.setenv("AVATARFORGE_GLTF_VALIDATOR", str(tmp_path / "missing.mjs"))
    with pytest.raises(GltfValidatorUnavailable, match="AVATARFORGE_GLTF_VALIDATOR"):
        find_validator()

    monkeypatch.delenv("AVATARFORGE_GLTF_VALIDATOR")
    _, script = find_validator()
    lone = tmp_path / "tools" / script.name
    lone.parent.mkdir()
    shutil.copy(script, lone)  # a script without node_modules next to it
    monkeypatch.setenv("AVATARFORGE_GLTF_VALIDATOR", str(lone))
    with pytest.raises(GltfValidatorUnavailable, match="npm ci --prefix"):
        find_validator()

    monkeypatch.delenv("AVATARFORGE_GLTF_VALIDATOR")
    monkeypatch.delenv("AVATARFORGE_NODE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no node here
    with pytest.raises(GltfValidatorUnavailable, match="node"):
        find_validator()
