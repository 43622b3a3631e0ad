"""Gateway ML Studio: settings, composition root, CLI and shared plumbing."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
__version__ = "0.1.0"
