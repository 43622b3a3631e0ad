"""Decision rows are written with each JSON column serialized once (keys sorted) and hashed over those bytes:
the hash must equal content_hash() of the row as read back, on SQLite and on PostgreSQL, and the stored JSON must
read back as the same values."""

from __future__ import annotations

import copy
import math
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sqlalchemy import select

from api.routes.decisions import public
from store.decisions import DECISIONS, DecisionDoc, DecisionWriter, content_hash, get_decision, to_text_row
from store.engine import init_db, make_engine
from store.ids import new_id, now_iso


def decision(i: int) -> dict[str, Any]:
    return {
        "id": new_id("dec"), "created_at": now_iso(), "profile": "peg", "stream": "USDC", "event_ts": 1.7e9 + i,
        "request_id": f"req-{i}", "batch_id": "bat_rows", "label": "normal", "severity": 2, "score": 0.123457,
        "action": "watch" if i else "none", "disagreement": 0.05,
        "inputs": {"stream": "USDC", "value": 0.99987, "context": {"venue": "kraken", "note": "é ü ✓"}},
        # keys deliberately out of order, nested, with numpy values and very small / large floats
        "models": [{"status": "ok", "name": "lof", "score": np.float64(0.25), "raw": 1e-300, "ready": True,
                    "detail": {"z": 3, "a": [1.5, None, np.int64(7)]}}],
        "combine": {"method": "meta"}, "quantities": {"zscore": -2.5, "deviation": -0.00013},
        "rule_errors": [], "replay": {"i": i, "X": [0.1 + i, 1e12, -0.0], "q": {"value": 0.99987}},
        "router": {"propensity": 0.96, "arm": "meta", "ucb": {"meta": 1.2, "classifiers": 1.1}},
        "signals": [{"name": "peg_deviation", "value": -0.00013}], "rules": [],
        "governor": {"actions": [{"rule": "governor.threshold.watch", "action": "watch", "detail": ""}]},
        "model_versions": {"lof": "v1", "meta": "v2"},
        "explanation": {"status": "template", "provider": "template", "text": "…", "notice": "n", "href": "/x"},
    }


def check_round_trip(url: str) -> None:
    engine = make_engine(url)
    init_db(engine)
    decisions = [decision(i) for i in range(3)]
    DecisionWriter(engine).write_batch("peg", decisions, [], "test")
    for d in decisions:
        with engine.connect() as conn:
            row = dict(conn.execute(select(DECISIONS).where(DECISIONS.c.id == d["id"])).mappings().one())
        assert row["content_sha256"] == d["content_sha256"] == content_hash(row)
        back = get_decision(engine, d["id"])
        assert back is not None
        assert back["models"][0]["detail"] == {"z": 3, "a": [1.5, None, 7]} and back["models"][0]["raw"] == 1e-300
        assert back["inputs"]["context"]["note"] == "é ü ✓" and back["replay"]["X"][1] == 1e12
        assert math.copysign(1.0, back["replay"]["X"][2]) == -1.0  # -0.0 survives
    # a changed value no longer matches the recorded hash
    tampered = {**row, "score": 0.9}
    assert content_hash(tampered) != row["content_sha256"]
    engine.dispose()


def test_response_embeds_the_rows_serialized_parts(tmp_path: Path) -> None:
    """A DecisionDoc's response reuses the bytes written to its row: the same content as serializing it afresh,
    with the outputs column exactly what serializing it whole gives."""
    engine = make_engine(f"sqlite:///{tmp_path / 'wire.db'}")
    init_db(engine)
    docs = [DecisionDoc(decision(i)) for i in range(2)]
    DecisionWriter(engine).write_batch("peg", docs, [], "test")
    for d in docs:
        assert set(d.wire) == {"inputs", "models", "router", "signals", "rules", "governor", "model_versions"}
        fresh = public(dict(d))  # a plain copy: serialized in full
        assert orjson.loads(orjson.dumps(public(d))) == orjson.loads(orjson.dumps(fresh, option=orjson.OPT_SERIALIZE_NUMPY))
        row = to_text_row(d)
        outputs = {k: d[k] for k in ("models", "combine", "quantities", "rule_errors", "replay")}
        assert row["outputs"] == orjson.dumps(outputs, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()
    assert public(dict(docs[0]))["models"] is docs[0]["models"]  # no wire on a copy
    for copied in (copy.deepcopy(docs[0]), pickle.loads(pickle.dumps(docs[0]))):  # a plain dict, same content
        assert type(copied) is dict and copied == docs[0]
    engine.dispose()


def test_rows_hash_as_read_back_on_sqlite(tmp_path: Path) -> None:
    check_round_trip(f"sqlite:///{tmp_path / 'rows.db'}")


def test_rows_hash_as_read_back_on_postgresql(pg_url: str) -> None:
    check_round_trip(pg_url)
