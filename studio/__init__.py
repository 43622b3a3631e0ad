"""Gateway ML Studio: the composition root, the services and the CLI."""

from core import PROJECT_ROOT, __version__

__all__ = ["PROJECT_ROOT", "__version__"]
