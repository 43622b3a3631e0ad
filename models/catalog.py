"""Lazy name -> class registry of the model lineup (imports a model's module only when it is asked for)."""

from __future__ import annotations

import importlib
from typing import Any

MODEL_CLASSES: dict[str, str] = {
    "logreg": "models.classifiers:LogisticRegressionModel",
    "random_forest": "models.classifiers:RandomForestModel",
    "xgboost": "models.classifiers:XGBoostModel",
    "isolation_forest": "models.detectors.isolation_forest:IsolationForestModel",
    "lof": "models.detectors.lof:LocalOutlierFactorModel",
    "ocsvm": "models.detectors.ocsvm:OneClassSVMModel",
    "cusum": "models.detectors.cusum:CusumModel",
    "lstm_ae": "models.detectors.lstm_ae:LstmAutoencoderModel",
    "context_novelty": "models.detectors.context_novelty:ContextNoveltyModel",
    "novel_level": "models.detectors.novel_level:NovelLevelModel",
    "arima": "models.forecasters.arima:ArimaModel",
    "ets": "models.forecasters.ets:EtsModel",
    "prophet": "models.forecasters.prophet:ProphetModel",
    "autoreg": "models.forecasters.autoreg:AutoRegModel",
    "seasonal_naive": "models.forecasters.seasonal_naive:SeasonalNaiveModel",
    "lstm_forecaster": "models.forecasters.lstm:LstmForecasterModel",
    "xgb_stack": "models.meta:StackingMetaClassifier",
}


def model_class(name: str) -> Any:
    """The class registered under name; raises KeyError with the known names otherwise."""
    try:
        target = MODEL_CLASSES[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(sorted(MODEL_CLASSES))}") from None
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def create(name: str, params: dict[str, Any] | None = None) -> Any:
    return model_class(name)(**(params or {}))
