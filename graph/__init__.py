"""LangGraph state machines: decisions, explanations, alert review and incident chat."""
