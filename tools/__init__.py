"""Tools: the one interface through which the graph and the LLM agents call models, SLMs, the router and audit."""
