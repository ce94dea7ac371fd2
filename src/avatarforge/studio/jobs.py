"""Long jobs the studio runs off the GUI thread: `create` from a photo, with stage reports."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from avatarforge.errors import UserInputError
from avatarforge.util.progress import Stages

__all__ = ["ReportingStages", "CreateJob", "run_create", "CREATE_LOCK", "background_job"]

log = logging.getLogger(__name__)

#: One `create` at a time per process: it uses the whole CPU for ~15 s.
CREATE_LOCK = threading.Lock()


@dataclass
class ReportingStages(Stages):
    """Stages that also call ``on_stage(name, done, total)`` when each stage starts."""

    on_stage: Callable[[str, int, int], None] | None = None
    done: int = 0

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.on_stage is not None:
            self.on_stage(name, self.done, self.total or 0)
        try:
            with super().stage(name):
                yield
        finally:
            self.done += 1


@dataclass
class CreateJob:
    """The result of one studio `create` run."""

    outdir: Path
    """Where the avatar was written (inside the studio's output directory)."""
    values: dict[str, float]
    texture: object | None
    """(H, W, 3) uint8 albedo, or None."""
    pose: str
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    look: object = None
    """studio.look.Look: the hair and outfit `create` found in the photo."""


def run_create(photo: str | os.PathLike, outdir: str | os.PathLike, body,
               on_stage: Callable[[str, int, int], None] | None = None,
               texture_size: int = 1024) -> CreateJob:
    """Photo -> avatar written to ``outdir`` (`pipeline.create`), reporting each stage."""
    from avatarforge.outputs import Report
    from avatarforge.pipeline.create import CREATE_STAGES, CreateOptions, create_avatar, write_create_outputs

    stages = ReportingStages(total=CREATE_STAGES - 1, on_stage=on_stage)  # the body model is loaded already
    report = Report(command="studio create")
    with CREATE_LOCK:
        result = create_avatar(photo, CreateOptions(texture_size=texture_size), body=body, stages=stages)
        out = write_create_outputs(result, outdir, report, stages, force=False)
    from avatarforge.studio.look import Look

    avatar = result.avatar
    look = Look.from_avatar(avatar, None if result.hair is None else result.hair.style)
    return CreateJob(Path(out), dict(avatar.values), avatar.texture, avatar.pose_preset, list(result.warnings),
                     stages.total_seconds, look)


def background_job(what: str, work: Callable[[], None], button, progress, text,
                   notify: Callable[..., None], wait: bool = False) -> threading.Thread:
    """Run ``work`` in a daemon thread with ``button`` disabled and the ``progress`` bar and
    ``text`` (viser handles) shown; a failure is shown in ``text`` and notified as
    ``"<what> failed"`` (``notify(title, body, error=True)``), never raised. Returns the thread
    (joined first when ``wait``)."""
    button.disabled = True
    progress.value = 0.0
    progress.visible = True
    text.content = "waiting for the CPU…"
    text.visible = True

    def job() -> None:
        try:
            work()
        except UserInputError as exc:
            text.content = f"{what} failed: {exc}"
            notify(f"{what} failed", str(exc), error=True)
        except Exception as exc:  # noqa: BLE001 - report, keep serving
            log.exception("studio: %s failed", what)
            text.content = f"{what} failed: internal error {type(exc).__name__}: {exc}"
            notify(f"{what} failed", f"internal error: {type(exc).__name__}: {exc}", error=True)
        finally:
            progress.visible = False
            button.disabled = False

    thread = threading.Thread(target=job, name=f"studio-{what}", daemon=True)
    thread.start()
    if wait:
        thread.join()
    return thread
