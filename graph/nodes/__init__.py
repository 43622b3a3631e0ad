"""Nodes of the decision graph: prepare, fan_out, route, combine, govern, persist."""
