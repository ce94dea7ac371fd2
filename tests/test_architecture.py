"""The layering of docs/ARCHITECTURE.md, run as import-linter contracts (pyproject.toml).

The contracts must hold on the package as it is, and must break when an import goes the wrong
way: each case below copies the package's modules to a temporary folder, adds one offending
module (the imports are lazy, inside a function, as most heavy imports here are) and checks
that `lint-imports` names the broken contract and the offending import.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "avatarforge"


def lint_imports(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "lint-imports"  # installed by the dev extra (import-linter)
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run([str(exe), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


N_CONTRACTS = 6
"""The contracts of pyproject.toml's [tool.importlinter]."""


def test_the_package_keeps_its_layers():
    res = lint_imports(ROOT, ROOT / "src")
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{N_CONTRACTS} kept, 0 broken" in res.stdout


BROKEN = {
    # render is a base layer: it may not reach up into the fitting stage.
    "upward": ("render/_probe.py", "from avatarforge.fitting import face_fit", ["Layers:"],
               "avatarforge.render._probe -> avatarforge.fitting.face_fit"),
    # bodies, render and perception are independent of each other.
    "sideways": ("perception/_probe.py", "from avatarforge.bodies import head_mesh", ["Layers:"],
                 "avatarforge.perception._probe -> avatarforge.bodies.head_mesh"),
    # dev sits on top of the layers, and its own contract also names every runtime module.
    "dev tool": ("pipeline/_probe.py", "from avatarforge.dev import face_synthetic",
                 ["Layers:", "The runtime never imports the dev tools"],
                 "avatarforge.pipeline._probe -> avatarforge.dev.face_synthetic"),
    # allowed by the layers (texture is lower), refused by the narrower contract.
    "beside pipeline": ("neural/_probe.py", "from avatarforge.texture import bake",
                        ["neural and implicit use the base layers only"],
                        "avatarforge.neural._probe -> avatarforge.texture.bake"),
    # portrait may use the face fit (the mesh-guided animator), but no later stage.
    "portrait stage": ("portrait/_probe.py", "from avatarforge.texture import bake",
                       ["portrait uses the base layers and the face fit only"],
                       "avatarforge.portrait._probe -> avatarforge.texture.bake"),
    "mediapipe": ("portrait/_probe.py", "import mediapipe", ["Only perception._mediapipe imports mediapipe"],
                  "avatarforge.portrait._probe -> mediapipe"),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_wrong_import_breaks_a_contract(tmp_path, case):
    where, statement, contracts, chain = BROKEN[case]
    shutil.copytree(PACKAGE, tmp_path / "src" / "avatarforge",
                    ignore=lambda d, names: [n for n in names if not (n.endswith(".py") or (Path(d) / n).is_dir())
                                             or n == "__pycache__"])
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    probe = tmp_path / "src" / "avatarforge" / where
    probe.write_text(f"def probe():\n    {statement}\n")

    res = lint_imports(tmp_path, tmp_path / "src")
    assert res.returncode != 0, res.stdout
    out = " ".join(res.stdout.split())  # the report wraps long lines
    assert f"{N_CONTRACTS - len(contracts)} kept, {len(contracts)} broken" in out and chain in out, out
    # "<name> KEPT" / "<name> BROKEN" per contract, in the config's order, after the file count
    verdicts = out.split("dependencies.", 1)[1].split("Contracts: ")[0].lstrip("- ")
    broken = [part.rsplit("KEPT", 1)[-1].strip() for part in verdicts.split("BROKEN")[:-1]]
    assert len(broken) == len(contracts) and all(b.startswith(c) for b, c in zip(broken, contracts)), broken
