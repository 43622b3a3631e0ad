"""Persistence: engine and sessions, tables, the audit chain, the job queue and repositories."""
