"""Stream states of one profile: loaded on first use, fitted at the end of warm-up and refitted on schedule
or drift (in the background when serving, inline when replaying), and persisted with each batch."""

from __future__ import annotations

import logging
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.profiles import Profile
from models.bundle import ModelBundle
from models.stream_fit import advance_states, fit_stream
from models.stream_state import StreamFit, StreamState
from store.streams import StreamRepository

log = logging.getLogger(__name__)
DRIFT_Z = 3.0


def keep_persistent(st: StreamState, states: dict[str, dict[str, Any]], bundle: ModelBundle) -> dict[str, dict[str, Any]]:
    """A fit's model states, except for models whose state the fit does not own (`persistent_state`, e.g. the
    context-novelty memory): those keep the live state, which has seen the whole stream."""
    keep = {n: st.model_state[n] for n, m in bundle.models.items()
            if getattr(m, "persistent_state", False) and n in st.model_state}
    return {**states, **keep}


@dataclass
class Checkpoint:
    states: dict[str, dict[str, Any] | None]  # stream -> StreamState.snapshot(), None: not in memory then
    pending: set[str]  # streams with a fit running then


class StreamManager:
    def __init__(self, profile: Profile, repo: StreamRepository | None, *, refit_every: int,
                 executor: Executor | None = None, warmup: int | None = None) -> None:
        assert profile.features is not None
        self.profile = profile
        self.spec = profile.features
        self.repo = repo
        self.refit_every = refit_every
        self.executor = executor  # None: fit inline (replay, tests)
        self.warmup = warmup or self.spec.warmup_points
        self.states: dict[str, StreamState] = {}
        self._pending: dict[str, Future[Any]] = {}

    # -- access ---------------------------------------------------------------------------------------
    def get_many(self, streams: list[str]) -> dict[str, StreamState]:
        missing = [s for s in dict.fromkeys(streams) if s not in self.states]
        if missing and self.repo is not None:
            for stream, (data, fit) in self.repo.load_many(self.profile.name, missing).items():
                self.states[stream] = StreamState.from_json(self.profile.name, stream, self.spec, data, fit)
        for s in missing:
            if s not in self.states:
                self.states[s] = StreamState(self.profile.name, s, self.spec)
        for s in streams:
            self.states[s].min_keep = self.warmup + 1
        return {s: self.states[s] for s in streams}

    # -- undo -----------------------------------------------------------------------------------------
    def checkpoint(self, streams: list[str], bundle: ModelBundle) -> Checkpoint:
        """Before a batch: install finished fits, then remember the batch's streams as they are in memory, so
        `rollback` can undo the batch if it fails before it commits."""
        self.apply_pending(bundle)
        return Checkpoint({s: st.snapshot() if (st := self.states.get(s)) is not None else None
                           for s in dict.fromkeys(streams)}, set(self._pending))

    def rollback(self, cp: Checkpoint) -> None:
        """Undo a failed batch in memory: its streams go back to their checkpoint, and those it loaded
        are forgotten (the next batch reads them again from the database, which the batch did not change)."""
        for stream in set(self._pending) - cp.pending:  # fits started by the failed batch
            self._pending.pop(stream).cancel()
        for stream, snap in cp.states.items():
            if snap is None:
                self.states.pop(stream, None)
            elif stream in self.states:
                self.states[stream].restore(snap)

    def peek(self, stream: str) -> StreamState | None:
        return self.get_many([stream])[stream] if stream else None

    # -- fitting --------------------------------------------------------------------------------------
    def due(self, st: StreamState) -> str | None:
        if st.fit_requested:
            return None
        if st.fit is None:
            return "warm-up complete" if st.n_seen >= self.warmup else None
        if st.refit_reason:
            return st.refit_reason
        if self.refit_every and st.since_fit >= self.refit_every:
            return "scheduled refit"
        if self.spec.normalize != "peg" and st.since_fit >= 4 * self.spec.window:
            recent = (st.values[-4 * self.spec.window :] - st.fit.mu) / st.fit.sd
            if abs(float(np.mean(recent))) > DRIFT_Z:
                return "drift"
        return None

    def after_batch(self, touched: dict[str, StreamState], bundle: ModelBundle) -> None:
        """Start (or, inline, run) the fits that became due with this batch."""
        for stream, st in touched.items():
            reason = self.due(st)
            if reason is None:
                continue
            n = min(st.values.size, max(self.warmup, self.spec.history))
            ts, values = st.ts[-n:].copy(), st.values[-n:].copy()
            version = (st.fit.version + 1) if st.fit else 1
            st.fit_requested = True
            log.info("fitting stream %s/%s on %d points (%s)", self.profile.name, stream, n, reason)
            if self.executor is None:
                fit, states = fit_stream(self.profile, bundle, ts, values, n_at_fit=st.n_seen, version=version)
                st.set_fit(fit, keep_persistent(st, states, bundle))
            else:
                self._pending[stream] = self.executor.submit(fit_stream, self.profile, bundle, ts, values,
                                                             n_at_fit=st.n_seen, version=version)

    def apply_pending(self, bundle: ModelBundle) -> None:
        """Install finished background fits, catching each model state up with points seen meanwhile."""
        for stream, fut in list(self._pending.items()):
            if not fut.done():
                continue
            del self._pending[stream]
            st = self.states.get(stream)
            if st is None:  # forgotten by a rollback: it refits from its stored state
                continue
            try:
                fit, states = fut.result()
            except Exception:  # a failed fit leaves the stream on its previous fit; retried later
                log.exception("stream fit failed for %s/%s", self.profile.name, stream)
                st.fit_requested = False
                continue
            behind = st.n_seen - fit.n_at_fit
            if behind > 0:
                states = advance_states(bundle, fit, states, st.ts[-behind:], st.values[-behind:])
            st.set_fit(fit, keep_persistent(st, states, bundle))

    def wait_pending(self, bundle: ModelBundle) -> None:
        for fut in list(self._pending.values()):
            fut.result()
        self.apply_pending(bundle)

    def models_changed(self, names: list[str]) -> None:
        """A reload changed these models: drop their per-stream calibrators and refit each stream soon."""
        for st in self.states.values():
            if st.fit is not None and any(n in st.fit.calibrators or n in st.fit.local for n in names):
                for n in names:
                    st.fit.calibrators.pop(n, None)
                    st.fit._cal_cache.pop(n, None)
                st.refit_reason = "models changed"

    # -- persistence ----------------------------------------------------------------------------------
    def dirty_rows(self, touched: dict[str, StreamState]) -> list[tuple[StreamState, dict[str, Any], StreamFit | None]]:
        return [(st, st.to_json(), st.fit if st.fit_dirty else None) for st in touched.values() if st.dirty]

    @staticmethod
    def mark_clean(touched: dict[str, StreamState]) -> None:
        for st in touched.values():
            st.dirty = False
            st.fit_dirty = False
