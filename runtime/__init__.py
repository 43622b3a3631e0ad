"""The decision loop without LangGraph: profile runtimes, stream state and its fit process, micro-batching, the runner."""
