"""Deterministic policy code: expression evaluator, rule packs, SLMs, governor, LLM-output validators."""
