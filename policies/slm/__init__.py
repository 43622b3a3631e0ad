"""Scoring Logic Modules: deterministic SQL look-ups, math checks and declarative policy rules."""
