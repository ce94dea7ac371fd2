"""Run the Khronos glTF validator (npm ``gltf-validator`` under ``tools/``) on a file.

The validator is a development tool, not a runtime dependency: it needs Node.js and
``npm ci --prefix tools`` in a source checkout. Set ``AVATARFORGE_GLTF_VALIDATOR`` to the
path of ``validate_gltf.mjs`` (and ``AVATARFORGE_NODE`` to a node executable) to use a copy
elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

__all__ = [
    "GltfValidatorUnavailable",
    "find_validator",
    "validate_gltf",
    "format_issues",
    "SEVERITY_NAMES",
]

SCRIPT_NAME = "validate_gltf.mjs"
#: The validator's severity codes.
SEVERITY_NAMES = {0: "error", 1: "warning", 2: "info", 3: "hint"}


class GltfValidatorUnavailable(RuntimeError):
    """Node.js or the npm ``gltf-validator`` package is not installed where we look."""


def _script_path() -> Path:
    override = os.environ.get("AVATARFORGE_GLTF_VALIDATOR")
    if override:
        script = Path(override).expanduser()
        if not script.is_file():
            raise GltfValidatorUnavailable(f"AVATARFORGE_GLTF_VALIDATOR={override} is not a file")
        return script
    # A source checkout: <repo>/src/avatarforge/export/validate.py -> <repo>/tools/.
    for parent in Path(__file__).resolve().parents:
        script = parent / "tools" / SCRIPT_NAME
        if script.is_file():
            return script
    raise GltfValidatorUnavailable(
        f"tools/{SCRIPT_NAME} was not found above {Path(__file__).resolve().parent}; the glTF "
        "validator is only available in a source checkout (or set AVATARFORGE_GLTF_VALIDATOR)"
    )


def find_validator() -> tuple[str, Path]:
    """Return ``(node executable, validate_gltf.mjs path)`` or raise `GltfValidatorUnavailable`."""
    script = _script_path()
    package = script.parent / "node_modules" / "gltf-validator" / "package.json"
    if not package.is_file():
        raise GltfValidatorUnavailable(
            f"the npm package gltf-validator is not installed in {script.parent}; "
            f"run: npm ci --prefix {script.parent}"
        )
    node = os.environ.get("AVATARFORGE_NODE") or shutil.which("node")
    if not node:
        raise GltfValidatorUnavailable(
            "node (Node.js >= 18) is not on PATH; install it or set AVATARFORGE_NODE"
        )
    return node, script


def validate_gltf(
    path: str | os.PathLike[str], *, max_issues: int = 0, timeout: float = 300.0
) -> dict[str, Any]:
    """Validate a .glb/.gltf and return the validator's report (its own JSON schema).

    The counts are in ``report["issues"]["numErrors" | "numWarnings" | "numInfos" |
    "numHints"]`` and each message in ``report["issues"]["messages"]`` has ``code``,
    ``message``, ``severity`` (0 error .. 3 hint) and ``pointer``. ``max_issues=0`` lists all.
    Raises `GltfValidatorUnavailable` when node or the validator is missing, and
    ``RuntimeError`` when the validator produced no report.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"no glTF file at {file}")
    node, script = find_validator()
    cmd = [node, str(script), str(file.resolve()), "--max-issues", str(int(max_issues))]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode not in (0, 1):
        raise RuntimeError(
            f"glTF validator failed on {file} (exit {proc.returncode}): {proc.stderr.strip()}"
        )
    return json.loads(proc.stdout)


def format_issues(report: dict[str, Any], max_severity: int = 3) -> str:
    """One line per message with severity <= ``max_severity`` (0 errors only ... 3 all)."""
    lines = [
        f"{SEVERITY_NAMES.get(m['severity'], m['severity'])} {m['code']} at "
        f"{m.get('pointer', m.get('offset', '?'))}: {m['message']}"
        for m in report.get("issues", {}).get("messages", [])
        if m["severity"] <= max_severity
    ]
    return "\n".join(lines)
