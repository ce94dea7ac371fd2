"""Files the browser sends: size limit, type check by content, storage inside the output dir.

Nothing from the client decides a path: uploads are stored under a random name in
``<output dir>/uploads``; the client's file name is only shown back to the user.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from avatarforge.errors import UserInputError
from avatarforge.util.atomic import atomic_write_bytes

__all__ = ["MAX_PHOTO_BYTES", "MAX_PARAMS_BYTES", "sniff_image", "check_size", "store_upload", "store_photo", "store_params"]

#: Largest photo accepted from the page.
MAX_PHOTO_BYTES = 20 * 1024 * 1024
#: Largest params.json accepted from the page.
MAX_PARAMS_BYTES = 1024 * 1024

# (magic prefix, offset, extension); WebP is RIFF....WEBP.
_MAGIC = (
    (b"\xff\xd8\xff", 0, ".jpg"),
    (b"\x89PNG\r\n\x1a\n", 0, ".png"),
    (b"WEBP", 8, ".webp"),
    (b"BM", 0, ".bmp"),
    (b"II*\x00", 0, ".tif"),
    (b"MM\x00*", 0, ".tif"),
)


def sniff_image(content: bytes) -> str:
    """The file extension of an image by its first bytes (JPEG, PNG, WebP, BMP, TIFF), else
    a UserInputError."""
    for magic, offset, ext in _MAGIC:
        if content[offset:offset + len(magic)] == magic and (ext != ".webp" or content[:4] == b"RIFF"):
            return ext
    raise UserInputError("the uploaded file is not a JPEG, PNG, WebP, BMP or TIFF image")


def check_size(content: bytes, limit: int, what: str) -> None:
    """UserInputError when an upload is empty or over ``limit`` bytes."""
    if not content:
        raise UserInputError(f"the uploaded {what} is empty")
    if len(content) > limit:
        raise UserInputError(f"the uploaded {what} is {len(content) / 1e6:.1f} MB; the limit is {limit / 1e6:.0f} MB")


def store_upload(outdir: str | os.PathLike, content: bytes, limit: int, what: str, stem: str, ext: str,
                 check: Callable[[Path], object]) -> Path:
    """Store an upload (size checked first) as ``<outdir>/uploads/<stem>-<random><ext>`` and run
    ``check(path)``; when it raises UserInputError the file is removed and the error says
    the upload cannot be used (the stored path never shown). Returns the path."""
    check_size(content, limit, what)
    path = Path(outdir) / "uploads" / f"{stem}-{secrets.token_hex(6)}{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, content)
    try:
        check(path)
    except UserInputError as exc:
        path.unlink(missing_ok=True)
        raise UserInputError(f"the uploaded {what} cannot be used: {str(exc).replace(str(path), 'it')}") from None
    return path


def store_photo(outdir: str | os.PathLike, content: bytes, limit: int = MAX_PHOTO_BYTES) -> Path:
    """Check an uploaded photo (size, type, full decode) and store it as
    ``<outdir>/uploads/<random>.<ext>``; returns the path. The decoded check uses
    `perception.image_io.load_image`, so a truncated or corrupt image is refused here."""
    from avatarforge.perception.image_io import load_image

    check_size(content, limit, "photo")
    return store_upload(outdir, content, limit, "photo", "photo", sniff_image(content), load_image)


def store_params(outdir: str | os.PathLike, content: bytes, limit: int = MAX_PARAMS_BYTES) -> Path:
    """Store an uploaded params.json as ``<outdir>/uploads/params-<random>.json`` (validated
    by `bodies.ParamsFile.read`); returns the path."""
    from avatarforge.bodies import ParamsFile

    return store_upload(outdir, content, limit, "params file", "params", ".json", ParamsFile.read)
