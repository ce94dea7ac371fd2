"""The textured view GLB, and the `avatarforge studio` command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import trimesh

from avatarforge.cli.main import main
from avatarforge.studio.view_glb import VIEW_TEXTURE_SIDE, TexturedView

SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="module")
def view(body):
    tex = np.random.default_rng(0).integers(0, 255, (2048, 1024, 3), dtype=np.uint8)
    return TexturedView.build(body.faces.numpy(), body.uvs.numpy(), body.uv_faces.numpy(), tex, body.num_vertices)


def test_view_glb_round_trip(view, body, tmp_path, gltf_validator):
    verts = body.forward_params({"weight": 0.8}).vertices[0].numpy()
    path = tmp_path / "view.glb"
    path.write_bytes(view.glb(verts))
    g = trimesh.load(path, force="mesh", process=False)
    np.testing.assert_array_equal(np.asarray(g.vertices, np.float32), verts[view.source_vertex])
    # Every triangle keeps its corners: split faces map back onto the source faces.
    np.testing.assert_array_equal(view.source_vertex[np.asarray(g.faces)], body.faces.numpy())
    assert g.visual.uv.shape == (len(view.source_vertex), 2)
    assert max(g.visual.material.baseColorTexture.size) == VIEW_TEXTURE_SIDE  # downscaled for the view
    report = gltf_validator(path)
    assert report["issues"]["numErrors"] == 0, report["issues"]["messages"][:3]


def test_studio_help_and_bad_folder(capsys, tmp_path):
    assert main(["studio", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--host" in out and "127.0.0.1" in out
    assert main(["studio", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "params.json" in err and len(err.splitlines()) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_studio_command_serves_the_page(tmp_path):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.Popen([sys.executable, "-m", "avatarforge.cli.main", "studio", "-o", str(tmp_path / "out"),
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = ""
        end = time.monotonic() + 60
        while "avatarforge studio:" not in line and time.monotonic() < end:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, proc.stderr.read()
        assert f"http://127.0.0.1:{port}" in line
        html = urllib.request.urlopen(f"http://127.0.0.1:{port}", timeout=10).read().decode()
        assert "<html" in html.lower()
        assert (tmp_path / "out").is_dir()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
