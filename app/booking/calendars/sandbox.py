"""Running untrusted-input work in a child process that is killed at its deadline and capped in memory.

The recurrence library and dateutil do work up front (building every series, stepping a rule from its
DTSTART) that no check inside Python can interrupt, so the budget is enforced from outside: a forked child
(from a forkserver that has the parser imported, so it starts in milliseconds) with an address-space limit,
killed when its time is up.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from booking.errors import Refused

_CONTEXT = multiprocessing.get_context("forkserver")
# The forkserver imports the whole service once (booking.app): measured, a child whose parent had more imported than
# the forkserver spent 1.5-2 s importing before it could start; with everything preloaded it starts in ~12 ms.
_CONTEXT.set_forkserver_preload(["__main__", "booking.app", "booking.calendars.expand"])


# At most this many children at once per service process: with their memory cap that bounds what calendars can
# take from the VM (2 x 256 MB), however many arrive together.
MAX_CHILDREN = 2
_SLOTS = threading.BoundedSemaphore(MAX_CHILDREN)


class OverBudget(Refused):
    """The work took longer or needed more memory than it may."""


class SandboxBusy(Exception):
    """Every child slot stayed taken for the whole wait; the caller should retry shortly."""


def warm_up() -> None:
    """Start the forkserver (and its imports) now, so the first calendar of a process does not wait for it."""
    from multiprocessing import forkserver

    forkserver.ensure_running()


def _vm_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _child(out: Connection, fn: Callable[..., Any], args: tuple[Any, ...], memory_bytes: int) -> None:
    limit = _vm_bytes() + memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        out.send(("ok", fn(*args)))
    except MemoryError:
        out.send(("memory", None))
    except Exception as exc:  # sent back as it is: the caller re-raises it in its own process
        out.send(("error", exc))
    finally:
        out.close()


def run_bounded(fn: Callable[..., Any], *args: Any, seconds: float, memory_bytes: int, what: str,
                wait_s: float = 10.0) -> Any:
    """`fn(*args)` in a child process; OverBudget if it runs past `seconds` or needs more than `memory_bytes`,
    SandboxBusy if no child slot frees up within `wait_s`."""
    if not _SLOTS.acquire(timeout=wait_s):
        raise SandboxBusy(f"{MAX_CHILDREN} calendars are being expanded; retry in a few seconds")
    try:
        return _run(fn, args, seconds, memory_bytes, what)
    finally:
        _SLOTS.release()


def _run(fn: Callable[..., Any], args: tuple[Any, ...], seconds: float, memory_bytes: int, what: str) -> Any:
    receive, send = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(target=_child, args=(send, fn, args, memory_bytes), daemon=True)
    child.start()
    send.close()
    try:
        if not receive.poll(seconds):
            raise OverBudget(f"{what} took longer than {seconds:g} s; share a smaller calendar or one with fewer "
                             "recurring series")
        try:
            status, value = receive.recv()
        except EOFError:  # killed by the kernel (or crashed) before it could answer
            status, value = "memory", None
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
        receive.close()
    if status == "memory":
        raise OverBudget(f"{what} needs more than {memory_bytes // 2**20} MB; share a smaller calendar")
    if status == "error":
        raise value
    return value
