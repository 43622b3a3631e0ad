"""A child process that exits within a second of its parent's death, kill -9 included (`exit_with_parent`).

On Linux the kernel signals the child when its parent dies (PR_SET_PDEATHSIG with SIGUSR1; the handler exits
only if the parent process is really gone, since the signal also comes when the thread that spawned the child
ends), and on every platform a watchdog thread polls every PARENT_POLL_S. A child whose parent is the process
to follow watches os.getppid() (it changes when the parent dies: the child is re-parented); a child started
through an intermediate (a fork server, a wrapper) probes the process itself, a zombie counting as dead."""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
PARENT_POLL_S = 0.5
PR_SET_PDEATHSIG = 1
_FOLLOWED: dict[str, Any] = {}  # pid: the process to follow; direct: whether it is our parent


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc: kill(0) said it exists
    return state not in ("Z", "X")


def parent_gone() -> bool:
    pid = _FOLLOWED["pid"]
    return os.getppid() != pid if _FOLLOWED["direct"] else not _alive(pid)


def _on_parent_death_signal(signum: int, frame: Any) -> None:
    if parent_gone():
        os._exit(0)


def _watch() -> None:
    while not parent_gone():
        time.sleep(PARENT_POLL_S)
    os._exit(0)


def exit_with_parent(parent_pid: int) -> None:
    """Call first thing in the child, on its main thread, with the pid of the process to follow."""
    _FOLLOWED.update(pid=parent_pid, direct=os.getppid() == parent_pid)
    if parent_gone():
        os._exit(0)
    if sys.platform.startswith("linux"):
        try:
            signal.signal(signal.SIGUSR1, _on_parent_death_signal)
            if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGUSR1), 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        except (OSError, AttributeError, ValueError):  # no prctl: the watchdog alone
            log.warning("PR_SET_PDEATHSIG unavailable; the parent watchdog alone ends this process")
    threading.Thread(target=_watch, name="parent-watchdog", daemon=True).start()
    if parent_gone():  # died before the signal was armed
        os._exit(0)
