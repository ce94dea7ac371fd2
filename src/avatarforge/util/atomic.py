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

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "atomic_dir", "check_output_dir", "AVATAR_MARKERS"]

#: Files whose presence marks a directory as holding an avatar already.
AVATAR_MARKERS = ("avatar.glb", "params.json", "report.json")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success move it onto ``path``.

    The temporary file is ``<stem>.<random><suffix>.tmp`` in the same directory (same file
    system, so ``os.replace`` is atomic; ``*.glb.tmp`` is git-ignored). On any exception it is
    removed and the target is left untouched.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        dir=target.parent, prefix=f"{target.stem}.", suffix=f"{target.suffix}.tmp"
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600 files; give the export ordinary permissions (or keep the old ones).
        os.chmod(tmp, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (``\\n`` newlines) and return the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def check_writable_dir(parent: Path) -> None:
    """Create ``parent`` if needed and check it is writable (UserInputError if not)."""
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"cannot create output directory {parent}: {exc.strerror}") from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UserInputError(f"output directory {parent} is not writable: choose another with -o")


def check_output_dir(path: str | os.PathLike, force: bool = False) -> Path:
    """Refuse an output directory that cannot be (re)placed; returns it absolute.

    A file, a directory holding an avatar (unless ``force``), a non-empty unrelated directory
    (unless ``force``) or an unwritable parent is a UserInputError. Commands call this first,
    so that they fail before the slow work.
    """
    path = Path(path).absolute()
    if path.exists() and not path.is_dir():
        raise UserInputError(f"output {path} exists and is not a directory: choose another with -o")
    if path.is_dir() and any(path.iterdir()) and not force:
        holds_avatar = any((path / m).exists() for m in AVATAR_MARKERS)
        what = "already holds an avatar" if holds_avatar else "is not empty"
        raise UserInputError(f"output directory {path} {what}: pass --force to replace it")
    check_writable_dir(path.parent)
    return path


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Yield an empty temporary directory; on success it replaces ``path`` whole.

    An existing ``path`` that already holds an avatar is refused unless ``force``; an
    existing directory with unrelated files is refused too (nothing of the user's is
    deleted silently). On failure the temporary directory is removed and ``path`` is
    untouched.
    """
    path = check_output_dir(path, force)
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
