"""The bottom layer: settings, profiles, domain errors, the code version and test pause points. It imports
nothing of ours; every other package may import it (docs/architecture.md, the import-linter contracts in
pyproject.toml)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
__version__ = "0.1.0"
