"""Many photos -> many avatars: local worker processes or a Ray cluster.

Locally the body model is loaded once, in the batch's own process; on Linux the workers are
forked from it afterwards and share the loaded model (copy-on-write) instead of each
importing and loading it again. One worker runs the photos in the batch's own process.

One output folder per photo; resumable (a folder with a report.json is done and skipped
unless ``force``); a failing photo is recorded with its error in ``batch_report.json`` and
never stops the rest.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from avatarforge.errors import UserInputError

__all__ = ["BatchItem", "find_photos", "plan_batch", "run_batch", "process_one", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


@dataclass
class BatchItem:
    photo: str
    out: str
    status: str = "pending"
    """done | failed | skipped."""
    error: str | None = None
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def find_photos(source: str | os.PathLike) -> list[Path]:
    """Image files in a directory (not recursive) or matching a glob pattern, sorted."""
    src = str(source)
    path = Path(src)
    if path.is_dir():
        files = [p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    elif any(ch in src for ch in "*?["):
        files = [Path(p) for p in glob.glob(src, recursive=True)
                 if Path(p).is_file() and Path(p).suffix.lower() in IMAGE_SUFFIXES]
    elif path.is_file():
        files = [path]
    else:
        raise UserInputError(f"{src} is neither a directory, an image file nor a glob pattern that matches")
    if not files:
        raise UserInputError(f"no photos ({', '.join(IMAGE_SUFFIXES)}) found in {src}")
    return sorted(files)


def plan_batch(photos: Iterable[Path], outdir: Path, force: bool = False) -> list[BatchItem]:
    """One output folder per photo (its stem; a short hash is added when stems collide)."""
    photos = list(photos)
    stems = [p.stem for p in photos]
    items = []
    for p, stem in zip(photos, stems):
        name = stem if stems.count(stem) == 1 else f"{stem}-{hashlib.sha1(str(p).encode()).hexdigest()[:6]}"
        out = outdir / name
        done = (out / "report.json").exists() and not force
        items.append(BatchItem(str(p), str(out), "skipped" if done else "pending"))
    return items


#: The body model loaded by the batch's process before its workers fork (None: each loads one).
_BODY = None


def process_one(photo: str, out: str, options_dict: dict, force: bool) -> dict:
    """Create one avatar (runs inside a worker process); never raises."""
    from avatarforge.errors import AvatarforgeError
    from avatarforge.outputs import Report
    from avatarforge.pipeline.create import CreateOptions, create_avatar, write_create_outputs

    import torch

    torch.set_num_threads(1)  # one process per core; threads would only contend
    start = time.perf_counter()
    item = BatchItem(photo, out)
    try:
        opts = CreateOptions(**options_dict)
        report = Report(command="batch")
        result = create_avatar(photo, opts, body=_BODY)
        write_create_outputs(result, out, report, force=True if force or Path(out).exists() else False,
                             preview_size=opts.preview_size)
        item.status, item.warnings = "done", list(result.warnings)
    except AvatarforgeError as exc:
        item.status, item.error = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - recorded per photo, the batch goes on
        item.status, item.error = "failed", f"internal error: {type(exc).__name__}: {exc}"
    item.seconds = time.perf_counter() - start
    return asdict(item)


def _process_job(job: tuple) -> dict:
    return process_one(*job)


def _start_method() -> str:
    """How the local workers start: "fork" after the body model is loaded, so they share it;
    but MediaPipe is not fork-safe once used (a library caller may have detected faces in this
    process already): then "spawn", and each worker loads its own body model."""
    import sys

    mediapipe = sys.modules.get("avatarforge.perception._mediapipe")
    return "spawn" if mediapipe is not None and mediapipe.loaded_models() else "fork"


def _local_runner(workers: int):
    def run(jobs, on_done):
        global _BODY
        import sys

        if workers > 1 and not sys.platform.startswith("linux"):  # no safe fork: each worker loads
            from joblib import Parallel, delayed

            parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered")
            for res in parallel(delayed(process_one)(*job) for job in jobs):
                on_done(res)
            return
        import torch

        from avatarforge.bodies import load_body

        torch.set_num_threads(1)  # before any torch work: a forked child must not inherit a thread pool
        _BODY = load_body()
        if workers == 1:
            for job in jobs:
                on_done(process_one(*job))
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(_start_method())) as pool:
            futures = {pool.submit(_process_job, job): job for job in jobs}
            for fut in as_completed(futures):
                try:
                    res = fut.result()
                except Exception as exc:  # noqa: BLE001 - a worker died (e.g. killed): record, go on
                    photo, out = futures[fut][:2]
                    res = asdict(BatchItem(photo, out, "failed", f"internal error: worker died: {exc}"))
                on_done(res)

    return run


def _ray_runner(address: str):
    from avatarforge.errors import require

    ray = require("ray", "dist")

    def run(jobs, on_done):
        if not ray.is_initialized():
            ray.init(address=None if address == "local" else address, ignore_reinit_error=True,
                     include_dashboard=False, log_to_driver=False)
        remote = ray.remote(num_cpus=1)(process_one)
        pending = [remote.remote(*job) for job in jobs]
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            on_done(ray.get(ready[0]))

    return run


def run_batch(items: list[BatchItem], options_dict: dict, report_path: Path, workers: int = 1,
              ray_address: str | None = None, force: bool = False,
              progress: Callable[[BatchItem], None] | None = None) -> dict:
    """Process the pending items and write ``report_path`` (also after every finished photo,
    so that an interrupted batch leaves a truthful report)."""
    start = time.perf_counter()
    by_photo = {it.photo: it for it in items}
    jobs = [(it.photo, it.out, options_dict, force) for it in items if it.status == "pending"]

    def summary() -> dict:
        counts = {s: sum(it.status == s for it in items) for s in ("done", "failed", "skipped", "pending")}
        elapsed = time.perf_counter() - start
        return {"counts": counts, "seconds": round(elapsed, 2), "workers": workers,
                "backend": "ray" if ray_address else "local",
                "photos_per_minute": round(60 * counts["done"] / elapsed, 2) if elapsed > 0 and counts["done"] else 0.0,
                "items": [asdict(it) for it in items]}

    def write() -> None:
        from avatarforge.util.atomic import atomic_write_text

        atomic_write_text(report_path, json.dumps(summary(), indent=1))

    def on_done(res: dict) -> None:
        item = by_photo[res["photo"]]
        item.status, item.error, item.seconds, item.warnings = res["status"], res["error"], res["seconds"], res["warnings"]
        write()
        if progress:
            progress(item)

    write()
    runner = _ray_runner(ray_address) if ray_address else _local_runner(workers)
    if jobs:
        runner(jobs, on_done)
    write()
    return summary()
