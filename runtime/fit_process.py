"""Stream fits in a child process, so that they run on the second core instead of taking the GIL from decisions.

A fit (warm-up or scheduled refit) is statsmodels ARIMA and ETS, Prophet and a pass of every model over the
stream's history: about 0.4 s of CPU, most of it Python holding the GIL. On its own thread it stole that time
from the decision path (four refits fell inside the benchmark's batch phase). `FitProcess` is an Executor that
runs only `fit_stream`: the child is spawned on first use, loads each profile's bundle itself by the exact
versions the parent serves (verified by sha256 like every load), and arguments and results cross as JSON, not
pickle; floats survive the round trip exactly, so a fit is the same as one computed in the parent (tested).
A child that dies is replaced on the next submit; the fit that was in flight fails and is retried later.

Nothing outlives the server: the child exits within a second of the server's death, kill -9 included
(runtime/lifeline.py: a parent-death signal and a watchdog). multiprocessing's resource tracker, started for the
pool's queues, then sees EOF on its pipe (the server and the child held its only write ends) and exits too."""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from models.stream_fit import fit_stream
from models.stream_state import StreamFit
from runtime.lifeline import exit_with_parent

log = logging.getLogger(__name__)
_JSON = orjson.OPT_SERIALIZE_NUMPY
_CHILD: dict[str, Any] = {}  # in the child: the registry, the profiles and the bundles loaded so far


def _init_child(database_url: str, models_path: str, profiles_dir: str, parent_pid: int) -> None:
    exit_with_parent(parent_pid)
    import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS, so the limit below covers it as well as numpy's)
    import torch
    from threadpoolctl import threadpool_limits

    from core.profiles import load_profiles
    from models.registry import ModelRegistry
    from store.engine import make_engine

    torch.set_num_threads(1)
    threadpool_limits(limits=1, user_api="blas")  # small fits; an idle OpenBLAS helper thread spins on a core
    _CHILD.update(registry=ModelRegistry(Path(models_path), make_engine(database_url)),
                  profiles=load_profiles(Path(profiles_dir)), bundles={})


def _bundle(profile_name: str, versions: dict[str, str]) -> tuple[Any, Any]:
    from models.bundle import load_bundle

    key = (profile_name, tuple(sorted(versions.items())))
    bundles: dict[Any, Any] = _CHILD["bundles"]
    if key not in bundles:
        for old in [k for k in bundles if k[0] == profile_name]:  # a reload replaced this profile's models
            del bundles[old]
        profile = _CHILD["profiles"][profile_name]
        bundle = load_bundle(profile, _CHILD["registry"], overrides=versions)
        bundle.models = {n: m for n, m in bundle.models.items() if n in versions}  # what the parent serves
        bundles[key] = (profile, bundle)
    return bundles[key]  # type: ignore[no-any-return]


def fit_in_child(request: bytes) -> bytes:
    """The child's side: one fit_stream call, JSON in and out."""
    req = orjson.loads(request)
    profile, bundle = _bundle(req["profile"], req["versions"])
    fit, states = fit_stream(profile, bundle, np.asarray(req["ts"], dtype=float),
                             np.asarray(req["values"], dtype=float), n_at_fit=req["n_at_fit"], version=req["version"])
    return orjson.dumps({"fit": fit.to_json(), "states": states}, option=_JSON)


class FitProcess(Executor):
    """Executor for `fit_stream` only (what StreamManager submits); everything else is refused."""

    def __init__(self, database_url: str, models_path: Path, profiles_dir: Path) -> None:
        self._init_args = (database_url, str(models_path), str(profiles_dir))
        self._pool: ProcessPoolExecutor | None = None

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_init_child, initargs=(*self._init_args, os.getpid()))
        return self._pool

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        if fn is not fit_stream:
            raise TypeError("FitProcess runs fit_stream only")
        profile, bundle, ts, values = args
        request = orjson.dumps({"profile": profile.name, "versions": bundle.versions, "ts": ts, "values": values,
                                "n_at_fit": int(kwargs["n_at_fit"]), "version": int(kwargs["version"])}, option=_JSON)
        try:
            inner = self._executor().submit(fit_in_child, request)
        except BrokenProcessPool:  # the child died (killed, out of memory): start a new one
            log.warning("stream-fit process died; starting a new one")
            self._pool = None
            inner = self._executor().submit(fit_in_child, request)
        out: Future[Any] = Future()

        def done(f: Future[bytes]) -> None:
            try:
                data = orjson.loads(f.result())
                out.set_result((StreamFit.from_json(data["fit"]), data["states"]))
            except BaseException as exc:  # noqa: BLE001 (handed to the waiting StreamManager)
                out.set_exception(exc)

        inner.add_done_callback(done)
        return out

    def pid(self) -> int | None:
        """The child's process id, once it runs (the benchmark reports its memory)."""
        procs = getattr(self._pool, "_processes", None) or {}
        return next(iter(procs), None)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
            self._pool = None
