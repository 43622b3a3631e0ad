"""The audit trail for auditors: query with filters and cursor pages, stream an export (JSON lines or CSV), and
verify the hash chain, decision rows and signed checkpoints (reports what is broken or missing)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.deps import AuditDep, ReadKey
from api.responses import FastJSONResponse
from api.schemas import MAX_INT, IsoDatetime
from core.domain import AuditEvent
from studio.audit_log import MAX_LIMIT

router = APIRouter(prefix="/v1/audit", tags=["audit"])
CSV_COLUMNS = ("seq", "ts", "actor", "action", "subject_type", "subject_id", "payload", "prev_hash", "hash")


def _filters(subject_type: str | None, subject_id: str | None, actor: str | None, action: str | None,
             since: datetime | None, until: datetime | None) -> dict[str, Any]:
    return {"subject_type": subject_type, "subject_id": subject_id, "actor": actor, "action": action,
            "since": since, "until": until}


SubjectType = Query(None, max_length=200, description="decision, alert, model, router, api_key, route, ...")
SubjectId = Query(None, max_length=200, description="e.g. a decision or alert id")
Actor = Query(None, max_length=200, description="an API key id, `api`, `overseer`, `review`, `bootstrap`, ...")
# letters, digits and . _ : - only, so no SQL LIKE wildcard (% or _ as a pattern) can reach the query
Action = Query(None, max_length=101, pattern=r"^[A-Za-z0-9_.:\-]{1,100}\*?$",
               description="exact (`alert.resolved`) or a prefix ending in * (`alert.*`)")
Since = Query(None, description="at or after (ISO-8601)")
Until = Query(None, description="before (ISO-8601)")


@router.get("", response_class=FastJSONResponse, summary="Audit events matching every filter, cursor-paginated")
async def list_audit(audit: AuditDep, key: ReadKey, subject_type: str | None = SubjectType,
                     subject_id: str | None = SubjectId, actor: str | None = Actor, action: str | None = Action,
                     since: IsoDatetime | None = Since, until: IsoDatetime | None = Until,
                     order: Literal["asc", "desc"] = "asc", limit: int = Query(100, ge=1, le=MAX_LIMIT),
                     cursor: int | None = Query(None, ge=1, le=MAX_INT,
                                                description="`next_cursor` of the previous page")) -> Any:
    return FastJSONResponse(await audit.query(cursor=cursor, limit=limit, descending=order == "desc",
                                              **_filters(subject_type, subject_id, actor, action, since, until)))


@router.get("/export", summary="Stream every matching event, oldest first, as JSON lines or CSV",
            response_class=StreamingResponse,
            responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}})
async def export(audit: AuditDep, key: ReadKey, format: Literal["jsonl", "csv"] = "jsonl",
                 subject_type: str | None = SubjectType, subject_id: str | None = SubjectId,
                 actor: str | None = Actor, action: str | None = Action, since: IsoDatetime | None = Since,
                 until: IsoDatetime | None = Until) -> Any:
    filters = _filters(subject_type, subject_id, actor, action, since, until)

    async def rows() -> AsyncIterator[bytes]:
        if format == "csv":
            yield (",".join(CSV_COLUMNS) + "\r\n").encode()
        async for page in audit.pages(raw_payload=format == "csv", **filters):
            yield _encode(page, format)

    media = "application/x-ndjson" if format == "jsonl" else "text/csv; charset=utf-8"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(rows(), media_type=media, headers={
        "content-disposition": f'attachment; filename="audit-{stamp}.{format}"'})


def _encode(page: list[AuditEvent], fmt: str) -> bytes:
    if fmt == "jsonl":
        return b"".join(orjson.dumps(r) + b"\n" for r in page)
    buf = io.StringIO()
    w = csv.writer(buf)
    for r in page:  # payload: the canonical JSON text as hashed, so the export can be re-verified
        w.writerow([r["seq"], r["ts"], r["actor"], r["action"], r["subject_type"], r["subject_id"],
                    r["payload"], r["prev_hash"], r["hash"]])
    return buf.getvalue().encode()


@router.get("/verify", response_class=FastJSONResponse,
            summary="Verify the audit chain: links, decision rows, signed checkpoints (truncation), expected head")
async def verify(audit: AuditDep, key: ReadKey, expect_head: str | None = Query(
        None, max_length=100, description="`SEQ:HASH` printed by `studio audit anchor` and recorded elsewhere: "
        "not ok unless the event at SEQ still has that hash")) -> Any:
    return FastJSONResponse(await audit.verify(expect_head))
