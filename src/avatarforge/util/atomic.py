"""Write outputs atomically: into a temporary sibling, then one rename.

A failure half-way leaves the destination as it was (absent, or the previous complete
result), never half-written.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from avatarforge.errors import UserInputError

__all__ = ["atomic_file", "atomic_dir", "AVATAR_MARKERS"]

#: Files whose presence marks a directory as holding an avatar already.
AVATAR_MARKERS = ("avatar.glb", "params.json", "report.json")


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _check_writable(parent: Path) -> None:
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"cannot create output directory {parent}: {exc.strerror}") from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserInputError(f"output directory {parent} is not writable: choose another with -o")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Yield an empty temporary directory; on success it replaces ``path`` whole.

    An existing ``path`` that already holds an avatar is refused unless ``force``; an
    existing directory with unrelated files is refused too (nothing of the user's is
    deleted silently). On failure the temporary directory is removed and ``path`` is
    untouched.
    """
    path = Path(path).absolute()
    if path.exists() and not path.is_dir():
        raise UserInputError(f"output {path} exists and is not a directory: choose another with -o")
    if path.is_dir() and any(path.iterdir()):
        holds_avatar = any((path / m).exists() for m in AVATAR_MARKERS)
        if not force:
            what = "already holds an avatar" if holds_avatar else "is not empty"
            raise UserInputError(f"output directory {path} {what}: pass --force to replace it")
    _check_writable(path.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; the result is an ordinary folder
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old.{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
