"""Pickle-free artifact formats (skops, XGBoost UBJ, safetensors, JSON) and sha256 helpers."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ArtifactIntegrityError

# Types a skops file may contain beyond skops' own default-trusted set. Anything else is refused.
SKOPS_TRUSTED = frozenset({
    "sklearn.tree._tree.Tree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
})


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_skops(obj: Any, path: Path) -> None:
    import skops.io as sio

    sio.dump(obj, path)


def load_skops(path: Path) -> Any:
    import skops.io as sio

    untrusted = sio.get_untrusted_types(file=path)
    refused = sorted(set(untrusted) - SKOPS_TRUSTED)
    if refused:
        raise ArtifactIntegrityError(f"{path.name}: refusing untrusted types {refused}")
    return sio.load(path, trusted=list(untrusted))


def save_xgb(booster: Any, path: Path) -> None:
    booster.save_model(str(path))


def load_xgb(path: Path) -> Any:
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(str(path))
    return booster


def save_tensors(state_dict: dict[str, Any], path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().cpu() for k, v in state_dict.items()}, str(path))


def load_tensors(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(path))


def save_json(data: Any, path: Path) -> None:
    path.write_text(json.dumps(data, default=_json_default, sort_keys=True))


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
