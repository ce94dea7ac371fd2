"""Thread-count control for small-tensor work.

The fitting loops run thousands of tiny torch ops; with torch's default 2 OpenMP threads
they are 3-6x slower whenever anything else runs on this 2-core CPU (spin-waiting threads;
measured: face fit 7-12 s with 2 threads vs 1.7-2.2 s with 1 thread under load, ~1.5 s
either way on an idle machine). So the fits run single-threaded.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import TypeVar


F = TypeVar("F", bound=Callable)

__all__ = ["torch_threads", "single_threaded"]


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, then restore the previous count."""
    import torch  # here, not at module level: importing this module must not import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def single_threaded(func: F) -> F:
    """Decorator: run ``func`` with one torch thread (the pipeline stages: their tensors are
    small, and rendering a preview was 4-7x slower with 2 threads on a busy 2-core CPU)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with torch_threads(1):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
