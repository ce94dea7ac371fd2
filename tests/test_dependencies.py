"""Every third-party package imported by the code is declared in pyproject.toml, and every
declared one is used (directly, through `errors.require`, or as a tool the tests run)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
#: Declared but never imported by name: run as tools or loaded by module name at run time.
NOT_IMPORTED = {"ruff", "beartype", "ray", "smplx", "import-linter",
                "face-recognition-models"}  # data only: bench_faces finds it with importlib.util.find_spec
#: The benchmark-only extra (not installed by `make test`): its distributions' module names.
BENCH_MODULES = {"dlib-bin": "dlib", "face-recognition-models": "face_recognition_models"}


def _dist(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imports(*folders: str) -> dict[str, set[str]]:
    """Top-level module name -> files importing it (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for folder in folders:
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for name in names:
                    found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def _undeclared(imports: dict[str, set[str]], declared: set[str]) -> dict[str, set[str]]:
    local = {p.stem for p in ROOT.rglob("*.py")} | {"avatarforge"}
    dists = packages_distributions()
    out = {}
    for module, files in imports.items():
        if module in sys.stdlib_module_names or module in local or module == "__future__":
            continue
        owners = {d.lower().replace("_", "-") for d in dists.get(module, [])}
        if not owners & declared:
            out[module] = files
    return out


def test_runtime_imports_are_declared():
    extras = PROJECT["optional-dependencies"]
    declared = {_dist(r) for r in PROJECT["dependencies"]}
    declared |= {_dist(r) for name in ("studio", "research", "dist") for r in extras[name]}
    declared.add("playwright")  # studio/browser.py: a dev tool, in the dev extra
    assert _undeclared(_imports("src"), declared) == {}


def test_test_and_benchmark_imports_are_declared():
    declared = {_dist(r) for r in PROJECT["dependencies"]} | {_dist(r) for r in PROJECT["optional-dependencies"]["dev"]}
    bench = {_dist(r) for r in PROJECT["optional-dependencies"]["bench"]}
    assert bench == set(BENCH_MODULES)
    missing = _undeclared(_imports("tests", "benchmarks"), declared)
    assert {m: f for m, f in missing.items() if m not in BENCH_MODULES.values()} == {}


def test_every_declared_package_is_used():
    dists = packages_distributions()
    imported = {d.lower().replace("_", "-") for m in _imports("src", "tests", "benchmarks") for d in dists.get(m, [])}
    declared = {_dist(r) for r in PROJECT["dependencies"]}
    declared |= {_dist(r) for reqs in PROJECT["optional-dependencies"].values() for r in reqs}
    imported |= {d for d, m in BENCH_MODULES.items() if m in _imports("benchmarks")}
    assert declared - imported - NOT_IMPORTED == set()
