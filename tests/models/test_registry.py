"""The registry: manifests with sha256 of every file, tampering refused at load, the previous version keeps
serving, activations and registrations audited."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ArtifactIntegrityError
from models.bundle import load_bundle
from models.catalog import create
from models.registry import ModelRegistry
from models.serialization import load_json
from store import audit_verify
from store.engine import init_db, make_engine
from tests.models.conftest import PROFILES


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    eng = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    init_db(eng)
    return ModelRegistry(tmp_path / "models", eng)


def test_manifest_lists_every_file_with_its_sha256(registry: ModelRegistry, credit_small) -> None:  # type: ignore[no-untyped-def]
    model = create("random_forest", {"n_estimators": 10}).fit(credit_small)
    version = registry.publish("credit", model, data_sha256="d" * 64, metrics=model.metrics_, actor="t")
    assert version == "v1"
    directory = registry.root / "credit" / "random_forest" / "v1"
    manifest = load_json(directory / "manifest.json")
    assert set(manifest["files"]) == {"estimator.skops", "meta.json"}
    assert manifest["format"] == "skops" and manifest["training_data_sha256"] == "d" * 64
    assert manifest["metrics"]["auc"] > 0.5 and manifest["code_version"] and manifest["created_at"]
    assert not list(directory.glob("*.pkl"))
    loaded = registry.load("credit", "random_forest", "v1")
    assert loaded.version == "v1"


@pytest.mark.parametrize("target", ["estimator.skops", "meta.json", "manifest.json"])
def test_tampered_artifact_is_refused(registry: ModelRegistry, credit_small, target: str) -> None:  # type: ignore[no-untyped-def]
    model = create("logreg").fit(credit_small)
    registry.publish("credit", model, data_sha256="x", metrics={}, actor="t")
    path = registry.root / "credit" / "logreg" / "v1" / target
    path.write_bytes(path.read_bytes() + b" ")
    with pytest.raises(ArtifactIntegrityError) as err:
        registry.load("credit", "logreg", "v1")
    assert "logreg@v1" in err.value.message


def test_previous_version_keeps_serving_when_the_new_one_is_tampered(registry: ModelRegistry, credit_small) -> None:  # type: ignore[no-untyped-def]
    from models.pipeline import FeaturePipeline

    profile = PROFILES["credit"]
    pipe = FeaturePipeline(credit_small.feature_names, {}, [], ["logreg"])
    for m in (pipe, create("logreg").fit(credit_small)):
        v = registry.publish("credit", m, data_sha256="x", metrics={}, actor="t")
        registry.activate("credit", m.name, v, actor="t", reason="first")
    first = load_bundle(profile, registry)
    assert first.versions["logreg"] == "v1"
    v2 = registry.publish("credit", create("logreg", {"C": 0.1}).fit(credit_small), data_sha256="y", metrics={},
                          actor="t")
    registry.activate("credit", "logreg", v2, actor="t", reason="second")
    weights = registry.root / "credit" / "logreg" / v2 / "estimator.skops"
    weights.write_bytes(b"not a model")
    second = load_bundle(profile, registry, previous=first)
    assert second.versions["logreg"] == "v1" and second.models["logreg"] is first.models["logreg"]
    assert "altered" in second.failures["logreg"]


def test_activation_refuses_a_tampered_version_and_everything_is_audited(registry: ModelRegistry, credit_small) -> None:  # type: ignore[no-untyped-def]
    v = registry.publish("credit", create("logreg").fit(credit_small), data_sha256="x", metrics={}, actor="alice")
    (registry.root / "credit" / "logreg" / v / "meta.json").write_text("{}")
    with pytest.raises(ArtifactIntegrityError):
        registry.activate("credit", "logreg", v, actor="alice", reason="x")
    assert registry.active("credit") == {}
    from sqlalchemy import select

    from store.tables import AuditEventRow

    with registry.engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(AuditEventRow.__table__))]  # type: ignore[attr-defined]
    assert actions == ["model.registered"]
    assert audit_verify.verify(registry.engine)["ok"]


def test_a_leftover_directory_is_never_reused_and_is_quarantined(registry: ModelRegistry, credit_small) -> None:  # type: ignore[no-untyped-def]
    """What a publish killed before it was recorded leaves (`v1`, a `.v2.tmp-*`): the next publish goes above
    both, and recover() moves them to .quarantine/ and audits it."""
    model = create("logreg").fit(credit_small)
    base = registry.root / "credit" / "logreg"
    (base / "v1").mkdir(parents=True)
    (base / "v1" / "manifest.json").write_text("{}")  # not empty: os.replace onto it was Errno 39
    (base / ".v2.tmp-0a1b2c3d").mkdir()
    assert registry.publish("credit", model, data_sha256="x", metrics={}, actor="t") == "v3"
    moved = registry.recover("credit", actor="t")
    assert [(m["entry"], m["reason"]) for m in moved] == [(".v2.tmp-0a1b2c3d", "unfinished write"),
                                                         ("v1", "not recorded in the registry")]
    assert sorted(p.name for p in base.iterdir()) == ["v3"]
    assert registry.publish("credit", model, data_sha256="x", metrics={}, actor="t") == "v4"  # v1, v2 stay unused
    assert registry.recover(actor="t") == []
    assert len(list((registry.root / ".quarantine" / "credit" / "logreg").iterdir())) == 2
    registry.activate_many("credit", {"logreg": "v4"}, actor="t", reason="x")
    assert registry.load("credit", "logreg", "v4").version == "v4"
    from sqlalchemy import select

    from store.tables import AuditEventRow

    with registry.engine.connect() as conn:
        actions = [r.action for r in conn.execute(select(AuditEventRow.__table__))]  # type: ignore[attr-defined]
    assert actions.count("model.quarantined") == 2 and audit_verify.verify(registry.engine)["ok"]


def test_activate_many_is_all_or_nothing(registry: ModelRegistry, credit_small) -> None:  # type: ignore[no-untyped-def]
    good = registry.publish("credit", create("logreg").fit(credit_small), data_sha256="x", metrics={}, actor="t")
    bad = registry.publish("credit", create("logreg", {"C": 0.1}).fit(credit_small), data_sha256="x", metrics={},
                           actor="t")
    rf = registry.publish("credit", create("random_forest", {"n_estimators": 5}).fit(credit_small),
                          data_sha256="x", metrics={}, actor="t")
    (registry.root / "credit" / "random_forest" / rf / "meta.json").write_text("{}")
    with pytest.raises(ArtifactIntegrityError):
        registry.activate_many("credit", {"logreg": good, "random_forest": rf}, actor="t", reason="x")
    assert registry.active("credit") == {}
    assert registry.activate_many("credit", {"logreg": bad}, actor="t", reason="x") == {"logreg": None}
