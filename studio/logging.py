"""Logging set-up: one line per record, no secrets (settings never log the LLM key)."""

from __future__ import annotations

import logging
import warnings


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("cmdstanpy", "prophet", "httpx", "httpcore", "httpx2", "openai", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("cmdstanpy").setLevel(logging.ERROR)
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)  # "plotly missing" is not our concern
    warnings.filterwarnings("ignore", module="sklearn.utils.parallel")
