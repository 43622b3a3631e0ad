"""Nothing outlives the server: after kill -9 of a real `studio serve`, its stream-fit child (runtime/fit_process.py)
and multiprocessing's resource tracker are gone within 5 s; runtime/lifeline.py alone, for a child of the process
it follows and for one started through an intermediate. Processes are read from /proc (Linux)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from studio import PROJECT_ROOT
from tests.helpers import Server

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid), or None when the process no longer exists."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw.rsplit(")", 1)[1].split()  # the command name (in parentheses) may hold spaces
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")  # a zombie has exited (it waits for a reaper)


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) is not None:
            children.setdefault(st[1], []).append(int(entry))
    out, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_kill_9_of_the_server_leaves_no_fit_child_or_resource_tracker(trained_var: Path, tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir()
    shutil.copy(trained_var / "studio.db", var / "studio.db")
    env = {"STUDIO_VAR_DIR": str(var), "STUDIO_MODELS_DIR": str(trained_var / "models"), "STUDIO_LOG_LEVEL": "INFO",
           "STUDIO_ENV": "test", "STUDIO_STREAM_FIT_PROCESS": "true", "STUDIO_MAINTENANCE_INTERVAL_S": "0"}
    df = pd.read_csv(PROJECT_ROOT / "data" / "stablecoin" / "DAI_daily.csv").head(400)
    stream = f"orphan-{uuid.uuid4().hex[:6]}"
    events = [{"profile": "peg", "stream": stream, "timestamp": t, "value": float(v)}
              for t, v in zip(df["timestamp"], df["close"], strict=True)]
    srv = Server(env).start()
    try:
        assert srv.proc is not None
        with srv.client() as c:
            assert c.post("/v1/decisions:batch", json={"events": events[:40]}).status_code == 200  # warm-up: a fit
            fitted = False
            for ev in events[40:]:  # the fit is installed by a later batch once the child has answered
                if fitted:
                    break
                time.sleep(0.5)
                assert c.post("/v1/decisions", json=ev).status_code == 200
                fitted = c.get(f"/v1/streams/peg/{stream}").json()["fitted"]
        assert fitted, "the stream was never fitted"
        procs = descendants(srv.proc.pid)
        kinds = {pid: cmdline(pid) for pid in procs}
        assert any("spawn_main" in cmd for cmd in kinds.values()), kinds  # the fit child
        assert any("resource_tracker" in cmd for cmd in kinds.values()), kinds
        os.kill(srv.proc.pid, signal.SIGKILL)
        srv.proc.wait(timeout=10)
        killed_at = time.monotonic()
        while time.monotonic() - killed_at < 5.0 and any(alive(p) for p in procs):
            time.sleep(0.05)
        left = {p: kinds[p] for p in procs if alive(p)}
        assert not left, f"outlived the server by 5 s: {left}"
    finally:
        srv.stop()  # kills the whole process group: nothing leaks into later tests even if this one failed


# A follower: a process that calls exit_with_parent(pid to follow), prints its pid and sleeps.
FOLLOWER = ("import os, sys, time; sys.path.insert(0, {root!r}); from runtime.lifeline import exit_with_parent; "
            "exit_with_parent({pid}); print(os.getpid(), flush=True); time.sleep(120)")
# A parent that starts a follower of itself, or through an intermediate (a plain sleeper that starts it).
PARENT = ("import os, subprocess, sys; follower = {follower!r}.replace('{{pid}}', str(os.getpid())); "
          "inter = {intermediate!r}; "
          "args = [sys.executable, '-c', follower] if not inter else "
          "[sys.executable, '-c', 'import subprocess, sys, time; subprocess.Popen(sys.argv[1:]); time.sleep(120)', "
          "sys.executable, '-c', follower]; "
          "subprocess.Popen(args); import time; time.sleep(120)")


@pytest.mark.parametrize("intermediate", [False, True], ids=["child", "through-an-intermediate"])
def test_a_follower_exits_when_the_process_it_follows_is_killed(intermediate: bool) -> None:
    follower = FOLLOWER.format(root=str(PROJECT_ROOT), pid="{pid}")
    parent = subprocess.Popen([sys.executable, "-c", PARENT.format(follower=follower, intermediate=intermediate)],
                              stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())  # the follower's (it inherited the pipe)
        time.sleep(0.3)
        assert alive(pid) and (_stat(pid)[1] == parent.pid) is not intermediate  # type: ignore[index]
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        killed_at = time.monotonic()
        while alive(pid) and time.monotonic() - killed_at < 5.0:
            time.sleep(0.05)
        assert not alive(pid), "the follower outlived the process it follows by 5 s"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)  # the intermediate, and anything left
