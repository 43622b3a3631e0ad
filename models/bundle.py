"""The active, verified models of one profile, loaded together and swapped as one unit on reload."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.errors import ModelUnavailable
from core.profiles import Profile
from models.registry import ModelRegistry


@dataclass
class ModelBundle:
    profile: str
    models: dict[str, Any]  # base models in lineup order
    meta: Any | None
    pipeline: Any
    versions: dict[str, str]
    failures: dict[str, str] = field(default_factory=dict)

    def version_of(self, name: str) -> str | None:
        return self.versions.get(name)


def load_bundle(profile: Profile, registry: ModelRegistry, *, overrides: dict[str, str] | None = None,
                previous: ModelBundle | None = None) -> ModelBundle:
    """Load the active version of every model; one that fails verification keeps the previous one serving."""
    active = dict(registry.active(profile.name))
    active.update(overrides or {})
    if "pipeline" not in active:
        raise ModelUnavailable(f"profile {profile.name!r} has no trained models; run `studio train --profile "
                               f"{profile.name}`")
    loaded: dict[str, Any] = {}
    versions: dict[str, str] = {}
    failures: dict[str, str] = {}
    wanted = ["pipeline", *profile.models.all()] + ([profile.models.meta] if profile.models.meta else [])
    for name in wanted:
        version = active.get(name)
        if version is None:
            failures[name] = "no active version"
            continue
        try:
            loaded[name] = registry.load(profile.name, name, version)
            versions[name] = version
        except Exception as exc:  # integrity or load error: keep what served before
            failures[name] = str(exc)
            if previous is not None and name in (previous.models | {"pipeline": previous.pipeline}):
                loaded[name] = previous.pipeline if name == "pipeline" else previous.models[name]
                versions[name] = previous.versions[name]
            elif previous is not None and previous.meta is not None and name == previous.meta.name:
                loaded[name] = previous.meta
                versions[name] = previous.versions[name]
    if "pipeline" not in loaded:
        raise ModelUnavailable(f"profile {profile.name!r}: feature pipeline unavailable: {failures.get('pipeline')}")
    base = {n: loaded[n] for n in profile.models.all() if n in loaded}
    meta = loaded.get(profile.models.meta) if profile.models.meta else None
    return ModelBundle(profile=profile.name, models=base, meta=meta, pipeline=loaded["pipeline"],
                       versions=versions, failures=failures)
