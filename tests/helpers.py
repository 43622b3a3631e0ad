"""Test helpers: database URLs, registry copies, and a real `studio serve` process on 127.0.0.1."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import create_engine, insert, select, text

from studio import PROJECT_ROOT


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def pg_schema_url(base: str, schema: str) -> str:
    """URL whose connections use `schema` (created here) as their search path."""
    base = base.replace("postgresql://", "postgresql+psycopg://", 1)
    eng = create_engine(base)
    with eng.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options={quote(f'-csearch_path={schema}')}"


def copy_registry(src_url: str, dst_url: str) -> None:
    """Copy model versions and activations (not the audit chain) into another database."""
    from store.engine import init_db, make_engine
    from store.tables import ModelActivationRow, ModelVersionRow

    src, dst = make_engine(src_url), make_engine(dst_url)
    init_db(dst)
    with src.connect() as s, dst.begin() as d:
        for table in (ModelVersionRow.__table__, ModelActivationRow.__table__):  # type: ignore[attr-defined]
            rows = [dict(r) for r in s.execute(select(table)).mappings()]
            if rows:
                d.execute(insert(table), rows)
    src.dispose()
    dst.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`studio serve` in a subprocess, as a user would start it."""

    def __init__(self, env: dict[str, str], port: int | None = None, args: tuple[str, ...] = ()) -> None:
        self.args = args  # more `studio serve` options, e.g. ("--access-log",)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "STUDIO_PORT": str(self.port), "STUDIO_HOST": "127.0.0.1"}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = Path(env.get("STUDIO_VAR_DIR", "/tmp")) / f"server-{self.port}.log"
        self.key_file = Path(env.get("STUDIO_ADMIN_KEY_FILE") or Path(env.get("STUDIO_VAR_DIR", "var")) / "admin.key")
        self.admin_key: str | None = None

    def start(self, timeout: float = 120.0) -> Server:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        fh = self.log.open("ab")
        # its own process group: stop() (on teardown, a failure or a timeout) kills whatever it started, too
        self.proc = subprocess.Popen([sys.executable, "-m", "studio.cli", "serve", "--no-train", *self.args],
                                     cwd=PROJECT_ROOT,
                                     env=self.env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
        _LIVE[self.proc.pid] = self
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise RuntimeError(f"server exited with {code}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2.0).status_code in (200, 503):
                    # the key written on the database's first start (an earlier server may have written it)
                    self.admin_key = self.key_file.read_text().strip() if self.key_file.exists() else None
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"server did not start in {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            kill_group(self.proc.pid)  # children that outlived it (a stream-fit child, a resource tracker)
            _LIVE.pop(self.proc.pid, None)
        self.proc = None

    @property
    def headers(self) -> dict[str, str]:
        """Authorization with the admin key (for plain httpx.get/post calls)."""
        return auth(self.admin_key)

    def client(self, key: str | None = "admin", **kw: Any) -> httpx.Client:
        """An HTTP client sending the admin key by default; `key=<other key>`, or key=None for no key."""
        headers = {**auth(self.admin_key if key == "admin" else key), **kw.pop("headers", {})}
        return httpx.Client(base_url=self.url, timeout=60.0, headers=headers, **kw)

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


_LIVE: dict[int, Server] = {}


def kill_group(pgid: int) -> None:
    """SIGKILL a process group (a server started with start_new_session=True and everything it started)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """SIGTERM a helper process started with start_new_session=True; its whole group is killed if it lingers."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)


@atexit.register
def _kill_live_servers() -> None:  # a test run that ends without its fixtures' teardown
    for pid in list(_LIVE):
        kill_group(pid)


def auth(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def server_env(settings: Any, database_url: str | None = None) -> dict[str, str]:
    return {
        "STUDIO_VAR_DIR": str(settings.var_dir),
        "STUDIO_MODELS_DIR": str(settings.models_dir),
        "STUDIO_DATABASE_URL": database_url or settings.database_url,
        "STUDIO_LOG_LEVEL": "WARNING",
        "STUDIO_ENV": "test",
    }
