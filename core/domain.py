"""The domain objects every layer shares: a decision and its parts (model outputs, the router's choice, rules
fired, the governor's ruling, the explanation), an alert and an audit event.

They are TypedDicts: the type checker (`make lint`: mypy) knows every key and its type at every layer, while at
run time they stay the plain dicts the hot path builds, serializes with orjson and writes, so typing them costs
the decision path nothing (bench.decisions, docs/architecture.md). `api/schemas.py`'s DecisionOut is the public
view of a Decision for OpenAPI."""

from typing import Any, NotRequired, TypedDict


class ModelOutput(TypedDict):
    """One model's part of a decision (graph/table.py)."""

    name: str
    family: str
    version: str | None
    status: str  # ok | warming_up | failed | timeout
    latency_ms: float
    score: float | None  # calibrated 0..1 (None: the model did not answer for this event)
    raw: float | None
    ready: bool
    error: NotRequired[str | None]
    detail: NotRequired[dict[str, Any]]


class RouterChoice(TypedDict):
    """The contextual bandit's choice for one event (graph/nodes/route.py), with the models it trusted."""

    arm: str
    propensity: float
    explored: bool
    exploration_allowed: bool
    ucb: dict[str, float]
    context: list[float]
    router_version: str
    trusted: NotRequired[list[str]]  # the models the arm trusted (set when the score is combined)


class Signal(TypedDict):
    """What an SLM saw for one event: a quantity and the limit it was held against (math), a baseline or a
    watch-list hit (sql), or a rule that held (policy)."""

    slm: str  # math | sql | policy
    name: str
    value: Any
    fired: bool
    limit: NotRequired[Any]
    std: NotRequired[float]
    source: NotRequired[str]
    values: NotRequired[dict[str, Any]]
    hard: NotRequired[bool]
    matches: NotRequired[list[dict[str, Any]]]  # the watch-list entries that matched


class RuleFired(TypedDict):
    """A rule of the profile's pack that held for the event (policies/slm/policy.py)."""

    rule: str
    action: str
    min_severity: int
    hard: bool
    values: dict[str, Any]
    description: str


class GovernorRuling(TypedDict):
    """The deterministic governor's last word (policies/governor.py)."""

    action: str  # none | watch | alert | critical | review
    severity: int
    label: str
    actions: list[dict[str, Any]]  # each rule that acted: {rule, ...}
    ask_overseer: bool
    overseer_reasons: list[str]
    hard_floor: str


class Explanation(TypedDict, total=False):
    """A decision's explanation: the template at first, the overseer's once its job completes."""

    status: str  # template | pending | ready | failed
    provider: str
    text: str
    notice: str | None
    href: str
    model: str | None
    verdict: dict[str, Any] | None
    cited_models: list[str]
    checks: list[dict[str, Any]]
    governor_overrode_llm: bool
    prompt_versions: dict[str, str]
    usage: dict[str, Any]
    error: str | None
    completed_at: str | None


class Decision(TypedDict):
    """A decision: what the service answered, and everything needed to audit and recompute it."""

    id: str
    created_at: str
    profile: str
    stream: str | None
    event_ts: float | None
    request_id: str | None
    batch_id: str
    label: str
    severity: int
    score: float
    action: str
    disagreement: float
    inputs: dict[str, Any]  # the event as received: profile, stream, timestamp, value, features, context
    models: list[ModelOutput]
    router: RouterChoice
    combine: dict[str, Any]  # how the score was combined: {method, alarm?}
    quantities: dict[str, Any]
    signals: list[Signal]
    rules: list[RuleFired]
    rule_errors: list[dict[str, Any]]
    governor: GovernorRuling
    model_versions: dict[str, str]
    replay: dict[str, Any]  # the exact model inputs, so the batch can be recomputed (studio/decision_replay.py)
    explanation: Explanation
    content_sha256: NotRequired[str]  # set on a decision read back from its row


class Alert(TypedDict):
    """An alert as stored (store/tables.py AlertRow): opened or joined by alerting decisions with one dedup key."""

    id: str
    dedup_key: str
    profile: str
    stream: str | None
    entity: str | None
    rule: str
    state: str  # open | acknowledged | resolved
    resolution: str | None  # confirmed | dismissed | duplicate
    action: str
    severity: int
    first_decision_id: str
    last_decision_id: str
    decision_count: int
    opened_at: str
    last_seen_at: str
    updated_at: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    assignee: str | None
    snoozed_until: str | None
    snoozed_severity: int | None
    escalations: int
    resolved_at: str | None
    resolved_by: str | None
    duplicate_of: str | None
    review_status: str  # pending | triaging | awaiting_review | triaged | applying | done
    review_claimed_at: str | None
    approval_required: bool | None
    triage: dict[str, Any] | None


class AlertDetail(Alert):
    """An alert with its latest decisions (summaries) and its comments."""

    decisions: list[dict[str, Any]]
    comments: list[dict[str, Any]]


class AuditEvent(TypedDict):
    """One event of the hash-chained audit trail, as auditors read it."""

    seq: int
    ts: str
    actor: str
    action: str
    subject_type: str
    subject_id: str
    payload: Any  # the event's JSON (its canonical text where an export asks for the raw payload)
    prev_hash: str
    hash: str
